package httpsession_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
	"github.com/typedstore/typedstore/internal/redistest"
)

// A request that loaded the session before a logout in another request, and
// saves after it, must not bring the session back.
func TestLogoutDuringSlowRequestIsNotUndone(t *testing.T) {
	e := newEnv(t, httpsession.Options{MaxAge: time.Hour})
	login := e.do("/login")
	cookie := login.cookie()
	id := idOf(t, cookie)

	loaded, release := make(chan struct{}), make(chan struct{})
	var saveErr error
	mux := http.NewServeMux()
	mux.Handle("/", app(e.m))
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		s := e.m.Get(r)
		close(loaded)
		<-release
		s.Data.Name = "written after logout"
		saveErr = s.Save(r.Context())
		fmt.Fprint(w, "slow done")
	})
	e.h = e.m.Handler(mux)

	done := make(chan result)
	go func() { done <- e.do("/slow", cookie) }()
	<-loaded
	if res := e.do("/logout", cookie); res.code != http.StatusOK {
		t.Fatalf("logout: %d %s", res.code, res.body)
	}
	close(release)
	res := <-done

	if !errors.Is(saveErr, httpsession.ErrGone) || !errors.Is(saveErr, typedstore.ErrNotFound) {
		t.Errorf("Save after logout = %v; want ErrGone (and ErrNotFound)", saveErr)
	}
	if v := e.stored(id); v != "" {
		t.Errorf("session came back after logout: %s", v)
	}
	if c := res.cookie(); c == nil || c.MaxAge >= 0 {
		t.Errorf("slow response's cookie = %v; want one that clears the browser's", c)
	}
	if res.code != http.StatusOK {
		t.Errorf("slow response = %d %q; want 200: a dropped save is not a server error", res.code, res.body)
	}
	e.noErrors()

	// The same at the end of the request, without Save.
	login = e.do("/login")
	cookie, id = login.cookie(), idOf(t, login.cookie())
	loaded, release = make(chan struct{}), make(chan struct{})
	mux = http.NewServeMux()
	mux.Handle("/", app(e.m))
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		s := e.m.Get(r)
		close(loaded)
		<-release
		s.Data.Counter = 99
	})
	e.h = e.m.Handler(mux)
	go func() { done <- e.do("/slow", cookie) }()
	<-loaded
	e.do("/logout", cookie)
	close(release)
	res = <-done
	if v := e.stored(id); v != "" {
		t.Errorf("session came back after logout: %s", v)
	}
	if !strings.Contains(e.logs.String(), "not saved") {
		t.Errorf("no log line for the dropped save; logs:\n%s", e.logs)
	}
	e.noErrors()
}

// Concurrent requests on one session that all load before any saves: plain
// changes to Data keep only one of them; Session.Update keeps all.
func TestSessionUpdateLosesNoChanges(t *testing.T) {
	const n = 8
	for _, atomic := range []bool{false, true} {
		t.Run(fmt.Sprintf("atomic=%v", atomic), func(t *testing.T) {
			e := newEnv(t, httpsession.Options{MaxAge: time.Hour})
			cookie := e.do("/incr").cookie() // counter = 1
			id := idOf(t, cookie)

			var wg sync.WaitGroup
			wg.Add(n)
			mux := http.NewServeMux()
			mux.HandleFunc("/add", func(w http.ResponseWriter, r *http.Request) {
				s := e.m.Get(r)
				wg.Done()
				wg.Wait() // every request has loaded the session
				if !atomic {
					s.Data.Counter++
					return
				}
				if err := s.Update(r.Context(), func(v *sess) error { v.Counter++; return nil }); err != nil {
					http.Error(w, err.Error(), 500)
				}
			})
			e.h = e.m.Handler(mux)
			var reqs sync.WaitGroup
			for range n {
				reqs.Go(func() {
					if res := e.do("/add", cookie); res.code != http.StatusOK {
						t.Errorf("/add: %d %s", res.code, res.body)
					}
				})
			}
			reqs.Wait()
			got, err := e.store.Get(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case atomic && got.Counter != 1+n:
				t.Errorf("counter after %d concurrent Updates = %d; want %d", n, got.Counter, 1+n)
			case !atomic && got.Counter != 2:
				t.Errorf("counter after %d concurrent plain changes = %d; want 2 (lost updates)", n, got.Counter)
			}
			e.noErrors()
		})
	}
}

