package httpsession_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
	"github.com/typedstore/typedstore/internal/redistest"
)

// byUser is the Owner of these tests: the logged-in user, "" when anonymous.
func byUser(v sess) string {
	if v.UserID == 0 {
		return ""
	}
	return strconv.FormatInt(v.UserID, 10)
}

// ownedEnv is an env whose store indexes sessions by user, with a handler
// at /others that logs out the user's other devices.
func ownedEnv(t *testing.T, opts httpsession.Options) *env {
	t.Helper()
	mr, store := newStore(t, typedstore.Options[sess]{Owner: byUser})
	e := newEnvOn(t, mr, store, opts)
	mux := http.NewServeMux()
	mux.Handle("/", app(e.m))
	mux.HandleFunc("/others", func(w http.ResponseWriter, r *http.Request) {
		n, err := e.m.Get(r).DestroyOthers(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "deleted=%d", n)
	})
	e.h = e.m.Handler(mux)
	return e
}

// devices returns the ids of user's sessions, sorted.
func (e *env) devices(user string) []string {
	e.t.Helper()
	seq, errf := e.store.OwnedBy(context.Background(), user)
	var ids []string
	for id := range seq {
		ids = append(ids, id)
	}
	if err := errf(); err != nil {
		e.t.Fatalf("OwnedBy(%q): %v", user, err)
	}
	slices.Sort(ids)
	return ids
}

// login logs a new browser in as user 42 and returns its cookie.
func (e *env) login() *http.Cookie {
	e.t.Helper()
	res := e.do("/login")
	if res.code != http.StatusSeeOther {
		e.t.Fatalf("/login = %d %q", res.code, res.body)
	}
	return res.cookie()
}

func TestDestroyOthers(t *testing.T) {
	e := ownedEnv(t, httpsession.Options{MaxAge: time.Hour})
	a, b := e.login(), e.login()
	anon := e.do("/incr").cookie()
	if got, want := e.devices("42"), sorted(idOf(t, a), idOf(t, b)); !slices.Equal(got, want) {
		t.Fatalf("user 42's sessions after two logins = %q; want %q", got, want)
	}
	if res := e.do("/others", a); res.body != "deleted=1" {
		t.Fatalf("/others = %d %q; want deleted=1", res.code, res.body)
	}
	if res := e.do("/get", b); !strings.Contains(res.body, "user=0") || !strings.Contains(res.body, "new=true") {
		t.Errorf("the other device after /others: %q; want it logged out", res.body)
	}
	if res := e.do("/get", a); !strings.Contains(res.body, "user=42") || !strings.Contains(res.body, "new=false") {
		t.Errorf("this device after /others: %q; want it still logged in", res.body)
	}
	if res := e.do("/get", anon); !strings.Contains(res.body, "counter=1 new=false") {
		t.Errorf("an anonymous session after /others: %q; want it untouched", res.body)
	}
	if got, want := e.devices("42"), []string{idOf(t, a)}; !slices.Equal(got, want) {
		t.Errorf("user 42's sessions = %q; want %q", got, want)
	}
	if res := e.do("/others", anon); res.body != "deleted=0" {
		t.Errorf("/others of an anonymous session = %q; want deleted=0", res.body)
	}
	e.noErrors()
}

func TestDestroyOthersWithoutOwner(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	var err error
	h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err = e.m.Get(r).DestroyOthers(r.Context())
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if !errors.Is(err, typedstore.ErrNoOwnerIndex) {
		t.Errorf("DestroyOthers on a store without Owner = %v; want ErrNoOwnerIndex", err)
	}
}

// The middleware's writes keep the index: a login enters it, a
// regeneration moves the entry to the new id, a logout leaves it.
func TestLoginAndLogoutKeepTheIndex(t *testing.T) {
	e := ownedEnv(t, httpsession.Options{MaxAge: time.Hour})
	a := e.login()
	if got := e.devices("42"); !slices.Equal(got, []string{idOf(t, a)}) {
		t.Fatalf("after login: %q; want [%s]", got, idOf(t, a))
	}
	again := e.do("/login", a).cookie() // a second login on the same browser
	if got := e.devices("42"); !slices.Equal(got, []string{idOf(t, again)}) {
		t.Fatalf("after logging in again: %q; want only the new id", got)
	}
	e.do("/logout", again)
	if got := e.devices("42"); len(got) != 0 {
		t.Fatalf("after logout: %q; want none", got)
	}
	// A session that the index does not know (written by an Express app,
	// or by a process that crashed before indexing it) enters it at its
	// next request.
	node, err := typedstore.New(e.store.Client(), typedstore.Options[sess]{})
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Set(context.Background(), "from-node", sess{UserID: 42, Cookie: typedstore.Cookie{Path: "/"}}); err != nil {
		t.Fatal(err)
	}
	if got := e.devices("42"); len(got) != 0 {
		t.Fatalf("before any request: %q", got)
	}
	e.do("/get", signedCookie("from-node", secret))
	if got := e.devices("42"); !slices.Equal(got, []string{"from-node"}) {
		t.Errorf("after its first request in Go: %q; want [from-node]", got)
	}
	e.noErrors()
}

// A request that only reads an owned session sends no command to the
// index: the GETEX that loads it, and nothing else.
func TestReadOnlyRequestCostsNoIndexCommand(t *testing.T) {
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { client.Close() })
	store, err := typedstore.New(client, typedstore.Options[sess]{Owner: byUser})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, nil, store, httpsession.Options{MaxAge: time.Hour})
	diff := func(f func()) string {
		before := redistest.CommandCalls(t, client)
		f()
		sent := map[string]int{}
		for name, n := range redistest.CommandCalls(t, client) {
			// INFO is this count's own; HELLO opens a connection.
			if d := n - before[name]; d > 0 && name != "info" && name != "hello" {
				sent[name] = d
			}
		}
		return fmt.Sprint(sent)
	}
	// INFO commandstats counts the commands that a script runs too: the
	// index script is EVALSHA (EVAL when the server does not have it yet)
	// and, inside it, ZREMRANGEBYSCORE, ZSCORE, ZADD, ZRANGE and PEXPIRE
	// (and ZCARD with MaxPerOwner).
	const script = "evalsha:1 pexpire:1 set:1 zadd:1 zrange:1 zremrangebyscore:1 zscore:1"
	var cookie *http.Cookie
	if got, want := diff(func() { cookie = e.login() }), "map[eval:1 "+script+"]"; got != want {
		t.Errorf("a login sent %s; want %s", got, want)
	}
	if got, want := diff(func() {
		for range 10 {
			if res := e.do("/get", cookie); !strings.Contains(res.body, "user=42") {
				t.Fatalf("/get = %q", res.body)
			}
		}
	}), "map[getex:10]"; got != want {
		t.Errorf("10 read-only requests sent %s; want %s", got, want)
	}
	if got, want := diff(func() { e.do("/incr", cookie) }), "map["+strings.Replace(script, "evalsha:1", "evalsha:1 getex:1", 1)+"]"; got != want {
		t.Errorf("a request that changes the session sent %s; want %s", got, want)
	}
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}
