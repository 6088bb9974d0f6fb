package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
)

// owned is a session type of an application that keeps an owner index.
type owned struct {
	typedstore.Cookie `json:"cookie"`
	Passport          struct {
		User string `json:"user"`
	} `json:"passport"`
}

func ownedStore(t *testing.T, c redis.UniversalClient, prefix string) *typedstore.Store[owned] {
	t.Helper()
	s, err := typedstore.New(c, typedstore.Options[owned]{
		Prefix: prefix, TTL: time.Hour,
		Owner: func(v owned) string { return v.Passport.User },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCountLsShow(t *testing.T) {
	url, c := server(t)
	ctx := context.Background()
	seed(t, c, "sess:", 30, 3, time.Hour)
	c.Set(ctx, "sess:forever", `{"n":1}`, 0)
	c.Set(ctx, "sess:big", `{"blob":"`+strings.Repeat("x", 5000)+`"}`, time.Minute)
	c.Set(ctx, "sess:old", `{"cookie":{"originalMaxAge":3600000,"expires":"`+time.Now().Add(-50*time.Minute).UTC().Format(time.RFC3339)+`"}}`, time.Hour)
	c.Set(ctx, "sess:started", fmt.Sprintf(`{"lifetime":{"startedAt":%d}}`, time.Now().Add(-3*time.Hour).UnixMilli()), time.Hour)
	c.HSet(ctx, "sess:ahash", "a", "b")
	c.Set(ctx, "other:x", "{}", 0)

	if got := strings.TrimSpace(ok(t, url, "count").stdout); got != "35" {
		t.Errorf("count = %s; want 35 (every key under sess:)", got)
	}
	if got := strings.TrimSpace(ok(t, url, "count", "-prefix", "other:").stdout); got != "1" {
		t.Errorf("count -prefix other: = %s; want 1", got)
	}

	rows := func(args ...string) map[string]lsRow {
		t.Helper()
		out := map[string]lsRow{}
		for _, line := range strings.Split(strings.TrimSpace(ok(t, url, append([]string{"ls", "-json"}, args...)...).stdout), "\n") {
			if line == "" {
				continue
			}
			var r lsRow
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("ls -json line %q: %v", line, err)
			}
			out[r.ID] = r
		}
		return out
	}
	all := rows("-owner-path", "passport.user")
	if len(all) != 34 {
		t.Errorf("ls -json listed %d sessions; want 34 (the hash is not a session)", len(all))
	}
	if r := all["id0000004"]; r.Owner != "u1" || r.TTL <= 59*60*1000 || r.TTL > 3600*1000 || r.Size != len(sessionJSON(4, 3, time.Hour)) {
		t.Errorf("ls row of id0000004 = %+v; want owner u1, ttl about 1h, size %d", r, len(sessionJSON(4, 3, time.Hour)))
	}
	if r := all["forever"]; r.TTL != -1 || r.Owner != "" {
		t.Errorf("ls row of a session without expiry = %+v; want ttl -1, no owner", r)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-owner-path", "passport.user", "-owner", "u2", "-where", "cart.0=5"}, []string{"id0000005"}},
		{[]string{"-where", "passport.user=u0", "-where", "cookie.path=/", "-larger-than", "150"}, nil},
		{[]string{"-larger-than", "4K"}, []string{"big"}},
		{[]string{"-older-than", "40m"}, []string{"old", "started"}},
		{[]string{"-older-than", "2h"}, []string{"started"}},
		{[]string{"-where", "n=1"}, []string{"forever"}},
	} {
		got := slices.Sorted(func(yield func(string) bool) {
			for id := range rows(tc.args...) {
				if !yield(id) {
					return
				}
			}
		})
		if !slices.Equal(got, tc.want) {
			t.Errorf("ls %s = %q; want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}
	if n := len(rows("-limit", "7")); n != 7 {
		t.Errorf("ls -limit 7 listed %d", n)
	}
	text := ok(t, url, "ls", "-owner-path", "passport.user", "-owner", "u0").stdout
	if lines := strings.Split(strings.TrimSpace(text), "\n"); len(lines) != 11 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "OWNER") {
		t.Errorf("ls as text = %q; want a header and 10 rows", text)
	}

	show := ok(t, url, "show", "id0000004").stdout
	if !strings.HasPrefix(show, "ttl:  59m") && !strings.HasPrefix(show, "ttl:  1h0m0s") {
		t.Errorf("show begins %q; want its time to live", show[:min(20, len(show))])
	}
	if !strings.Contains(show, "\"passport\": {\n    \"user\": \"u1\"") {
		t.Errorf("show = %q; want the JSON indented", show)
	}
	line := strings.TrimSpace(ok(t, url, "show", "-json", "forever").stdout)
	if line != `{"id":"forever","ttl":-1,"value":{"n":1}}` {
		t.Errorf("show -json = %s", line)
	}
	fails(t, url, 1, "no session under that id", []string{"nosuchsecretid"}, "show", "nosuchsecretid")
	fails(t, url, 2, "show takes one session id", nil, "show")
}

func TestRmAndRevoke(t *testing.T) {
	url, c := server(t)
	ctx := context.Background()
	s := ownedStore(t, c, "sess:")
	for i := range 6 {
		v := owned{}
		v.Passport.User = []string{"alice", "bob"}[i%2]
		if err := s.Set(ctx, fmt.Sprint("s", i), v); err != nil {
			t.Fatal(err)
		}
	}
	seed(t, c, "sess:", 4, 2, time.Hour) // u0 and u1, written without an index

	fails(t, url, 2, "refused without -yes", nil, "rm", "s0", "s1", "nope")
	if n := c.Exists(ctx, "sess:s0", "sess:s1").Val(); n != 2 {
		t.Fatalf("a refused rm deleted sessions: %d of 2 left", n)
	}
	if got := ok(t, url, "rm", "-dry-run", "s0", "s1", "nope").stdout; !strings.Contains(got, "would delete 2 sessions (1 of the ids given have none)") {
		t.Errorf("rm -dry-run = %q", got)
	}
	if got := ok(t, url, "rm", "-yes", "s0", "s1", "nope").stdout; !strings.Contains(got, "deleted 2 sessions") {
		t.Errorf("rm -yes = %q", got)
	}
	if n := c.Exists(ctx, "sess:s0", "sess:s1").Val(); n != 0 {
		t.Errorf("rm -yes left %d sessions", n)
	}

	// alice has an index: s2, s4; the revoke keeps s4.
	fails(t, url, 2, "revoke needs -owner-path", nil, "revoke", "-owner", "alice", "-yes")
	fails(t, url, 2, "refused without -yes", nil, "revoke", "-owner-path", "passport.user", "-owner", "alice")
	if got := ok(t, url, "revoke", "-owner-path", "passport.user", "-owner", "alice", "-keep", "s4", "-dry-run").stdout; got != "would delete 1 sessions\n" {
		t.Errorf("revoke -dry-run = %q", got)
	}
	r := ok(t, url, "revoke", "-owner-path", "passport.user", "-owner", "alice", "-keep", "s4", "-yes")
	if r.stdout != "deleted 1 sessions\n" || strings.Contains(r.stderr, "warning") {
		t.Errorf("revoke through the index = %q, %q; want 1 deleted, no warning", r.stdout, r.stderr)
	}
	if c.Exists(ctx, "sess:s2").Val() != 0 || c.Exists(ctx, "sess:s4").Val() != 1 {
		t.Error("revoke through the index did not delete s2 and keep s4")
	}
	// u1 has no index: a scan, with a warning.
	r = ok(t, url, "revoke", "-owner-path", "passport.user", "-owner", "u1", "-yes")
	if r.stdout != "deleted 2 sessions\n" || !strings.Contains(r.stderr, "warning: no owner index") {
		t.Errorf("revoke by scan = %q, %q; want 2 deleted and a warning", r.stdout, r.stderr)
	}
	if n := c.Exists(ctx, "sess:id0000001", "sess:id0000003").Val(); n != 0 {
		t.Errorf("revoke by scan left %d of u1's sessions", n)
	}
	if n := c.Exists(ctx, "sess:id0000000", "sess:id0000002", "sess:s3", "sess:s5").Val(); n != 4 {
		t.Errorf("revoke deleted sessions of other owners: %d of 4 left", n)
	}
}

func TestStats(t *testing.T) {
	url, c := server(t)
	ctx := context.Background()
	seed(t, c, "sess:", 100, 7, 2*time.Hour)
	c.Set(ctx, "sess:anon", `{"cookie":{}}`, 30*time.Second)
	c.Set(ctx, "sess:forever", `{"passport":{"user":"u3"}}`, 0)
	c.HSet(ctx, "sess:h", "a", "b")
	var s stats
	out := ok(t, url, "stats", "-json", "-owner-path", "passport.user", "-top", "3").stdout
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("stats -json = %q: %v", out, err)
	}
	want := int64(0)
	for i := range 100 {
		want += int64(len(sessionJSON(i, 7, 2*time.Hour)))
	}
	want += int64(len(`{"cookie":{}}`) + len(`{"passport":{"user":"u3"}}`))
	if s.Sessions != 102 || s.Bytes != want || s.Other != 1 || s.Anonymous != 1 || !s.OwnersExact {
		t.Errorf("stats = %d sessions, %d bytes, %d others, %d anonymous, exact %v; want 102, %d, 1, 1, true", s.Sessions, s.Bytes, s.Other, s.Anonymous, s.OwnersExact, want)
	}
	// 100 sessions over 7 owners: u0 and u1 have 15 each, u3 15 with forever.
	wantOwners := []ownerCount{{"u0", 15}, {"u1", 15}, {"u3", 15}}
	if !slices.Equal(s.Owners, wantOwners) {
		t.Errorf("top owners = %v; want %v", s.Owners, wantOwners)
	}
	if got := []int64{s.TTL[0].Count, s.TTL[3].Count, s.TTL[len(s.TTL)-1].Count}; !slices.Equal(got, []int64{1, 100, 1}) {
		t.Errorf("ttl histogram (<1m, <24h, none) = %v; want [1 100 1]", got)
	}
	if s.Size[0].Count != 102 {
		t.Errorf("size histogram = %v; want all 102 under 256 B", s.Size)
	}
	text := ok(t, url, "stats", "-owner-path", "passport.user").stdout
	for _, want := range []string{"sessions                   102", "keys that are not strings  1", "time to live", "no expiry", "owners with most sessions (anonymous sessions: 1)"} {
		if !strings.Contains(text, want) {
			t.Errorf("stats text lacks %q:\n%s", want, text)
		}
	}
}

// Importing an export restores every session, byte for byte, with its time
// to live; sessions without one stay without one.
func TestExportImportRoundTrip(t *testing.T) {
	url, c := server(t)
	ctx := context.Background()
	seed(t, c, "sess:", 2500, 10, 3*time.Hour)
	odd := map[string]string{
		"sess:pretty":  "{\n  \"a\": 1\n}",
		"sess:gob":     "\x00\x01binary\xff",
		"sess:spaces":  `{ "a" : [ 1, 2 ] }`,
		"sess:unicode": `{"name":"Zoë \u2028 <b>"}`,
		"sess:<&>\"id": `{}`,
	}
	for k, v := range odd {
		c.Set(ctx, k, v, 0)
	}
	file := filepath.Join(t.TempDir(), "sessions.jsonl")
	r := ok(t, url, "export", "-o", file, "-batch", "100")
	if !strings.Contains(r.stderr, "exported 2505 sessions to "+file) {
		t.Errorf("export stderr = %q", r.stderr)
	}
	if got := ok(t, url, "import", "-prefix", "copy:", "-dry-run", file).stdout; !strings.Contains(got, "2505 sessions, every line valid; nothing written") {
		t.Errorf("import -dry-run = %q", got)
	}
	if n := c.Exists(ctx, "copy:id0000000", "copy:pretty").Val(); n != 0 {
		t.Fatalf("import -dry-run wrote %d sessions", n)
	}
	if got := ok(t, url, "import", "-prefix", "copy:", file).stdout; !strings.Contains(got, "2505 sessions written, 0 kept") {
		t.Errorf("import = %q", got)
	}
	for k, want := range odd {
		id := strings.TrimPrefix(k, "sess:")
		if got := c.Get(ctx, "copy:"+id).Val(); got != want {
			t.Errorf("import of %q = %q; want %q byte for byte", id, got, want)
		}
		if ttl := c.PTTL(ctx, "copy:"+id).Val(); ttl != -1 {
			t.Errorf("import of %q without expiry: PTTL %v; want none", id, ttl)
		}
	}
	for i := range 2500 {
		k := fmt.Sprintf("id%07d", i)
		orig, copied := c.Get(ctx, "sess:"+k).Val(), c.Get(ctx, "copy:"+k).Val()
		if orig != copied || orig == "" {
			t.Fatalf("import of %s = %q; want %q", k, copied, orig)
		}
		a, b := c.PTTL(ctx, "sess:"+k).Val(), c.PTTL(ctx, "copy:"+k).Val()
		if d := a - b; d > time.Minute || d < -time.Minute {
			t.Fatalf("%s: time to live %v after import, %v in the original; want it kept", k, b, a)
		}
	}
	// Again: everything exists, and is kept.
	if got := ok(t, url, "import", "-prefix", "copy:", file).stdout; !strings.Contains(got, "0 sessions written, 2505 kept") {
		t.Errorf("second import = %q", got)
	}
	fails(t, url, 2, "refused without -yes", nil, "import", "-prefix", "copy:", "-overwrite", file)
	c.Set(ctx, "copy:id0000001", "changed", 0)
	if got := ok(t, url, "import", "-prefix", "copy:", "-overwrite", "-yes", file).stdout; !strings.Contains(got, "2505 sessions written") {
		t.Errorf("import -overwrite = %q", got)
	}
	if got := c.Get(ctx, "copy:id0000001").Val(); got != c.Get(ctx, "sess:id0000001").Val() {
		t.Errorf("import -overwrite left %q", got)
	}
	// Through stdin, into an owner index.
	data, _ := os.ReadFile(file)
	r = cli(t, url, string(data), "import", "-prefix", "indexed:", "-owner-path", "passport.user", "-")
	if r.code != 0 {
		t.Fatalf("import - : %d %s", r.code, r.stderr)
	}
	if n := c.ZCard(ctx, "owner:indexed:u3").Val(); n != 250 {
		t.Errorf("import -owner-path indexed %d of u3's sessions; want 250", n)
	}
}

func TestImportRejectsBadLines(t *testing.T) {
	url, c := server(t)
	ctx := context.Background()
	dir := t.TempDir()
	good := `{"id":"a","ttl":60000,"value":{"n":1}}`
	for _, tc := range []struct {
		name, bad, want string
	}{
		{"not JSON", `{"id":"secretid1","ttl":5,value}`, "line 3: not a line of an export: invalid JSON"},
		{"empty line", ``, "line 3: not a line of an export: an empty line"},
		{"no id", `{"ttl":5,"value":{}}`, `line 3: no "id"`},
		{"no ttl", `{"id":"secretid1","value":{}}`, `line 3: no "ttl"`},
		{"zero ttl", `{"id":"secretid1","ttl":0,"value":{}}`, `line 3: "ttl" 0`},
		{"both", `{"id":"secretid1","ttl":5,"value":{},"bytes":"AA=="}`, `exactly one of "value" and "bytes"`},
		{"neither", `{"id":"secretid1","ttl":5}`, `exactly one of "value" and "bytes"`},
		{"unknown member", `{"id":"secretid1","ttl":5,"value":{},"tll":3}`, "not a line of an export"},
		{"bad base64", `{"id":"secretid1","ttl":5,"bytes":"!!"}`, "not a line of an export"},
		{"ttl a string", `{"id":"secretid1","ttl":"5","value":{}}`, "not a line of an export"},
		{"two values", `{"id":"secretid1","ttl":5,"value":{}} {}`, "more than one JSON value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".jsonl")
			body := good + "\n" + strings.Replace(good, `"a"`, `"b"`, 1) + "\n" + tc.bad + "\n" + strings.Replace(good, `"a"`, `"c"`, 1) + "\n"
			os.WriteFile(file, []byte(body), 0o600)
			prefix := "t" + strconv.Itoa(int(time.Now().UnixNano())) + ":"
			fails(t, url, 1, tc.want, []string{"secretid1"}, "import", "-prefix", prefix, file)
			if n := c.Exists(ctx, prefix+"a", prefix+"b", prefix+"c").Val(); n != 0 {
				t.Errorf("a file with a bad line imported %d sessions; want none", n)
			}
			// stdin is read once: the two lines before the bad one are written.
			r := cli(t, url, body, "import", "-prefix", prefix, "-")
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "2 sessions written") {
				t.Errorf("import - with a bad line 3: exit %d, %q; want 1, two written, and %q", r.code, r.stderr, tc.want)
			}
			if n := c.Exists(ctx, prefix+"a", prefix+"b", prefix+"c").Val(); n != 2 {
				t.Errorf("import - wrote %d of the lines around the bad one; want the 2 before it", n)
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	url, c := server(t)
	ctx := context.Background()
	seed(t, c, "sess:", 50, 5, time.Hour)
	c.Set(ctx, "sess:v2", `{"schemaVersion":2,"user":{"id":"x"}}`, time.Hour)
	c.Set(ctx, "sess:broken", `{"passport":`, time.Hour)
	before := c.Get(ctx, "sess:id0000003").Val()
	r := cli(t, url, "", "migrate", "-to", "2", "-rename", "passport.user=user.id", "-set", `user.role="member"`, "-delete", "passport")
	if r.code != 1 || !strings.Contains(r.stdout, "would migrate to version 2: 50") || !strings.Contains(r.stdout, "version 2: 1") || !strings.Contains(r.stdout, "cannot be migrated: 1") {
		t.Fatalf("migrate dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if c.Get(ctx, "sess:id0000003").Val() != before {
		t.Fatal("a dry run changed a session")
	}
	fails(t, url, 2, "refused without -yes", nil, "migrate", "-to", "2", "-apply")
	ttl := c.PTTL(ctx, "sess:id0000003").Val()
	r = cli(t, url, "", "migrate", "-to", "2", "-rename", "passport.user=user.id", "-set", `user.role="member"`, "-delete", "passport", "-apply", "-yes")
	if !strings.Contains(r.stdout, "migrated to version 2: 50") {
		t.Fatalf("migrate -apply:\n%s%s", r.stdout, r.stderr)
	}
	var got map[string]any
	json.Unmarshal([]byte(c.Get(ctx, "sess:id0000003").Val()), &got)
	user, _ := got["user"].(map[string]any)
	if got["schemaVersion"] != 2.0 || user["id"] != "u3" || user["role"] != "member" || got["passport"] != nil || got["cookie"] == nil {
		t.Errorf("migrated session = %v", got)
	}
	if after := c.PTTL(ctx, "sess:id0000003").Val(); after > ttl || ttl-after > time.Minute {
		t.Errorf("migrate changed the time to live from %v to %v", ttl, after)
	}
	r = cli(t, url, "", "migrate", "-to", "2", "-rename", "passport.user=user.id")
	if !strings.Contains(r.stdout, "version 2: 51") || !strings.Contains(r.stdout, "would migrate to version 2: 0") {
		t.Errorf("migrate after -apply:\n%s", r.stdout)
	}
	fails(t, url, 2, "migrate needs -to", nil, "migrate")
	fails(t, url, 2, "-set", nil, "migrate", "-to", "2", "-set", "a=notjson")
}

// The command sends no KEYS, FLUSHDB or FLUSHALL whatever it does, reports
// usage errors in one line with status 2, and never repeats a password.
func TestCommandsAreSafe(t *testing.T) {
	url, c := server(t)
	seed(t, c, "sess:", 20, 2, time.Hour)
	file := filepath.Join(t.TempDir(), "e.jsonl")
	for _, args := range [][]string{
		{"count"}, {"ls"}, {"show", "id0000001"}, {"stats", "-owner-path", "passport.user"},
		{"export", "-o", file}, {"import", "-prefix", "x:", file}, {"rm", "-yes", "id0000002"},
		{"revoke", "-owner-path", "passport.user", "-owner", "u1", "-yes"}, {"migrate", "-to", "1"},
	} {
		ok(t, url, args...)
	}
	calls := commandCalls(t, c)
	for _, cmd := range []string{"keys", "flushdb", "flushall"} {
		if calls[cmd] != 0 {
			t.Errorf("the commands sent %s %d times", cmd, calls[cmd])
		}
	}
	if calls["scan"] == 0 {
		t.Error("no SCAN was sent: the test does not see the commands")
	}
	fails(t, url, 2, `unknown command "frobnicate"`, nil, "frobnicate")
	fails(t, url, 2, "-batch 0", nil, "count", "-batch", "0")
	fails(t, url, 2, "invalid Redis URL", []string{"hunter2"}, "count", "-url", "redis://u:hunter2@[::1")
	r := fails(t, "redis://u:hunter2@127.0.0.1:1", 1, "", []string{"hunter2"}, "count")
	if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("an unreachable server gives %q; want one line", r.stderr)
	}
	if r := ok(t, url, "help", "export"); !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "-o file") {
		t.Errorf("help export = %q", r.stdout)
	}
	for _, c := range commands {
		if r := ok(t, url, c.name, "-h"); !strings.Contains(r.stderr, "Examples:\n\ttypedstore "+c.name) {
			t.Errorf("%s -h has no examples of itself:\n%s", c.name, r.stderr)
		}
	}
}

// readExport reads an export file, checking that every line is whole and
// valid, and returns the ids.
func readExport(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, _ := os.ReadFile(file)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("the export ends in the middle of a line: %q", data[max(0, len(data)-40):])
	}
	var ids []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		l, err := parseLine(sc.Bytes())
		if err != nil {
			t.Fatalf("line %d of the export: %v", n, err)
		}
		ids = append(ids, l.id)
	}
	return ids
}

// Elsewhere than on a terminal, a long command prints a line now and then,
// with the count, the rate and, when known, the time left.
func TestProgressLines(t *testing.T) {
	url, c := server(t)
	seed(t, c, "sess:", 20000, 10, time.Hour)
	r := ok(t, url, "export", "-o", os.DevNull, "-batch", "10", "-progress-every", "1ms")
	line := regexp.MustCompile(`(?m)^export: \d+ sessions, \d+/s, \d+% scanned, about \d+s left$`)
	if !line.MatchString(r.stderr) {
		t.Errorf("export -progress-every 1ms printed no progress line:\n%s", r.stderr)
	}
	if r := ok(t, url, "export", "-o", os.DevNull, "-batch", "10", "-progress-every", "1ms", "-progress", "none"); strings.Contains(r.stderr, "sessions,") {
		t.Errorf("-progress none printed progress:\n%s", r.stderr)
	}
}

// What a black-box review found: flags after ids, passwords in the help,
// multi-line usage errors, times to live past a Duration, ids that cannot
// be imported, repeated ids.
func TestOddInput(t *testing.T) {
	url, c := server(t)
	ctx := context.Background()
	c.Set(ctx, "sess:keep", "{}", 0)
	if r := ok(t, url, "rm", "-yes", "keep", "-dry-run"); !strings.Contains(r.stdout, "would delete 1") || c.Exists(ctx, "sess:keep").Val() != 1 {
		t.Errorf("rm ID -dry-run: %q; the session must stay", r.stdout)
	}
	if r := ok(t, url, "rm", "-dry-run", "keep", "keep"); !strings.Contains(r.stdout, "would delete 1 sessions (0 of") {
		t.Errorf("rm of a repeated id = %q; want it counted once", r.stdout)
	}
	secret := "redis://u:S3cretPW@" + strings.TrimPrefix(url, "redis://")
	for _, args := range [][]string{{"help", "count"}, {"count", "-h"}, {"count", "-bogus"}, {"count", "-batch", "abc"}} {
		r := cli(t, secret, "", args...)
		if strings.Contains(r.stdout+r.stderr, "S3cretPW") {
			t.Errorf("typedstore %s shows the password from $TYPEDSTORE_URL", strings.Join(args, " "))
		}
	}
	r := fails(t, url, 2, "flag provided but not defined: -bogus", nil, "count", "-bogus")
	if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("a bad flag gives %q; want one line", r.stderr)
	}
	fails(t, url, 2, "-batch 500000000: want 1 to 100000", nil, "ls", "-batch", "500000000")
	fails(t, url, 2, "-workers", nil, "import", "-workers", "10000000", "x")
	fails(t, url, 2, "-owner-path", nil, "ls", "-owner-path", "a..b")

	// A time to live past 292 years is exported as it is and refused by
	// import with its line; one just below goes through.
	c.Do(ctx, "SET", "long:a", "{}", "PX", "18446744073800")
	c.Do(ctx, "SET", "long:b", "{}", "PX", "9000000000000")
	c.Do(ctx, "SET", "long:\xff\xfe", "{}")
	c.Do(ctx, "SET", "long:", "{}")
	file := filepath.Join(t.TempDir(), "long.jsonl")
	r = ok(t, url, "export", "-prefix", "long:", "-o", file)
	if !strings.Contains(r.stderr, "2 keys under long: have an id that typedstore does not write") {
		t.Errorf("export of ids it cannot import: %q; want them counted", r.stderr)
	}
	data, _ := os.ReadFile(file)
	if !strings.Contains(string(data), `{"id":"a","ttl":184467440737`) || !strings.Contains(string(data), `{"id":"b","ttl":8999`) {
		t.Errorf("export of long times to live = %s", data)
	}
	fails(t, url, 1, `"ttl" 184467440`, nil, "import", "-prefix", "copy:", file)
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, `{"id":"b"`) {
			os.WriteFile(file, []byte(line+"\n"), 0o600)
		}
	}
	ok(t, url, "import", "-prefix", "copy:", file)
	if ttl := c.PTTL(ctx, "copy:b").Val(); ttl < 8000000000*time.Millisecond {
		t.Errorf("a time to live of 9e12 ms came back as %v", ttl)
	}

	// A repeated id: its first line wins, its last with -overwrite.
	var lines strings.Builder
	for i := range 50 {
		fmt.Fprintf(&lines, `{"id":"dd","ttl":-1,"value":{"v":%d}}`+"\n", i)
	}
	os.WriteFile(file, []byte(lines.String()), 0o600)
	for range 3 {
		c.Del(ctx, "dup:dd")
		if r := ok(t, url, "import", "-prefix", "dup:", file); !strings.Contains(r.stdout, "1 sessions written, 49 kept") || c.Get(ctx, "dup:dd").Val() != `{"v":0}` {
			t.Fatalf("import of a repeated id = %q, stored %s; want the first line", r.stdout, c.Get(ctx, "dup:dd").Val())
		}
		ok(t, url, "import", "-prefix", "dup:", "-overwrite", "-yes", file)
		if got := c.Get(ctx, "dup:dd").Val(); got != `{"v":49}` {
			t.Fatalf("import -overwrite of a repeated id stored %s; want the last line", got)
		}
	}
	os.WriteFile(file, []byte(`{"id":"x","ttl":-1,"value":{},"extra":1}`+"\n"), 0o600)
	fails(t, url, 1, "line 1: not a line of an export: an unknown member", nil, "import", file)
}

