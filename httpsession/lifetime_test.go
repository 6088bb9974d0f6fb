package httpsession_test

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
)

// checkTTL fails the test unless the stored session id expires within
// [want-slack, want] from now, to the millisecond. Under DisableTTL, where
// Redis keeps no expiry, the expiry stored in the session's cookie is
// checked instead.
func checkTTL(t *testing.T, e *lifeEnv, step string, id string, want, slack time.Duration, disableTTL bool) {
	t.Helper()
	got := e.pttl(id)
	if disableTTL {
		if got != -1 {
			t.Fatalf("%s: PTTL %v; want none (-1) under DisableTTL", step, got)
		}
		got = e.load(id).Cookie.Expires().Sub(e.clock.Now())
	}
	if got < want-slack-time.Millisecond || got > want {
		if slack > 0 {
			t.Fatalf("%s: time to live %v; want %v to %v", step, got, want-slack, want)
		}
		t.Fatalf("%s: time to live %v; want %v", step, got, want)
	}
}

// An IdleTimeout ends a session unused for that long, and only then: a
// session with a request every 30 s lives through six idle periods, its
// time to live in Redis reset to the idle timeout at every step (less
// TouchSlack, where the store has it), and a persistent cookie sent again
// each time with the same Max-Age. Unused for the idle timeout, it is gone,
// and the next request says why.
func TestIdleTimeout(t *testing.T) {
	const idle = 10 * time.Minute
	const step = 30 * time.Second
	tests := []struct {
		name    string
		opts    httpsession.Options
		store   typedstore.Options[lsess]
		window  time.Duration // the idle timeout in force
		slack   time.Duration
		maxAge  int // the cookie's Max-Age in seconds; 0 for a browser-session cookie
		noTTL   bool
		cookies bool // the session cookie is sent with every response
	}{
		{name: "loaded with GETEX", opts: httpsession.Options{}, window: idle},
		{name: "LoadWithGet", opts: httpsession.Options{LoadWithGet: true}, window: idle},
		{name: "LoadWithGet and TouchSlack", opts: httpsession.Options{LoadWithGet: true},
			store: typedstore.Options[lsess]{TouchSlack: time.Minute}, window: idle, slack: time.Minute},
		{name: "Rolling", opts: httpsession.Options{Rolling: true}, window: idle, cookies: true},
		{name: "MaxAge longer", opts: httpsession.Options{MaxAge: time.Hour}, window: idle, maxAge: 600, cookies: true},
		{name: "MaxAge shorter", opts: httpsession.Options{MaxAge: 5 * time.Minute}, window: 5 * time.Minute, maxAge: 300, cookies: true},
		{name: "MaxAge, LoadWithGet and TouchSlack", opts: httpsession.Options{MaxAge: time.Hour, LoadWithGet: true},
			store: typedstore.Options[lsess]{TouchSlack: time.Minute}, window: idle, slack: time.Minute, maxAge: 600, cookies: true},
		{name: "store without TTL", opts: httpsession.Options{}, store: typedstore.Options[lsess]{DisableTTL: true}, window: idle, noTTL: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.IdleTimeout = idle
			e := newLifeEnv(t, tt.opts, tt.store)
			b := e.browser()
			if res := b.get("/login"); res.cookie() == nil {
				t.Fatal("login sent no session cookie")
			}
			id := b.id()
			checkTTL(t, e, "login", id, tt.window, 0, tt.noTTL)
			for i := 1; i <= int(6*idle/step); i++ {
				e.advance(step)
				at := fmt.Sprintf("request %d, %v after login", i, time.Duration(i)*step)
				res := b.get("/get")
				if res.body != loggedIn(0) {
					t.Fatalf("%s: %q; want the session", at, res.body)
				}
				if b.id() != id {
					t.Fatalf("%s: the session changed id", at)
				}
				checkTTL(t, e, at, id, tt.window, tt.slack, tt.noTTL)
				c := res.cookie()
				switch {
				case tt.cookies && c == nil:
					t.Fatalf("%s: no session cookie; want it sent again", at)
				case c != nil && c.MaxAge != tt.maxAge:
					t.Fatalf("%s: cookie Max-Age %d; want %d", at, c.MaxAge, tt.maxAge)
				}
			}
			e.advance(tt.window + time.Millisecond)
			if res := b.get("/get"); res.body != endedBody(httpsession.ExpiredIdle) {
				t.Errorf("unused for %v: %q; want a new session after an idle end", tt.window, res.body)
			}
			if res := b.get("/get"); res.body != endedBody("") {
				t.Errorf("the request after: %q; want the end reported once", res.body)
			}
		})
	}
}

