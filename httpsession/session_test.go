package httpsession_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
	"github.com/typedstore/typedstore/internal/clock"
)

// Regenerate of a session that another request destroyed while this one ran
// (a logout in another tab) returns ErrGone and writes nothing: the
// logged-out data does not come back under a new id.
func TestRegenerateOfDestroyedSessionIsGone(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	c := e.do("/incr").cookie()
	id := idOf(t, c)
	e.store.Update(t.Context(), id, func(v *sess) error { v.UserID = 7; return nil })

	var regenErr error
	h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := e.m.Get(r)
		if s.Data.UserID != 7 {
			t.Errorf("loaded user %d; want 7", s.Data.UserID)
		}
		// Another request logs the user out meanwhile.
		if err := e.store.Delete(r.Context(), id); err != nil {
			t.Error(err)
		}
		regenErr = s.Regenerate(r.Context())
		s.Data.UserID = 8 // and a change, which must not be saved either
	}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/login", nil)
	req.AddCookie(c)
	h.ServeHTTP(rec, req)

	if !errors.Is(regenErr, httpsession.ErrGone) {
		t.Errorf("Regenerate = %v; want ErrGone", regenErr)
	}
	if keys := e.mr.Keys(); len(keys) != 0 {
		t.Errorf("keys after Regenerate of a destroyed session = %q; want none", keys)
	}
	got := result{cookies: rec.Result().Cookies()}.cookie()
	if got == nil || got.MaxAge >= 0 {
		t.Errorf("session cookie = %v; want one that clears the browser's", got)
	}
	e.noErrors()
}

// A rolling or touched session lives MaxAge after its last request, however
// many MaxAge periods it is in use: a touch moves Redis's expiry, and the
// expiry stored in the session's cookie does not end it early.
func TestSessionInUseOutlivesMaxAge(t *testing.T) {
	const maxAge = 2 * time.Second
	const step = 500 * time.Millisecond
	tests := []struct {
		name  string
		opts  httpsession.Options
		store typedstore.Options[sess]
		path  string
	}{
		{"Rolling, loaded with GETEX", httpsession.Options{Rolling: true}, typedstore.Options[sess]{}, "/get"},
		{"Rolling, LoadWithGet", httpsession.Options{Rolling: true, LoadWithGet: true}, typedstore.Options[sess]{}, "/get"},
		{"Rolling, LoadWithGet and TouchSlack", httpsession.Options{Rolling: true, LoadWithGet: true}, typedstore.Options[sess]{TouchSlack: step}, "/get"},
		{"Session.Touch", httpsession.Options{}, typedstore.Options[sess]{}, "/touch"},
		{"Session.Touch, LoadWithGet", httpsession.Options{LoadWithGet: true}, typedstore.Options[sess]{}, "/touch"},
		{"Rolling, store without TTL", httpsession.Options{Rolling: true}, typedstore.Options[sess]{DisableTTL: true}, "/get"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := clock.NewFake(time.Now())
			clock.Set(t, fake.Now)
			mr, store := newStore(t, tt.store)
			tt.opts.MaxAge = maxAge
			e := newEnvOn(t, mr, store, tt.opts)
			advance := func(d time.Duration) {
				fake.Advance(d)
				mr.FastForward(d)
			}

			c := e.do("/incr").cookie()
			if c == nil {
				t.Fatal("no cookie for the new session")
			}
			id := idOf(t, c)
			// Five MaxAge periods of a request every 500 ms.
			for i := range int(5 * maxAge / step) {
				advance(step)
				res := e.do(tt.path, c)
				if res.body != "user=0 counter=1 new=false" {
					t.Fatalf("request %d, %v in: %q; want the session loaded", i+1, time.Duration(i+1)*step, res.body)
				}
				if c = res.cookie(); c == nil {
					t.Fatalf("request %d: no cookie; want it sent again", i+1)
				}
				if idOf(t, c) != id {
					t.Fatalf("request %d: the session changed id", i+1)
				}
				if c.MaxAge != int(maxAge/time.Second) {
					t.Errorf("request %d: cookie Max-Age %d; want %d", i+1, c.MaxAge, int(maxAge/time.Second))
				}
			}
			// Unused for MaxAge, it is gone.
			advance(maxAge + time.Millisecond)
			if res := e.do(tt.path, c); res.body != "user=0 counter=0 new=true" {
				t.Errorf("after MaxAge unused: %q; want a new session", res.body)
			}
			e.noErrors()
		})
	}
}

// The stored time to live follows MaxAge when T does not embed the cookie
// and the store's TTL says the same; New refuses a store that would keep the
// session for another time.
func TestMaxAgeReachesRedisWithoutCookie(t *testing.T) {
	type plain struct {
		N int `json:"n"`
	}
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	newStore := func(opts typedstore.Options[plain]) *typedstore.Store[plain] {
		s, err := typedstore.New(client, opts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	opts := httpsession.Options{Secrets: []string{secret}, MaxAge: time.Hour}
	if _, err := httpsession.New(newStore(typedstore.Options[plain]{}), opts); err == nil {
		t.Error("New with MaxAge 1h on a store of 24h for a T without Cookie = nil error; want one")
	} else {
		for _, want := range []string{"MaxAge is 1h0m0s", "typedstore.Options.TTL", "embed typedstore.Cookie"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("New = %v; want it to say %q", err, want)
			}
		}
	}
	for name, so := range map[string]typedstore.Options[plain]{
		"TTL = MaxAge": {TTL: time.Hour},
		"TTLFunc":      {TTLFunc: func(plain) time.Duration { return time.Hour }},
		"DisableTTL":   {DisableTTL: true},
	} {
		if _, err := httpsession.New(newStore(so), opts); err != nil {
			t.Errorf("%s: New = %v; want nil", name, err)
		}
	}

	m, err := httpsession.New(newStore(typedstore.Options[plain]{TTL: time.Hour}), opts)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Data.N++
		fmt.Fprint(w, "ok")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	c := result{cookies: rec.Result().Cookies()}.cookie()
	if c == nil || c.MaxAge != 3600 {
		t.Fatalf("cookie = %v; want Max-Age 3600", c)
	}
	pttl := client.PTTL(t.Context(), typedstore.DefaultPrefix+idOf(t, c)).Val()
	if pttl <= 59*time.Minute || pttl > time.Hour {
		t.Errorf("PTTL = %v; want MaxAge, 1h", pttl)
	}
}
