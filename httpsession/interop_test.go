package httpsession_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
	"github.com/typedstore/typedstore/internal/redistest"
)

// nodeSession is the session that the Express app in testdata/node keeps.
type nodeSession struct {
	typedstore.Cookie `json:"cookie"`
	Counter           int    `json:"counter,omitempty"`
	Name              string `json:"name,omitempty"`
	UserID            int64  `json:"userId,omitempty"`
}

// nodeView is what both apps answer: the session's id and data.
type nodeView struct {
	ID      string `json:"id"`
	Session struct {
		Cookie struct {
			OriginalMaxAge *int64 `json:"originalMaxAge"`
			Expires        string `json:"expires"`
			HTTPOnly       bool   `json:"httpOnly"`
			Path           string `json:"path"`
			SameSite       any    `json:"sameSite"`
		} `json:"cookie"`
		Counter int    `json:"counter"`
		Name    string `json:"name"`
		UserID  int64  `json:"userId"`
	} `json:"session"`
}

// TestInteropNode runs the Express app in testdata/node (express,
// express-session and connect-redis, at the versions pinned in its
// package.json) and this package's middleware on one real redis-server,
// with the same prefix, cookie name and secret, and passes sessions and
// cookies between them both ways. It is a heavy suite (TYPEDSTORE_HEAVY=1)
// and needs node and the npm packages installed beforehand, with
// npm ci --prefix httpsession/testdata/node (which .ci/run does).
func TestInteropNode(t *testing.T) {
	redistest.Heavy(t)
	if _, err := exec.LookPath("node"); err != nil {
		unavailable(t, "node is not on PATH (install Node.js 18 or later)")
	}
	addr := redistest.Addr(t)
	prefix := redistest.UniquePrefix(t)
	nodeURL := startNode(t, addr, prefix)

	client := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { client.Close() })
	store, err := typedstore.New(client, typedstore.Options[nodeSession]{Prefix: prefix, Owner: func(v nodeSession) string {
		if v.UserID == 0 {
			return ""
		}
		return strconv.FormatInt(v.UserID, 10)
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Clear(context.Background()) })
	m, err := httpsession.New(store, httpsession.Options{Secrets: []string{secret}, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	view := func(w http.ResponseWriter, s *httpsession.Session[nodeSession]) {
		var v nodeView
		v.ID = s.ID()
		v.Session.Counter, v.Session.Name, v.Session.UserID = s.Data.Counter, s.Data.Name, s.Data.UserID
		json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/session", func(w http.ResponseWriter, r *http.Request) { view(w, m.Get(r)) })
	mux.HandleFunc("/visit", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		s.Data.Counter++
		s.Data.Name = "go"
		view(w, s)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		if err := s.Regenerate(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		s.Data.UserID = 8
		view(w, s)
	})
	goSrv := httptest.NewServer(m.Handler(mux))
	t.Cleanup(goSrv.Close)

	raw := func(id string) string {
		v, err := client.Get(context.Background(), prefix+id).Result()
		if err != nil {
			t.Fatalf("GET %s%s: %v", prefix, id, err)
		}
		return v
	}

	t.Run("created in Node, read and modified in Go", func(t *testing.T) {
		v, nodeCookie, header := getView(t, nodeURL.url, "/visit", nil)
		if nodeCookie == nil || v.Session.Counter != 1 {
			t.Fatalf("Node /visit: %+v, cookie %v", v, nodeCookie)
		}
		t.Logf("Node Set-Cookie: %s", header)
		stored := raw(v.ID)
		t.Logf("Node stored:     %s", stored)
		// express-session stores the max-age left when it saves the new
		// session: 3600000, or 3599999 when a millisecond went by meanwhile.
		var created struct {
			Cookie struct {
				OriginalMaxAge *int64 `json:"originalMaxAge"`
			} `json:"cookie"`
		}
		if err := json.Unmarshal([]byte(stored), &created); err != nil || created.Cookie.OriginalMaxAge == nil ||
			*created.Cookie.OriginalMaxAge < 3599000 || *created.Cookie.OriginalMaxAge > 3600000 {
			t.Fatalf("Node stored %s (%v); want a cookie with an originalMaxAge of about 3600000", stored, err)
		}

		gv, goCookie, header := getView(t, goSrv.URL, "/visit", nodeCookie)
		if gv.ID != v.ID || gv.Session.Counter != 2 || gv.Session.Name != "go" {
			t.Errorf("Go /visit with Node's cookie = %+v; want id %q, counter 2, name go", gv, v.ID)
		}
		if goCookie == nil || goCookie.Value != nodeCookie.Value {
			t.Errorf("Go's cookie %v; want the same value as Node's %q", goCookie, nodeCookie.Value)
		}
		t.Logf("Go Set-Cookie:   %s", header)
		t.Logf("Go stored:       %s", raw(v.ID))

		nv, _, _ := getView(t, nodeURL.url, "/session", nodeCookie)
		if nv.ID != v.ID || nv.Session.Counter != 2 || nv.Session.Name != "go" {
			t.Errorf("Node /session after Go's change = %+v; want counter 2, name go", nv)
		}
		if ma := nv.Session.Cookie.OriginalMaxAge; ma == nil || *ma != *created.Cookie.OriginalMaxAge || !nv.Session.Cookie.HTTPOnly || nv.Session.Cookie.Path != "/" {
			t.Errorf("Node's view of the cookie Go stored = %+v (originalMaxAge %v); want originalMaxAge %d as Node created it, httpOnly, path /",
				nv.Session.Cookie, ptrValue(nv.Session.Cookie.OriginalMaxAge), *created.Cookie.OriginalMaxAge)
		}
		if ttl := client.PTTL(context.Background(), prefix+v.ID).Val(); ttl < 59*time.Minute || ttl > time.Hour {
			t.Errorf("TTL after Go's save = %v; want about 1h", ttl)
		}
	})

	t.Run("created in Go, read and modified in Node", func(t *testing.T) {
		gv, goCookie, header := getView(t, goSrv.URL, "/visit", nil)
		if goCookie == nil || gv.Session.Counter != 1 {
			t.Fatalf("Go /visit: %+v, cookie %v", gv, goCookie)
		}
		t.Logf("Go Set-Cookie:   %s", header)
		t.Logf("Go stored:       %s", raw(gv.ID))

		nv, nodeCookie, header := getView(t, nodeURL.url, "/visit", goCookie)
		if nv.ID != gv.ID || nv.Session.Counter != 2 || nv.Session.Name != "node" {
			t.Errorf("Node /visit with Go's cookie = %+v; want id %q, counter 2, name node", nv, gv.ID)
		}
		if nodeCookie == nil || nodeCookie.Value != goCookie.Value {
			t.Errorf("Node's cookie %v; want the same value as Go's %q", nodeCookie, goCookie.Value)
		}
		t.Logf("Node Set-Cookie: %s", header)
		t.Logf("Node stored:     %s", raw(gv.ID))

		gv2, _, _ := getView(t, goSrv.URL, "/visit", goCookie)
		if gv2.ID != gv.ID || gv2.Session.Counter != 3 {
			t.Errorf("Go /visit after Node's change = %+v; want counter 3", gv2)
		}
	})

	t.Run("login in Node, seen in Go", func(t *testing.T) {
		_, before, _ := getView(t, goSrv.URL, "/visit", nil)
		nv, after, _ := getView(t, nodeURL.url, "/login", before)
		if after == nil || after.Value == before.Value || nv.Session.UserID != 7 {
			t.Fatalf("Node /login: %+v, cookie %v", nv, after)
		}
		if gv, _, _ := getView(t, goSrv.URL, "/session", after); gv.ID != nv.ID || gv.Session.UserID != 7 {
			t.Errorf("Go /session with Node's login cookie = %+v; want user 7", gv)
		}
		if gv, _, _ := getView(t, goSrv.URL, "/session", before); gv.ID == idOf(t, before) || gv.Session.Counter != 0 {
			t.Errorf("Go /session with the pre-login cookie = %+v; want a new session", gv)
		}
	})

	t.Run("logins in Node enter the owner index at their first Go request", func(t *testing.T) {
		count := func() int {
			t.Helper()
			n, err := store.CountOwned(context.Background(), "70")
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		_, first, _ := getView(t, nodeURL.url, "/login?user=70", nil)
		if n := count(); n != 0 {
			t.Fatalf("user 70 has %d indexed sessions before Go saw any; want 0 (Node does not index)", n)
		}
		getView(t, goSrv.URL, "/session", first)
		_, second, _ := getView(t, nodeURL.url, "/login?user=70", nil)
		getView(t, goSrv.URL, "/session", second)
		if n := count(); n != 2 {
			t.Fatalf("user 70 has %d indexed sessions after Go loaded both; want 2", n)
		}
		getView(t, nodeURL.url, "/logout", second) // a DEL, which Go does not see
		if n := count(); n != 1 {
			t.Errorf("user 70 has %d sessions after a logout in Node; want 1", n)
		}
		if n, err := store.DeleteOwned(context.Background(), "70"); err != nil || n != 1 {
			t.Fatalf("DeleteOwned(70) = %d, %v; want 1", n, err)
		}
		if nv, _, _ := getView(t, nodeURL.url, "/session", first); nv.ID == idOf(t, first) || nv.Session.UserID != 0 {
			t.Errorf("Node /session after DeleteOwned = %+v; want a new, anonymous session", nv)
		}
	})

	t.Run("login in Go, seen in Node", func(t *testing.T) {
		_, before, _ := getView(t, nodeURL.url, "/visit", nil)
		gv, after, _ := getView(t, goSrv.URL, "/login", before)
		if after == nil || after.Value == before.Value || gv.Session.UserID != 8 || gv.Session.Counter != 1 {
			t.Fatalf("Go /login: %+v, cookie %v", gv, after)
		}
		if nv, _, _ := getView(t, nodeURL.url, "/session", after); nv.ID != gv.ID || nv.Session.UserID != 8 || nv.Session.Counter != 1 {
			t.Errorf("Node /session with Go's login cookie = %+v; want user 8, counter 1", nv)
		}
		if nv, _, _ := getView(t, nodeURL.url, "/session", before); nv.ID == idOf(t, before) || nv.Session.Counter != 0 {
			t.Errorf("Node /session with the pre-login cookie = %+v; want a new session", nv)
		}
	})
}

// ptrValue returns *p, or nil.
func ptrValue[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// getView sends GET base+path with the session cookie c, and returns the
// session the app reports, the session cookie it sends back (nil for none)
// and its raw Set-Cookie header.
func getView(t *testing.T, base, path string, c *http.Cookie) (nodeView, *http.Cookie, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	if c != nil {
		req.AddCookie(c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("GET %s%s: %v", base, path, err)
	}
	body := readAll(t, res)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s%s = %d %q", base, path, res.StatusCode, body)
	}
	var v nodeView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("GET %s%s: %q: %v", base, path, body, err)
	}
	var sc *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == httpsession.DefaultName {
			sc = c
		}
	}
	return v, sc, res.Header.Get("Set-Cookie")
}

type nodeApp struct{ url string }

// startNode starts testdata/node/server.js on a free loopback port, with
// its sessions in the Redis at addr under prefix, signed with secret. The
// npm packages must be installed already: the test never reaches the
// network. The process is killed, by pid, when the test ends, and in any
// case after two minutes. env adds variables to its environment, such as
// MAX_AGE_MS and ROLLING (see server.js).
func startNode(t *testing.T, addr, prefix string, env ...string) nodeApp {
	t.Helper()
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		unavailable(t, "node is not on PATH (install Node.js 18 or later)")
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "node"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		unavailable(t, "httpsession/testdata/node/node_modules is missing; install the pinned npm packages with: npm ci --prefix httpsession/testdata/node (from the repository root)")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, nodeBin, "server.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"REDIS_URL=redis://"+addr,
		"PREFIX="+prefix,
		"SECRET="+secret,
		"NODE_ENV=test",
	)
	cmd.Env = append(cmd.Env, env...)
	stdin, err := cmd.StdinPipe() // closed at the end: the app exits on EOF
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	exited := make(chan struct{})
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill() // by pid
		<-exited
		cancel()
		if t.Failed() {
			t.Logf("node stderr:\n%s", stderr)
		}
	})

	timeout := time.After(30 * time.Second)
	for {
		select {
		case line := <-lines:
			if url, ok := strings.CutPrefix(line, "listening "); ok {
				t.Logf("Node app (node %s) at %s", nodeVersion(nodeBin), url)
				return nodeApp{url: url}
			}
		case <-exited:
			t.Fatalf("node exited before listening: %s", stderr)
		case <-timeout:
			t.Fatalf("node did not listen within 30s: %s", stderr)
		}
	}
}

func nodeVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

// unavailable skips the test, or fails it where real-server tests are
// required (see redistest.Required; TYPEDSTORE_HEAVY=1 is one way).
func unavailable(t *testing.T, why string) {
	t.Helper()
	if redistest.Required() {
		t.Fatalf("Node interop test required (TYPEDSTORE_HEAVY=1, TYPEDSTORE_REQUIRE_REDIS=1 or CI=true) but %s", why)
	}
	t.Skipf("skipping Node interop test: %s", why)
}