// A Lifetime ends a session that long after the login, however active: with
// a request every minute, the session is there up to its absolute deadline
// and gone at it, never later. At every step its time to live in Redis is
// the sooner of its idle and absolute deadlines, and a persistent cookie
// never promises more.
func TestLifetimeUnderConstantActivity(t *testing.T) {
	const life = time.Hour
	const idle = 10 * time.Minute
	tests := []struct {
		name   string
		opts   httpsession.Options
		store  typedstore.Options[lsess]
		login  string
		window time.Duration // the idle timeout in force
		slack  time.Duration
		maxAge time.Duration // the cookie's max-age; 0 for a browser-session cookie
		noTTL  bool
	}{
		{name: "browser-session cookie", opts: httpsession.Options{IdleTimeout: idle}, login: "/login", window: idle},
		{name: "Rolling with MaxAge", opts: httpsession.Options{IdleTimeout: idle, MaxAge: 24 * time.Hour, Rolling: true},
			login: "/login", window: idle, maxAge: idle},
		{name: "remember me", opts: httpsession.Options{IdleTimeout: idle}, login: "/login?remember=1", window: idle, maxAge: idle},
		{name: "TouchSlack", opts: httpsession.Options{IdleTimeout: idle}, store: typedstore.Options[lsess]{TouchSlack: time.Minute},
			login: "/login", window: idle, slack: time.Minute},
		{name: "Rolling MaxAge without IdleTimeout", opts: httpsession.Options{MaxAge: 20 * time.Minute, Rolling: true},
			login: "/login", window: 20 * time.Minute, maxAge: 20 * time.Minute},
		{name: "store TTL without IdleTimeout", store: typedstore.Options[lsess]{TTL: 15 * time.Minute},
			login: "/login", window: 15 * time.Minute},
		{name: "store without TTL", opts: httpsession.Options{IdleTimeout: idle}, store: typedstore.Options[lsess]{DisableTTL: true},
			login: "/login", window: idle, noTTL: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Lifetime = life
			e := newLifeEnv(t, tt.opts, tt.store)
			b := e.browser()
			b.get(tt.login)
			id := b.id()
			if id == "" {
				t.Fatal("login sent no session cookie")
			}
			deadline := e.clock.Now().Add(life)
			for i := 1; i <= int(life/time.Minute)+1; i++ {
				e.advance(time.Minute)
				at := fmt.Sprintf("minute %d", i)
				res := b.get("/get")
				if !e.clock.Now().Before(deadline) {
					want := endedBody(httpsession.ExpiredLifetime)
					if i > int(life/time.Minute) {
						want = endedBody("")
					}
					if res.body != want {
						t.Fatalf("%s, at or after the deadline: %q; want %q", at, res.body, want)
					}
					continue
				}
				if res.body != loggedIn(0) {
					t.Fatalf("%s, before the deadline: %q; want the session", at, res.body)
				}
				left := deadline.Sub(e.clock.Now())
				checkTTL(t, e, at, id, min(tt.window, left), tt.slack, tt.noTTL)
				if c := res.cookie(); c != nil {
					want := 0
					if tt.maxAge > 0 {
						want = int(min(tt.maxAge, left) / time.Second)
					}
					if c.MaxAge != want {
						t.Fatalf("%s: cookie Max-Age %d; want %d", at, c.MaxAge, want)
					}
					if want > 0 && c.Expires.After(deadline) {
						t.Fatalf("%s: cookie Expires %v, after the deadline %v", at, c.Expires, deadline)
					}
				}
			}
			if keys := e.mr.Keys(); len(keys) != 0 {
				t.Errorf("keys after the lifetime = %q; want none", keys)
			}
		})
	}
}

