package httpsession_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
)

// sess is a session type with express-session's stored shape.
type sess struct {
	typedstore.Cookie `json:"cookie"`
	UserID            int64  `json:"userId,omitempty"`
	Name              string `json:"name,omitempty"`
	Counter           int    `json:"counter,omitempty"`
}

// secret signs the test cookies; New warns about one shorter than 32 bytes.
const secret = "keyboard cat, but long enough to sign"

// env is a manager on miniredis with the test application's handler.
type env struct {
	t     *testing.T
	mr    *miniredis.Miniredis
	store *typedstore.Store[sess]
	m     *httpsession.Manager[sess]
	h     http.Handler
	logs  *syncBuffer
	// errs receives the errors passed to the error handler, when the test
	// did not set one of its own.
	errs chan error
}

// newEnv returns an env whose options are opts, with Secrets defaulting to
// {secret}, a logger writing to env.logs and an error handler that records
// errors (unless opts sets its own).
func newEnv(t *testing.T, opts httpsession.Options) *env {
	t.Helper()
	mr, store := newStore(t, typedstore.Options[sess]{})
	return newEnvOn(t, mr, store, opts)
}

// newStore returns a miniredis server and a store on it with opts, closed
// when the test ends. Its client does not retry: the fault tests close the
// server and want a quick error.
func newStore[T any](t *testing.T, opts typedstore.Options[T]) (*miniredis.Miniredis, *typedstore.Store[T]) {
	t.Helper()
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { client.Close() })
	store, err := typedstore.New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	return mr, store
}

func newEnvOn(t *testing.T, mr *miniredis.Miniredis, store *typedstore.Store[sess], opts httpsession.Options) *env {
	t.Helper()
	e := &env{t: t, mr: mr, store: store, logs: &syncBuffer{}, errs: make(chan error, 10)}
	if opts.Secrets == nil {
		opts.Secrets = []string{secret}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	}
	if opts.ErrorHandler == nil {
		opts.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			e.errs <- err
			http.Error(w, "session error", http.StatusInternalServerError)
		}
	}
	m, err := httpsession.New(store, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.m = m
	e.h = m.Handler(app(m))
	return e
}

// app is the test application.
//
//	/get      writes the session
//	/incr     counter += 1
//	/login    Regenerate, userId = 42, redirect to /
//	/logout   Destroy
//	/touch    Touch
//	/save     Save, then reports whether the store has it
//	/remember SetMaxAge(30 days)
//	/nothing  writes nothing
func app(m *httpsession.Manager[sess]) http.Handler {
	mux := http.NewServeMux()
	show := func(w http.ResponseWriter, s *httpsession.Session[sess]) {
		fmt.Fprintf(w, "user=%d counter=%d new=%v", s.Data.UserID, s.Data.Counter, s.IsNew())
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
		http.Redirect(w, r, "/get", http.StatusSeeOther)
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Get(r).Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, "bye")
	})
	mux.HandleFunc("/touch", func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Touch()
		show(w, m.Get(r))
	})
	mux.HandleFunc("/save", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		s.Data.Name = "saved"
		if err := s.Save(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_, err := m.Store().Get(r.Context(), s.ID())
		fmt.Fprintf(w, "stored=%v", err == nil)
	})
	mux.HandleFunc("/remember", func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).SetMaxAge(30 * 24 * time.Hour)
		show(w, m.Get(r))
	})
	mux.HandleFunc("/nothing", func(w http.ResponseWriter, r *http.Request) {})
	return mux
}

// result is one response.
type result struct {
	code    int
	body    string
	header  http.Header
	cookies []*http.Cookie
}

// do sends a request through e.h, with the given cookies.
func (e *env) do(path string, cookies ...*http.Cookie) result {
	e.t.Helper()
	return e.doReq(httptest.NewRequest(http.MethodGet, path, nil), cookies...)
}

func (e *env) doReq(r *http.Request, cookies ...*http.Cookie) result {
	e.t.Helper()
	for _, c := range cookies {
		r.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	res := rec.Result()
	return result{code: res.StatusCode, body: rec.Body.String(), header: res.Header, cookies: res.Cookies()}
}

// cookie returns the response's session cookie, or nil.
func (r result) cookie() *http.Cookie {
	var got *http.Cookie
	for _, c := range r.cookies {
		if c.Name == httpsession.DefaultName {
			got = c
		}
	}
	return got
}

// setCookie returns the raw Set-Cookie header of the session cookie, or "".
func (r result) setCookie() string {
	for _, v := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(v, httpsession.DefaultName+"=") {
			return v
		}
	}
	return ""
}

// idOf returns the session id in a cookie of this package's making.
func idOf(t interface {
	Helper()
	Fatal(...any)
	Fatalf(string, ...any)
}, c *http.Cookie) string {
	t.Helper()
	if c == nil {
		t.Fatal("no session cookie")
	}
	v, err := url.PathUnescape(c.Value)
	if err != nil {
		t.Fatalf("cookie value %q: %v", c.Value, err)
	}
	signed, ok := strings.CutPrefix(v, "s:")
	if !ok {
		t.Fatalf("cookie value %q: no s: prefix", v)
	}
	return signed[:strings.LastIndexByte(signed, '.')]
}

// signedCookie returns a session cookie for id signed with secret, as
// express-session writes it.
func signedCookie(id, secret string) *http.Cookie {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(id))
	sig := base64.RawStdEncoding.EncodeToString(h.Sum(nil))
	return &http.Cookie{Name: httpsession.DefaultName, Value: url.PathEscape("s:" + id + "." + sig)}
}

// put stores v under id directly.
func (e *env) put(id string, v sess) {
	e.t.Helper()
	if err := e.store.Set(context.Background(), id, v); err != nil {
		e.t.Fatal(err)
	}
}

// stored returns the raw stored value of id, or "" when there is none.
func (e *env) stored(id string) string {
	e.t.Helper()
	if !e.mr.Exists(typedstore.DefaultPrefix + id) {
		return ""
	}
	v, err := e.mr.Get(typedstore.DefaultPrefix + id)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// noErrors fails the test if the error handler was called.
func (e *env) noErrors() {
	e.t.Helper()
	select {
	case err := <-e.errs:
		e.t.Errorf("error handler called: %v", err)
	default:
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
