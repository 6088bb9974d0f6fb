package httpsession_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
	"github.com/typedstore/typedstore/internal/redistest"
)

// nodeLifeSession is nodeSession with the lifetime.
type nodeLifeSession struct {
	typedstore.Cookie   `json:"cookie"`
	typedstore.Lifetime `json:"lifetime"`
	Counter             int    `json:"counter,omitempty"`
	Name                string `json:"name,omitempty"`
}

// A session with a lifetime, created in Go, then touched and saved by the
// Express app (whose touches extend it in Redis past the Go side's absolute
// deadline, since connect-redis knows nothing of it) keeps its start through
// the Express save, and still ends at its absolute deadline when Go loads
// it: Go deletes it and says why.
func TestInteropNodeLifetime(t *testing.T) {
	redistest.Heavy(t)
	const lifetime = 3 * time.Second
	addr := redistest.Addr(t)
	prefix := redistest.UniquePrefix(t)
	node := startNode(t, addr, prefix, "MAX_AGE_MS=60000")

	client := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { client.Close() })
	store, err := typedstore.New(client, typedstore.Options[nodeLifeSession]{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Clear(context.Background()) })
	m, err := httpsession.New(store, httpsession.Options{Secrets: []string{secret}, MaxAge: time.Minute, Lifetime: lifetime})
	if err != nil {
		t.Fatal(err)
	}
	var expired httpsession.ExpiryReason
	goSrv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		if r.URL.Path == "/visit" {
			s.Data.Counter++
			s.Data.Name = "go"
		}
		expired = s.Expired()
		var v nodeView
		v.ID = s.ID()
		v.Session.Counter, v.Session.Name = s.Data.Counter, s.Data.Name
		json.NewEncoder(w).Encode(v)
	})))
	t.Cleanup(goSrv.Close)
	started := func(id string) int64 {
		t.Helper()
		raw, err := client.Get(context.Background(), prefix+id).Result()
		if err != nil {
			t.Fatalf("GET %s: %v", id, err)
		}
		var v struct {
			Lifetime struct {
				StartedAt int64 `json:"startedAt"`
			} `json:"lifetime"`
		}
		if err := json.Unmarshal([]byte(raw), &v); err != nil || v.Lifetime.StartedAt == 0 {
			t.Fatalf("stored %s: no lifetime.startedAt (%v)", raw, err)
		}
		return v.Lifetime.StartedAt
	}

	v, c, _ := getView(t, goSrv.URL, "/visit", nil)
	if c == nil || v.Session.Counter != 1 {
		t.Fatalf("Go /visit: %+v, cookie %v", v, c)
	}
	id := v.ID
	start := started(id)
	deadline := time.UnixMilli(start).Add(lifetime)
	if ttl := client.PTTL(context.Background(), prefix+id).Val(); ttl > lifetime {
		t.Errorf("Go's time to live %v; want at most the lifetime %v", ttl, lifetime)
	}

	// Express saves and touches it.
	if nv, _, _ := getView(t, node.url, "/visit", c); nv.ID != id || nv.Session.Counter != 2 {
		t.Fatalf("Node /visit: %+v; want the Go session, counter 2", nv)
	}
	if nv, _, _ := getView(t, node.url, "/session", c); nv.ID != id {
		t.Fatalf("Node /session: %+v; want the Go session", nv)
	}
	if got := started(id); got != start {
		t.Errorf("startedAt after the Express save %d; want %d", got, start)
	}
	if ttl := client.PTTL(context.Background(), prefix+id).Val(); ttl <= lifetime {
		t.Fatalf("after Node's touch the time to live is %v; the test needs Express to extend it past the lifetime", ttl)
	}
	// Before the deadline Go still loads it, Node's change included.
	if gv, _, _ := getView(t, goSrv.URL, "/session", c); gv.ID != id || gv.Session.Counter != 2 || gv.Session.Name != "node" {
		t.Fatalf("Go /session before the deadline: %+v; want the session as Node saved it", gv)
	}

	// Go's read brought the time to live back to the deadline; Express
	// extends it again.
	// (Redis counts whole milliseconds, rounded up, and the clock moved
	// between the two readings.)
	if ttl, left := client.PTTL(context.Background(), prefix+id).Val(), time.Until(deadline); ttl > left+10*time.Millisecond {
		t.Errorf("after Go's read the time to live is %v; want at most the %v left of the lifetime", ttl, left)
	}
	getView(t, node.url, "/session", c)

	// At the deadline, with the session still in Redis, Go ends it.
	time.Sleep(time.Until(deadline))
	gv, _, _ := getView(t, goSrv.URL, "/session", c)
	if gv.ID == id || gv.Session.Counter != 0 || expired != httpsession.ExpiredLifetime {
		t.Errorf("Go /session after the deadline: %+v, expired %q; want a new session, expired %q", gv, expired, httpsession.ExpiredLifetime)
	}
	if n := client.Exists(context.Background(), prefix+id).Val(); n != 0 {
		t.Error("the session past its deadline is still in Redis")
	}
}