// Remember-me is chosen per session at login: a persistent cookie whose
// Max-Age, like the stored time to live, is the sooner of its max-age, the
// idle timeout and the absolute deadline; or a browser-session cookie, whose
// stored session lives for the idle timeout (or the store's TTL). Closing
// the browser ends only the second.
func TestRememberMe(t *testing.T) {
	tests := []struct {
		name     string
		opts     httpsession.Options
		store    typedstore.Options[lsess]
		remember bool
		maxAge   time.Duration // 0: a browser-session cookie
		ttl      time.Duration
	}{
		{"on, IdleTimeout", httpsession.Options{IdleTimeout: 2 * time.Hour, Lifetime: 7 * 24 * time.Hour}, typedstore.Options[lsess]{}, true, 2 * time.Hour, 2 * time.Hour},
		{"off, IdleTimeout", httpsession.Options{IdleTimeout: 2 * time.Hour, Lifetime: 7 * 24 * time.Hour}, typedstore.Options[lsess]{}, false, 0, 2 * time.Hour},
		{"on, Lifetime only", httpsession.Options{Lifetime: 7 * 24 * time.Hour}, typedstore.Options[lsess]{}, true, 7 * 24 * time.Hour, 7 * 24 * time.Hour},
		{"off, Lifetime only", httpsession.Options{Lifetime: 7 * 24 * time.Hour}, typedstore.Options[lsess]{}, false, 0, typedstore.DefaultTTL},
		{"off, Lifetime shorter than the store's TTL", httpsession.Options{Lifetime: time.Hour}, typedstore.Options[lsess]{}, false, 0, time.Hour},
		{"on, IdleTimeout, Rolling", httpsession.Options{IdleTimeout: 2 * time.Hour, Rolling: true}, typedstore.Options[lsess]{}, true, 2 * time.Hour, 2 * time.Hour},
		{"off, IdleTimeout, Rolling", httpsession.Options{IdleTimeout: 2 * time.Hour, Rolling: true}, typedstore.Options[lsess]{}, false, 0, 2 * time.Hour},
		{"on, LoadWithGet and TouchSlack", httpsession.Options{IdleTimeout: 2 * time.Hour, LoadWithGet: true}, typedstore.Options[lsess]{TouchSlack: time.Minute}, true, 2 * time.Hour, 2 * time.Hour},
		{"off, LoadWithGet and TouchSlack", httpsession.Options{IdleTimeout: 2 * time.Hour, LoadWithGet: true}, typedstore.Options[lsess]{TouchSlack: time.Minute}, false, 0, 2 * time.Hour},
		{"on, no policy", httpsession.Options{}, typedstore.Options[lsess]{}, true, remember, remember},
		{"off, no policy", httpsession.Options{}, typedstore.Options[lsess]{}, false, 0, typedstore.DefaultTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newLifeEnv(t, tt.opts, tt.store)
			b := e.browser()
			path := "/login"
			if tt.remember {
				path += "?remember=1"
			}
			c := b.get(path).cookie()
			if c == nil {
				t.Fatal("login sent no session cookie")
			}
			if got := time.Duration(c.MaxAge) * time.Second; got != tt.maxAge {
				t.Errorf("cookie Max-Age %v; want %v", got, tt.maxAge)
			}
			if tt.maxAge == 0 && !c.Expires.IsZero() {
				t.Errorf("browser-session cookie with Expires %v", c.Expires)
			}
			if got := e.pttl(b.id()); got != tt.ttl {
				t.Errorf("stored time to live %v; want %v", got, tt.ttl)
			}
			for name, jc := range b.cookies {
				if (jc.expires.IsZero()) != (tt.maxAge == 0) {
					t.Errorf("cookie %s persistent = %v; want %v", name, !jc.expires.IsZero(), tt.maxAge != 0)
				}
			}
			policy := tt.opts.IdleTimeout > 0 || tt.opts.Lifetime > 0
			if end := b.cookies[httpsession.DefaultName+".end"]; (end.c != nil) != policy {
				t.Errorf("end cookie %v; want one only under IdleTimeout or Lifetime", end.c)
			} else if policy && tt.maxAge > 0 {
				// A week past the session's end.
				if got, want := time.Duration(end.c.MaxAge)*time.Second, min(tt.maxAge, tt.ttl)+7*24*time.Hour; got != want {
					t.Errorf("end cookie Max-Age %v; want %v", got, want)
				}
			}
			b.close()
			e.advance(time.Minute)
			want := loggedIn(0)
			if !tt.remember {
				want = endedBody("")
			}
			if res := b.get("/get"); res.body != want {
				t.Errorf("after closing the browser: %q; want %q", res.body, want)
			}
		})
	}
}