// ls prints an id that a terminal would act on, or that is not UTF-8,
// quoted, one row each; -json adds the bytes of an id that is not UTF-8.
func TestLsQuotesOddIDs(t *testing.T) {
	url, c := server(t)
	ctx := context.Background()
	for _, id := range []string{"tab\there", "new\nline", "esc\x1b[2J", "bin\xff\xfe", "plain"} {
		c.Set(ctx, "sess:"+id, "{}", 0)
	}
	text := ok(t, url, "ls").stdout
	if lines := strings.Split(strings.TrimSpace(text), "\n"); len(lines) != 6 {
		t.Errorf("ls printed %d lines for 5 sessions:\n%s", len(lines), text)
	}
	for _, want := range []string{`"tab\there"`, `"new\nline"`, `"esc\x1b[2J"`, `"bin\xff\xfe"`, "plain "} {
		if !strings.Contains(text, want) {
			t.Errorf("ls lacks %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\x1b") {
		t.Error("ls sent an escape sequence to the terminal")
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(ok(t, url, "ls", "-json").stdout), "\n") {
		var r lsRow
		json.Unmarshal([]byte(line), &r)
		if r.IDBase64 == "Ymlu//4=" { // base64 of "bin\xff\xfe"
			found = true
		}
	}
	if !found {
		t.Error("ls -json gives no idBase64 for an id that is not UTF-8")
	}
}
