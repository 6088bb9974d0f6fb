package httpsession_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
)

func TestStoreDownOnLoad(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	e.put("apple", sess{UserID: 1})
	e.mr.Close()
	res := e.do("/get", signedCookie("apple", secret))
	if res.code != 500 || res.body != "session error\n" {
		t.Errorf("store down: %d %q; want the error handler's 500", res.code, res.body)
	}
	select {
	case err := <-e.errs:
		if err == nil {
			t.Error("error handler called with nil")
		}
	default:
		t.Error("error handler not called")
	}
}

func TestStoreDownOnSave(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	e.mr.Close()
	wrote := make(chan error, 1)
	h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.m.Get(r).Data.UserID = 1
		_, err := fmt.Fprint(w, "logged in")
		wrote <- err
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "logged in") {
		t.Errorf("save failed: %d %q; want the error handler's 500 and nothing of the handler's", rec.Code, rec.Body)
	}
	if err := <-wrote; err == nil {
		t.Error("handler's Write after a failed save = nil error; want one")
	}
	if len(rec.Result().Cookies()) != 0 {
		t.Errorf("cookies = %v; want none for an unsaved session", rec.Result().Cookies())
	}
	if err := <-e.errs; err == nil {
		t.Error("error handler got nil")
	}
}

func TestStoreDownOnSaveAtEnd(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	e.mr.Close()
	h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.m.Get(r).Data.UserID = 1 // and writes nothing
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 {
		t.Errorf("save at the handler's end failed: %d; want 500", rec.Code)
	}
}

func TestDefaultErrorHandler(t *testing.T) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { client.Close() })
	store, _ := typedstore.New(client, typedstore.Options[sess]{})
	logs := &syncBuffer{}
	m, err := httpsession.New(store, httpsession.Options{Secrets: []string{secret}, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mr.Close()
	r := httptest.NewRequest("GET", "/path", nil)
	r.AddCookie(signedCookie("a-long-session-id", secret))
	rec := httptest.NewRecorder()
	m.Handler(app(m)).ServeHTTP(rec, r)
	if rec.Code != 500 || rec.Body.String() != "Internal Server Error\n" {
		t.Errorf("default error handler: %d %q; want 500 Internal Server Error", rec.Code, rec.Body)
	}
	log := logs.String()
	if !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "path=/path") || !strings.Contains(log, "err=") {
		t.Errorf("log = %q; want an error line with the path and the error", log)
	}
	if strings.Contains(log, "a-long-session-id") {
		t.Errorf("log = %q; want no session id in it", log)
	}
}

// TestStoreSlow checks that a store that never answers holds a request no
// longer than the request's context allows.
func TestStoreSlow(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() { // accept connections and never answer
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	client := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	store, _ := typedstore.New(client, typedstore.Options[sess]{})
	mr := miniredis.RunT(t) // unused by the store; newEnvOn wants one
	e := newEnvOn(t, mr, store, httpsession.Options{})

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r := httptest.NewRequest("GET", "/get", nil).WithContext(ctx)
	start := time.Now()
	res := e.doReq(r, signedCookie("apple", secret))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("request took %v; want it bounded by its 200ms context", d)
	}
	if res.code != 500 {
		t.Errorf("slow store: %d; want 500", res.code)
	}
	if err := <-e.errs; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v; want one wrapping context.DeadlineExceeded", err)
	}
}

func TestCorruptStoredSession(t *testing.T) {
	const id = "corrupt-session-id-1234"
	tests := []struct {
		policy     httpsession.CorruptPolicy
		wantCode   int
		wantStored bool
		wantLog    string
	}{
		{httpsession.CorruptNew, 200, true, "left in the store"},
		{httpsession.CorruptDelete, 200, false, "deleted"},
		{httpsession.CorruptFail, 500, true, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.policy), func(t *testing.T) {
			e := newEnv(t, httpsession.Options{OnCorrupt: tt.policy})
			e.mr.Set(typedstore.DefaultPrefix+id, "{not json")
			res := e.do("/incr", signedCookie(id, secret))
			if res.code != tt.wantCode {
				t.Fatalf("GET = %d %q; want %d", res.code, res.body, tt.wantCode)
			}
			if got := e.stored(id) == "{not json"; got != tt.wantStored {
				t.Errorf("corrupt value still stored: %v; want %v", got, tt.wantStored)
			}
			log := e.logs.String()
			if !strings.Contains(log, tt.wantLog) || strings.Contains(log, id) {
				t.Errorf("log = %q; want %q and not the id", log, tt.wantLog)
			}
			if tt.wantCode == 200 {
				if res.body != "user=0 counter=1 new=true" || idOf(t, res.cookie()) == id {
					t.Errorf("GET = %q; want a new session under a new id", res.body)
				}
				e.noErrors()
				return
			}
			if err := <-e.errs; !errors.Is(err, typedstore.ErrCorrupt) {
				t.Errorf("error = %v; want ErrCorrupt", err)
			}
		})
	}
}

func TestFlushSavesFirst(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := e.m.Get(r)
		s.Data.Counter = 3
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController.Flush = %v", err)
		}
		if got := e.stored(s.ID()); !strings.Contains(got, `"counter":3`) {
			t.Errorf("after Flush, stored %q; want the session saved", got)
		}
		fmt.Fprint(w, "streamed")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !rec.Flushed || len(rec.Result().Cookies()) != 1 {
		t.Errorf("flushed %v, cookies %v; want a flush with the cookie", rec.Flushed, rec.Result().Cookies())
	}
}

func TestInformationalHeadersDoNotCommit(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		e.m.Get(r).Data.Counter = 9 // after the 103: still saved
		fmt.Fprint(w, "ok")
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, res); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("GET = %d %q; want 200 ok", res.StatusCode, body)
	}
	cookies := res.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies = %v; want the session's", cookies)
	}
	if got := e.stored(idOf(t, cookies[0])); !strings.Contains(got, `"counter":9`) {
		t.Errorf("stored %q; want the change made after the 103", got)
	}
}

func TestResponseControllerAndHijack(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	saved := make(chan string, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/deadline", func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline through the middleware = %v", err)
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
		s := e.m.Get(r)
		s.Data.Name = "hijacker"
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack = %v", err)
			return
		}
		defer conn.Close()
		saved <- e.stored(s.ID())
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		buf.Flush()
	})
	srv := httptest.NewServer(e.m.Handler(mux))
	t.Cleanup(srv.Close)

	res, err := srv.Client().Get(srv.URL + "/deadline")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, res); body != "ok" {
		t.Errorf("/deadline = %q", body)
	}

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, res); body != "ok" {
		t.Errorf("/hijack = %q", body)
	}
	if got := <-saved; !strings.Contains(got, "hijacker") {
		t.Errorf("stored at Hijack: %q; want the session saved first", got)
	}
}

func TestTouchOfDeletedSessionIsNotAnError(t *testing.T) {
	e := newEnv(t, httpsession.Options{MaxAge: time.Hour})
	c := e.do("/incr").cookie()
	id := idOf(t, c)
	h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Another request (a logout in another tab) deletes the session
		// while this one runs.
		e.mr.Del(typedstore.DefaultPrefix + id)
		fmt.Fprint(w, "ok")
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(c)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 200 || e.stored(id) != "" {
		t.Errorf("GET = %d, stored %q; want 200 and the session not recreated", rec.Code, e.stored(id))
	}
	e.noErrors()
}