// A login (Regenerate) starts the lifetime again; renewing the id does not.
func TestRegenerateRestartsLifetime(t *testing.T) {
	e := newLifeEnv(t, httpsession.Options{Lifetime: time.Hour, IdleTimeout: 10 * time.Minute, RenewAfter: 15 * time.Minute}, typedstore.Options[lsess]{})
	b := e.browser()
	b.get("/login")
	start := e.clock.Now()
	if got := e.load(b.id()).Started(); !got.Equal(start.Truncate(time.Millisecond)) {
		t.Errorf("StartedAt %v; want the login, %v", got, start)
	}
	for range 50 {
		e.advance(time.Minute)
		if res := b.get("/get"); res.body != loggedIn(0) {
			t.Fatalf("%q; want the session", res.body)
		}
	}
	if got := e.load(b.id()).Started(); !got.Equal(start.Truncate(time.Millisecond)) {
		t.Errorf("StartedAt after renewals %v; want the login's, %v", got, start)
	}
	b.get("/login")
	relogin := e.clock.Now()
	for range 30 {
		e.advance(time.Minute)
		if res := b.get("/get"); res.body != loggedIn(0) {
			t.Fatalf("%v after the first login, %v after the second: %q; want the session",
				e.clock.Now().Sub(start), e.clock.Now().Sub(relogin), res.body)
		}
	}
}

// The end is reported only for the lifetime policy's own ends: not for a
// first visit, a logout or a session deleted by other means (another
// device's DestroyOthers, an operator), and only once.
func TestExpiredReasons(t *testing.T) {
	e := newLifeEnv(t, httpsession.Options{IdleTimeout: 10 * time.Minute, Lifetime: time.Hour}, typedstore.Options[lsess]{})
	b := e.browser()
	if res := b.get("/get"); res.body != endedBody("") {
		t.Errorf("first visit: %q", res.body)
	}
	res := b.get("/login")
	// The end cookie: the session cookie's attributes, no credential.
	end, sc := b.cookies[httpsession.DefaultName+".end"].c, res.cookie()
	switch {
	case end == nil:
		t.Fatal("no end cookie after a login")
	case strings.Contains(end.Value, b.id()):
		t.Errorf("the end cookie %q holds the session id", end.Value)
	case end.Path != sc.Path || end.HttpOnly != sc.HttpOnly || end.SameSite != sc.SameSite || end.Secure != sc.Secure || end.MaxAge != sc.MaxAge:
		t.Errorf("end cookie %v; want the attributes of the session cookie %v", end, sc)
	}
	b.get("/logout")
	if _, ok := b.cookies[httpsession.DefaultName+".end"]; ok {
		t.Error("the end cookie outlived a logout")
	}
	if res := b.get("/get"); res.body != endedBody("") {
		t.Errorf("after a logout: %q; want no reason", res.body)
	}
	b.get("/login")
	if err := e.store.Delete(t.Context(), b.id()); err != nil {
		t.Fatal(err)
	}
	if res := b.get("/get"); res.body != endedBody("") {
		t.Errorf("after a deletion by other means: %q; want no reason", res.body)
	}
	b.get("/login")
	e.advance(11 * time.Minute)
	if res := b.get("/get"); res.body != endedBody(httpsession.ExpiredIdle) {
		t.Errorf("after 11 idle minutes: %q", res.body)
	}
	if res := b.get("/get"); res.body != endedBody("") {
		t.Errorf("the request after: %q; want the end reported once", res.body)
	}
	// A forged or foreign end cookie says nothing.
	b.cookies[httpsession.DefaultName+".end"] = jarCookie{c: &http.Cookie{Name: httpsession.DefaultName + ".end", Value: "s%3A1.1.forged"}}
	if res := b.get("/get"); res.body != endedBody("") {
		t.Errorf("with a forged end cookie: %q; want no reason", res.body)
	}
}