func TestSessionUpdateOfNewSession(t *testing.T) {
	e := newEnv(t, httpsession.Options{MaxAge: time.Hour})
	mux := http.NewServeMux()
	mux.HandleFunc("/u", func(w http.ResponseWriter, r *http.Request) {
		s := e.m.Get(r)
		if err := s.Update(r.Context(), func(v *sess) error { v.Counter = 5; return nil }); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	e.h = e.m.Handler(mux)
	res := e.do("/u")
	id := idOf(t, res.cookie())
	if got, err := e.store.Get(context.Background(), id); err != nil || got.Counter != 5 {
		t.Errorf("stored = %+v, %v; want counter 5", got, err)
	}
}

// A request that only reads an existing session costs one command (GETEX)
// where express-session + connect-redis send two (GET, then EXPIRE); with
// LoadWithGet it costs the two.
func TestCommandsPerReadOnlyRequest(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts httpsession.Options
		want string
	}{
		{"GETEX", httpsession.Options{MaxAge: time.Hour}, "map[getex:1]"},
		{"LoadWithGet", httpsession.Options{MaxAge: time.Hour, LoadWithGet: true}, "map[get:1 pexpire:1]"},
		{"browser-session cookie", httpsession.Options{}, "map[get:1 pexpire:1]"},
		{"IdleTimeout", httpsession.Options{MaxAge: time.Hour, IdleTimeout: time.Hour}, "map[getex:1]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.Start(t)
			client := redis.NewClient(&redis.Options{Addr: srv.Addr})
			t.Cleanup(func() { client.Close() })
			store, err := typedstore.New(client, typedstore.Options[sess]{})
			if err != nil {
				t.Fatal(err)
			}
			e := newEnvOn(t, nil, store, tt.opts)
			cookie := e.do("/incr").cookie()
			id := idOf(t, cookie)
			client.PExpire(context.Background(), "sess:"+id, time.Minute)

			sent := commandsSent(t, client, func() {
				if res := e.do("/get", cookie); !strings.Contains(res.body, "counter=1") {
					t.Fatalf("/get = %q", res.body)
				}
			})
			if got := fmt.Sprint(sent); got != tt.want {
				t.Errorf("commands for a read-only request = %s; want %s", got, tt.want)
			}
			if tt.opts.MaxAge > 0 {
				if ttl := client.PTTL(context.Background(), "sess:"+id).Val(); ttl < 59*time.Minute {
					t.Errorf("PTTL after the request = %v; want the hour of MaxAge", ttl)
				}
			}
			t.Logf("%s: %v", tt.name, sent)
		})
	}
}

// Under Lifetime a request that only reads its session sends GET and
// PEXPIRE, and the time to live it leaves is the idle timeout: a GETEX
// could not know the session's absolute deadline before reading it.
func TestCommandsPerReadOnlyRequestUnderLifetime(t *testing.T) {
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { client.Close() })
	store, err := typedstore.New(client, typedstore.Options[lsess]{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := httpsession.New(store, httpsession.Options{Secrets: []string{secret}, IdleTimeout: time.Hour, Lifetime: 12 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(lifeApp(m))
	get := func(path string, c *http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		if c != nil {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	cookie := result{cookies: get("/login", nil).Result().Cookies()}.cookie()
	id := idOf(t, cookie)
	client.PExpire(t.Context(), "sess:"+id, time.Minute)
	sent := commandsSent(t, client, func() {
		if body := get("/get", cookie).Body.String(); body != loggedIn(0) {
			t.Fatalf("/get = %q", body)
		}
	})
	if got, want := fmt.Sprint(sent), "map[get:1 pexpire:1]"; got != want {
		t.Errorf("commands for a read-only request = %s; want %s", got, want)
	}
	if ttl := client.PTTL(t.Context(), "sess:"+id).Val(); ttl < 59*time.Minute || ttl > time.Hour {
		t.Errorf("PTTL after the request = %v; want the idle timeout, 1h", ttl)
	}
}

// A session with its own max-age (SetMaxAge) is touched to that max-age
// even though the load reset its expiry to MaxAge.
func TestOwnMaxAgeIsTouchedAfterLoad(t *testing.T) {
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { client.Close() })
	store, err := typedstore.New(client, typedstore.Options[sess]{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, nil, store, httpsession.Options{MaxAge: time.Hour})
	cookie := e.do("/remember").cookie()
	id := idOf(t, cookie)
	client.PExpire(context.Background(), "sess:"+id, time.Minute)
	e.do("/get", cookie)
	if ttl := client.PTTL(context.Background(), "sess:"+id).Val(); ttl < 29*24*time.Hour {
		t.Errorf("PTTL = %v; want the session's own 30 days", ttl)
	}
}

// commandsSent returns how many of each command the server behind client
// ran during fn, INFO aside.
func commandsSent(t *testing.T, client *redis.Client, fn func()) map[string]int {
	t.Helper()
	before := redistest.CommandCalls(t, client)
	fn()
	after := redistest.CommandCalls(t, client)
	sent := map[string]int{}
	for name, n := range after {
		if d := n - before[name]; d > 0 && name != "info" {
			sent[name] = d
		}
	}
	return sent
}
