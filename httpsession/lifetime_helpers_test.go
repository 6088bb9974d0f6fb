package httpsession_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
	"github.com/typedstore/typedstore/internal/clock"
)

// lsess is a session type with both the cookie and the lifetime.
type lsess struct {
	typedstore.Cookie   `json:"cookie"`
	typedstore.Lifetime `json:"lifetime"`
	UserID              int64 `json:"userId,omitempty"`
	Counter             int   `json:"counter,omitempty"`
}

// tb is what the lifetime tests need of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Context() context.Context
	Cleanup(func())
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// lifeEnv is a manager of lsess sessions on miniredis, with a fake clock
// that moves with miniredis's: advance steps both.
type lifeEnv struct {
	t      tb
	mr     *miniredis.Miniredis
	client redis.UniversalClient
	store  *typedstore.Store[lsess]
	m      *httpsession.Manager[lsess]
	h      http.Handler
	clock  *clock.Fake
	logs   *syncBuffer
}

func newLifeEnv(t tb, opts httpsession.Options, sopts typedstore.Options[lsess]) *lifeEnv {
	t.Helper()
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	e := newLifeEnvOn(t, client, opts, sopts)
	e.mr = mr
	e.clock = clock.NewFake(time.Now())
	clock.Set(t, e.clock.Now)
	return e
}

// newLifeEnvOn is newLifeEnv on client, with the real clock: advance is
// for miniredis only.
func newLifeEnvOn(t tb, client redis.UniversalClient, opts httpsession.Options, sopts typedstore.Options[lsess]) *lifeEnv {
	t.Helper()
	e := &lifeEnv{t: t, client: client, logs: &syncBuffer{}}
	var err error
	if e.store, err = typedstore.New(e.client, sopts); err != nil {
		t.Fatal(err)
	}
	opts.Secrets = []string{secret}
	opts.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	opts.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		t.Errorf("error handler: %v", err)
		http.Error(w, "session error", http.StatusInternalServerError)
	}
	if e.m, err = httpsession.New(e.store, opts); err != nil {
		t.Fatalf("New: %v", err)
	}
	e.h = e.m.Handler(lifeApp(e.m))
	return e
}

// lifeApp is the lifetime tests' application.
//
//	/get               the session, with why the previous one ended
//	/incr              counter += 1
//	/login             Regenerate, userId = 42
//	/login?remember=1  the same, with a persistent cookie of 30 days
//	/logout            Destroy
func lifeApp(m *httpsession.Manager[lsess]) http.Handler {
	mux := http.NewServeMux()
	show := func(w http.ResponseWriter, s *httpsession.Session[lsess]) {
		fmt.Fprintf(w, "user=%d counter=%d new=%v expired=%q", s.Data.UserID, s.Data.Counter, s.IsNew(), s.Expired())
	}
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) { show(w, m.Get(r)) })
	mux.HandleFunc("/incr", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		s.Data.Counter++
		show(w, s)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		if err := s.Regenerate(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		s.Data.UserID = 42
		if r.URL.Query().Get("remember") == "1" {
			s.SetMaxAge(remember)
		}
		show(w, s)
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Get(r).Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, "bye")
	})
	return mux
}

// remember is the max-age of a "remember me" login in lifeApp.
const remember = 30 * 24 * time.Hour

// advance moves the fake clock and miniredis's clock by d.
func (e *lifeEnv) advance(d time.Duration) {
	e.clock.Advance(d)
	e.mr.FastForward(d)
}

// pttl returns the time to live of the session id in Redis, or -2ms when
// it has none.
func (e *lifeEnv) pttl(id string) time.Duration {
	e.t.Helper()
	d, err := e.client.PTTL(e.t.Context(), typedstore.DefaultPrefix+id).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// load returns the stored session id, read with the store.
func (e *lifeEnv) load(id string) lsess {
	e.t.Helper()
	v, err := e.store.Get(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("stored session: %v", err)
	}
	return v
}

// browser keeps cookies as a browser does, on the fake clock: a cookie with
// Max-Age is dropped when it runs out, one without when the browser closes.
type browser struct {
	e       *lifeEnv
	cookies map[string]jarCookie
	// keepExpired sends cookies past their Max-Age too, as no browser
	// does, to test the server's rules apart from the browser's.
	keepExpired bool
}

type jarCookie struct {
	c       *http.Cookie
	expires time.Time // zero: until the browser closes
}

func (e *lifeEnv) browser() *browser { return &browser{e: e, cookies: map[string]jarCookie{}} }

// get sends a GET of path with the browser's cookies and keeps those the
// response sets.
func (b *browser) get(path string) result {
	b.e.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	b.attach(req)
	rec := httptest.NewRecorder()
	b.e.h.ServeHTTP(rec, req)
	res := rec.Result()
	r := result{code: res.StatusCode, body: rec.Body.String(), header: res.Header, cookies: res.Cookies()}
	b.keep(r.cookies)
	return r
}

// start sends a GET of path to h with the browser's cookies, in a goroutine
// of its own, and returns where its response will arrive. The cookies it
// sets are not kept (see keep).
func (b *browser) start(h http.Handler, path string) <-chan *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	b.attach(req)
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		done <- rec
	}()
	return done
}

// attach adds the cookies the browser would send now to req.
func (b *browser) attach(req *http.Request) {
	now := clock.Now()
	for name, jc := range b.cookies {
		if !jc.expires.IsZero() && !now.Before(jc.expires) && !b.keepExpired {
			delete(b.cookies, name)
			continue
		}
		req.AddCookie(&http.Cookie{Name: jc.c.Name, Value: jc.c.Value})
	}
}

// keep stores the cookies of a response.
func (b *browser) keep(cookies []*http.Cookie) {
	now := clock.Now()
	for _, c := range cookies {
		switch {
		case c.MaxAge < 0:
			delete(b.cookies, c.Name)
		case c.MaxAge > 0:
			b.cookies[c.Name] = jarCookie{c, now.Add(time.Duration(c.MaxAge) * time.Second)}
		default:
			b.cookies[c.Name] = jarCookie{c: c}
		}
	}
}

// close drops the cookies that last until the browser closes.
func (b *browser) close() {
	for name, jc := range b.cookies {
		if jc.expires.IsZero() {
			delete(b.cookies, name)
		}
	}
}

// id returns the session id in the browser's session cookie, or "".
func (b *browser) id() string {
	jc, ok := b.cookies[httpsession.DefaultName]
	if !ok {
		return ""
	}
	return idOf(b.e.t, jc.c)
}

// loggedIn is the body of /get for the logged-in session of lifeApp with
// counter n.
func loggedIn(n int) string { return fmt.Sprintf(`user=42 counter=%d new=false expired=""`, n) }

// endedBody is the body of /get for a new session after one that ended
// for why.
func endedBody(why httpsession.ExpiryReason) string {
	return fmt.Sprintf(`user=0 counter=0 new=true expired=%q`, why)
}