// A session stored without a start (saved by an Express app, or before the
// policy was set) begins when the middleware first loads it, and is saved
// with its start; one that an Express app's touches kept in Redis past its
// absolute deadline is deleted when loaded, and the request says why.
func TestLifetimeOfSessionsStoredWithoutIt(t *testing.T) {
	e := newLifeEnv(t, httpsession.Options{Lifetime: time.Hour}, typedstore.Options[lsess]{})
	maxAge := int64(time.Hour / time.Millisecond)
	exp := e.clock.Now().Add(time.Hour).UTC()
	if err := e.store.Set(t.Context(), "from-node", lsess{Cookie: typedstore.Cookie{OriginalMaxAge: &maxAge, ExpiresAt: &exp, Path: "/", HTTPOnly: true}, UserID: 7}); err != nil {
		t.Fatal(err)
	}
	c := signedCookie("from-node", secret)
	e.advance(time.Minute)
	first := e.clock.Now()
	req := httptest.NewRequest("GET", "/get", nil)
	req.AddCookie(c)
	e.h.ServeHTTP(httptest.NewRecorder(), req)
	if got := e.load("from-node").Started(); !got.Equal(first.Truncate(time.Millisecond)) {
		t.Fatalf("StartedAt after the first load %v; want %v", got, first)
	}
	// An Express app keeps touching it past its deadline.
	e.advance(59 * time.Minute)
	if err := e.client.PExpire(t.Context(), typedstore.DefaultPrefix+"from-node", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	e.advance(2 * time.Minute)
	rec := httptest.NewRecorder()
	req = httptest.NewRequest("GET", "/get", nil)
	req.AddCookie(c)
	e.h.ServeHTTP(rec, req)
	if got := rec.Body.String(); got != endedBody(httpsession.ExpiredLifetime) {
		t.Errorf("past the deadline: %q; want a new session after a lifetime end", got)
	}
	if e.mr.Exists(typedstore.DefaultPrefix + "from-node") {
		t.Error("the session past its deadline is still stored")
	}
}

// New refuses lifetime options it cannot honour, with an error that says
// why.
func TestNewValidatesLifetimeOptions(t *testing.T) {
	_, cookieOnly := newStore(t, typedstore.Options[sess]{})
	_, full := newStore(t, typedstore.Options[lsess]{})
	_, ttlFunc := newStore(t, typedstore.Options[lsess]{TTLFunc: func(lsess) time.Duration { return time.Hour }})
	_, renamed := newStore(t, typedstore.Options[lsess]{Prefix: "renewed:"})
	_, noTouch := newStore(t, typedstore.Options[lsess]{DisableTouch: true})
	type plain struct {
		N int `json:"n"`
	}
	_, bare := newStore(t, typedstore.Options[plain]{})
	tests := []struct {
		name string
		new  func() error
		want string
	}{
		{"negative IdleTimeout", newWith(full, httpsession.Options{IdleTimeout: -1}), "negative IdleTimeout"},
		{"negative Lifetime", newWith(full, httpsession.Options{Lifetime: -1}), "negative Lifetime"},
		{"negative RenewAfter", newWith(full, httpsession.Options{RenewAfter: -1}), "negative RenewAfter"},
		{"negative RenewGrace", newWith(full, httpsession.Options{RenewAfter: time.Hour, RenewGrace: -1}), "negative RenewGrace"},
		{"RenewGrace alone", newWith(full, httpsession.Options{RenewGrace: time.Second}), "RenewGrace needs RenewAfter"},
		{"IdleTimeout without Cookie", newWith(bare, httpsession.Options{IdleTimeout: time.Hour}), "embed typedstore.Cookie"},
		{"Lifetime without Lifetime", newWith(cookieOnly, httpsession.Options{Lifetime: time.Hour}), "embed typedstore.Lifetime"},
		{"RenewAfter without Lifetime", newWith(cookieOnly, httpsession.Options{RenewAfter: time.Hour}), "embed typedstore.Lifetime"},
		{"TTLFunc", newWith(ttlFunc, httpsession.Options{Lifetime: time.Hour}), "TTLFunc would override"},
		{"renewed ids under the prefix", newWith(renamed, httpsession.Options{RenewAfter: time.Hour}), "overlap"},
		{"IdleTimeout on a store without touches", newWith(noTouch, httpsession.Options{IdleTimeout: time.Hour}), "DisableTouch"},
	}
	for _, tt := range tests {
		err := tt.new()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v; want an error saying %q", tt.name, err, tt.want)
		}
	}
	if err := newWith(cookieOnly, httpsession.Options{IdleTimeout: time.Hour})(); err != nil {
		t.Errorf("IdleTimeout with the cookie alone: New = %v; want nil", err)
	}
	if err := newWith(full, httpsession.Options{IdleTimeout: time.Hour, Lifetime: time.Hour, RenewAfter: time.Hour, RenewGrace: time.Second})(); err != nil {
		t.Errorf("every option: New = %v; want nil", err)
	}
}

