package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/typedstore/typedstore/internal/redistest"
)

// Every command on a real cluster of three masters, and sessions moved
// from the cluster to a single server and back.
func TestCluster(t *testing.T) {
	redistest.Heavy(t)
	cl := redistest.StartCluster(t, 3, 0)
	addrs := cl.Addrs()
	url := "redis://" + addrs[0] + "?addr=" + strings.Join(addrs[1:], "&addr=")
	c := cl.Client(t, nil)
	ctx := context.Background()
	const total = 3000
	seed(t, c, "sess:", total, 10, time.Hour)

	if got := strings.TrimSpace(ok(t, url, "count", "-batch", "100").stdout); got != fmt.Sprint(total) {
		t.Errorf("count on the cluster = %s; want %d", got, total)
	}
	var s stats
	if err := json.Unmarshal([]byte(ok(t, url, "stats", "-json", "-owner-path", "passport.user").stdout), &s); err != nil {
		t.Fatal(err)
	}
	var sum int64
	for addr, n := range s.Masters {
		if n < total/10 {
			t.Errorf("master %s holds %d of %d sessions", addr, n, total)
		}
		sum += n
	}
	if len(s.Masters) != 3 || sum != total || s.Sessions != total || len(s.Owners) != 10 || s.Owners[0].Sessions != total/10 {
		t.Errorf("stats on the cluster = %d sessions over %v, owners %v", s.Sessions, s.Masters, s.Owners)
	}
	if text := ok(t, url, "stats").stdout; !strings.Contains(text, "masters\n") {
		t.Errorf("stats on a cluster shows no spread over masters:\n%s", text)
	}
	if show := ok(t, url, "show", "-json", "id0000007").stdout; !strings.Contains(show, `"user":"u7"`) {
		t.Errorf("show on the cluster = %q", show)
	}
	ok(t, url, "rm", "-yes", "id0000000", "id0000001", "id0000002")
	if n := c.Exists(ctx, "sess:id0000000").Val() + c.Exists(ctx, "sess:id0000001").Val() + c.Exists(ctx, "sess:id0000002").Val(); n != 0 {
		t.Errorf("rm on the cluster left %d", n)
	}

	// Owned sessions with an index, revoked through it.
	st := ownedStore(t, c, "app:")
	for i := range 40 {
		v := owned{}
		v.Passport.User = fmt.Sprint("user", i%4)
		if err := st.Set(ctx, fmt.Sprint("a", i), v); err != nil {
			t.Fatal(err)
		}
	}
	r := ok(t, url, "revoke", "-prefix", "app:", "-owner-path", "passport.user", "-owner", "user1", "-yes")
	if r.stdout != "deleted 10 sessions\n" || strings.Contains(r.stderr, "warning") {
		t.Errorf("revoke through the index on the cluster = %q, %q", r.stdout, r.stderr)
	}
	if n, _ := st.CountOwned(ctx, "user1"); n != 0 {
		t.Errorf("user1 has %d sessions after revoke", n)
	}

	// Cluster → single server → cluster, with times to live.
	file := filepath.Join(t.TempDir(), "cluster.jsonl")
	ok(t, url, "export", "-o", file)
	single, sc := server(t)
	if got := ok(t, single, "import", file).stdout; !strings.Contains(got, fmt.Sprint(total-3, " sessions written")) {
		t.Fatalf("import into a single server = %q", got)
	}
	back := filepath.Join(t.TempDir(), "single.jsonl")
	ok(t, single, "export", "-o", back)
	if got := ok(t, url, "import", "-prefix", "moved:", "-owner-path", "passport.user", back).stdout; !strings.Contains(got, fmt.Sprint(total-3, " sessions written")) {
		t.Fatalf("import into the cluster = %q", got)
	}
	for i := 3; i < total; i += 97 {
		id := fmt.Sprintf("id%07d", i)
		orig, there, moved := c.Get(ctx, "sess:"+id).Val(), sc.Get(ctx, "sess:"+id).Val(), c.Get(ctx, "moved:"+id).Val()
		if orig == "" || there != orig || moved != orig {
			t.Fatalf("%s: %q on the cluster, %q on the server, %q moved back", id, orig, there, moved)
		}
		if a, b := c.PTTL(ctx, "sess:"+id).Val(), c.PTTL(ctx, "moved:"+id).Val(); a-b > time.Minute || b-a > time.Minute {
			t.Fatalf("%s: time to live %v, %v after two moves", id, a, b)
		}
	}
	if n := c.ZCard(ctx, "owner:moved:u5").Val(); n != total/10 {
		t.Errorf("the import into the cluster indexed %d of u5's sessions; want %d", n, total/10)
	}
	if r := ok(t, url, "migrate", "-prefix", "moved:", "-to", "1", "-apply", "-yes"); !strings.Contains(r.stdout, fmt.Sprint("migrated to version 1: ", total-3)) {
		t.Errorf("migrate on the cluster:\n%s", r.stdout)
	}
}