func newWith[T any](store *typedstore.Store[T], opts httpsession.Options) func() error {
	return func() error {
		opts.Secrets = []string{secret}
		_, err := httpsession.New(store, opts)
		return err
	}
}

// What docs/testing.md tells users: without the package's own clock,
// miniredis's FastForward ends an idle session (its time to live is
// Redis's), and Expired, decided on the process's clock, says nothing.
func TestFastForwardEndsIdleSessions(t *testing.T) {
	e := newEnv(t, httpsession.Options{IdleTimeout: time.Minute})
	c := e.do("/incr").cookie()
	if res := e.do("/get", c); res.body != "user=0 counter=1 new=false" {
		t.Fatalf("before: %q; want the session", res.body)
	}
	e.mr.FastForward(time.Minute)
	if res := e.do("/get", c); res.body != "user=0 counter=0 new=true" {
		t.Errorf("after FastForward past IdleTimeout: %q; want a new session", res.body)
	}
	e.noErrors()
}

// A stored max-age that an Express app could write but that means nothing
// (0, negative, past what a duration holds) does not switch the idle
// timeout off.
func TestOddStoredMaxAgeKeepsIdleTimeout(t *testing.T) {
	for _, ms := range []int64{0, -1000, math.MaxInt64} {
		e := newLifeEnv(t, httpsession.Options{IdleTimeout: 30 * time.Minute}, typedstore.Options[lsess]{})
		exp := e.clock.Now().Add(time.Hour).UTC()
		if err := e.store.Set(t.Context(), "odd", lsess{Cookie: typedstore.Cookie{OriginalMaxAge: &ms, ExpiresAt: &exp, Path: "/", HTTPOnly: true}, Counter: 1}); err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("GET", "/incr", nil)
		req.AddCookie(signedCookie("odd", secret))
		e.h.ServeHTTP(httptest.NewRecorder(), req)
		if got := e.pttl("odd"); got != 30*time.Minute {
			t.Errorf("originalMaxAge %d: time to live %v after a request; want the idle timeout, 30m", ms, got)
		}
	}
}
