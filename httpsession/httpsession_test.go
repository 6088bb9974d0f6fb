package httpsession_test

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
)

func TestNewValidatesOptions(t *testing.T) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	store, err := typedstore.New(client, typedstore.Options[sess]{})
	if err != nil {
		t.Fatal(err)
	}
	ok := []string{secret}
	tests := []struct {
		name string
		opts httpsession.Options
		want string // in the error; "" for no error
	}{
		{"defaults", httpsession.Options{Secrets: ok}, ""},
		{"no secrets", httpsession.Options{}, "Secrets is empty"},
		{"empty secret list", httpsession.Options{Secrets: []string{}}, "Secrets is empty"},
		{"empty secret", httpsession.Options{Secrets: []string{secret, ""}}, "Secrets[1] is empty"},
		{"bad name", httpsession.Options{Secrets: ok, Name: "a b"}, "invalid Cookie.Name"},
		{"bad path", httpsession.Options{Secrets: ok, Path: "/a;b"}, "in Cookie.Path"},
		{"bad domain", httpsession.Options{Secrets: ok, Domain: "a;b"}, "invalid Cookie.Domain"},
		{"empty label in domain", httpsession.Options{Secrets: ok, Domain: "a..b"}, "invalid Cookie.Domain"},
		{"label with hyphens at its ends", httpsession.Options{Secrets: ok, Domain: "-bad-.example"}, "invalid Cookie.Domain"},
		{"port in domain", httpsession.Options{Secrets: ok, Domain: "example.com:8080"}, "invalid Cookie.Domain"},
		{"good domain", httpsession.Options{Secrets: ok, Domain: ".example.com"}, ""},
		{"negative MaxAge", httpsession.Options{Secrets: ok, MaxAge: -time.Second}, "negative MaxAge"},
		{"bad Secure", httpsession.Options{Secrets: ok, Secure: 7}, "unknown SecureMode"},
		{"bad SameSite", httpsession.Options{Secrets: ok, SameSite: 9}, "unknown SameSite"},
		{"SameSite None without Secure", httpsession.Options{Secrets: ok, SameSite: http.SameSiteNoneMode, Secure: httpsession.SecureNever}, "requires Secure"},
		{"Partitioned without Secure", httpsession.Options{Secrets: ok, Partitioned: true, Secure: httpsession.SecureNever}, "requires Secure"},
		{"bad OnCorrupt", httpsession.Options{Secrets: ok, OnCorrupt: 5}, "unknown CorruptPolicy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := httpsession.New(store, tt.opts)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("New = %v; want no error", err)
			case tt.want == "" && m == nil:
				t.Error("New = nil manager")
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("New = %v; want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := httpsession.New[sess](nil, httpsession.Options{Secrets: ok}); err == nil {
		t.Error("New(nil store) = nil error; want one")
	}
}

func TestGoldenVectorSetCookie(t *testing.T) {
	// cookie-signature's own test vector, signed with "keyboard cat".
	e := newEnv(t, httpsession.Options{Secrets: []string{"keyboard cat"}, GenID: func(*http.Request) (string, error) { return "apple", nil }})
	res := e.do("/incr")
	want := "connect.sid=s%3Aapple.D8Y%2BpkTAmeR0PobOhY4G97PRW%2Bj7bUnP%2F5m6%2FOn1MCU; Path=/; HttpOnly; SameSite=Lax"
	if got := res.setCookie(); got != want {
		t.Errorf("Set-Cookie = %q; want %q", got, want)
	}
	// And the same value is read back.
	if res := e.do("/get", res.cookie()); res.body != "user=0 counter=1 new=false" {
		t.Errorf("GET /get with the golden cookie = %q; want counter=1", res.body)
	}
	e.noErrors()
}

func TestGetOutsideHandler(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	if s := e.m.Get(httptest.NewRequest("GET", "/", nil)); s != nil {
		t.Errorf("Get outside Handler = %v; want nil", s)
	}
}

func TestUninitializedSessionIsNotSaved(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	for _, path := range []string{"/get", "/nothing", "/touch"} {
		res := e.do(path)
		if c := res.setCookie(); c != "" {
			t.Errorf("GET %s: Set-Cookie %q; want none", path, c)
		}
	}
	if keys := e.mr.Keys(); len(keys) != 0 {
		t.Errorf("store holds %v; want nothing", keys)
	}
	e.noErrors()
}

func TestSaveUninitialized(t *testing.T) {
	e := newEnv(t, httpsession.Options{SaveUninitialized: true})
	res := e.do("/get")
	id := idOf(t, res.cookie())
	if e.stored(id) == "" {
		t.Errorf("session %q not stored", id)
	}
	if res := e.do("/get", res.cookie()); res.body != "user=0 counter=0 new=false" || res.setCookie() != "" {
		t.Errorf("second request = %q, Set-Cookie %q; want an existing session, no cookie", res.body, res.setCookie())
	}
	e.noErrors()
}

func TestModifiedSessionIsSavedWithExpressShape(t *testing.T) {
	e := newEnv(t, httpsession.Options{MaxAge: time.Hour})
	before := time.Now()
	res := e.do("/incr")
	if res.body != "user=0 counter=1 new=true" {
		t.Errorf("body = %q", res.body)
	}
	c := res.cookie()
	id := idOf(t, c)
	if c.MaxAge != 3600 || c.Expires.IsZero() {
		t.Errorf("cookie Max-Age %d, Expires %v; want 3600 and a date", c.MaxAge, c.Expires)
	}
	raw := e.stored(id)
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatalf("stored %q: %v", raw, err)
	}
	var ck struct {
		OriginalMaxAge int64  `json:"originalMaxAge"`
		Expires        string `json:"expires"`
		HTTPOnly       bool   `json:"httpOnly"`
		Path           string `json:"path"`
		SameSite       string `json:"sameSite"`
	}
	if err := json.Unmarshal(doc["cookie"], &ck); err != nil {
		t.Fatalf("stored cookie %s: %v", doc["cookie"], err)
	}
	exp, err := time.Parse(time.RFC3339Nano, ck.Expires)
	if err != nil {
		t.Fatalf("expires %q: %v", ck.Expires, err)
	}
	if ck.OriginalMaxAge != 3600000 || !ck.HTTPOnly || ck.Path != "/" || ck.SameSite != "lax" {
		t.Errorf("stored cookie = %s; want originalMaxAge 3600000, httpOnly, path /, sameSite lax", doc["cookie"])
	}
	if !strings.HasSuffix(ck.Expires, "Z") || exp.Nanosecond()%int(time.Millisecond) != 0 ||
		exp.Before(before.Add(time.Hour-time.Second)) || exp.After(time.Now().Add(time.Hour)) {
		t.Errorf("stored expires = %q; want about an hour from now, UTC, in milliseconds", ck.Expires)
	}
	if string(doc["counter"]) != "1" {
		t.Errorf("stored counter = %s; want 1", doc["counter"])
	}
	if ttl := e.mr.TTL(typedstore.DefaultPrefix + id); ttl < time.Hour-time.Second || ttl > time.Hour {
		t.Errorf("TTL = %v; want about 1h (the cookie's expiry)", ttl)
	}

	// Changed again: saved, and the cookie resent with its new expiry.
	res = e.do("/incr", c)
	if res.body != "user=0 counter=2 new=false" || res.cookie() == nil || idOf(t, res.cookie()) != id {
		t.Errorf("second /incr = %q, cookie %v; want counter=2 and the same id resent", res.body, res.cookie())
	}
	e.noErrors()
}

func TestUnmodifiedSessionIsTouchedNotRewritten(t *testing.T) {
	e := newEnv(t, httpsession.Options{MaxAge: time.Hour})
	res := e.do("/incr")
	c := res.cookie()
	key := typedstore.DefaultPrefix + idOf(t, c)
	// Rewrite the stored value with the same meaning but other bytes: a
	// rewrite by the middleware would change them back.
	raw := e.stored(idOf(t, c))
	marked := strings.Replace(raw, `"counter":1`, `"counter": 1`, 1)
	e.mr.Set(key, marked)
	e.mr.SetTTL(key, time.Hour)
	e.mr.FastForward(40 * time.Minute)

	res = e.do("/get", c)
	if res.body != "user=0 counter=1 new=false" {
		t.Errorf("body = %q", res.body)
	}
	if got, _ := e.mr.Get(key); got != marked {
		t.Errorf("stored value = %q; want it untouched %q", got, marked)
	}
	if ttl := e.mr.TTL(key); ttl < 59*time.Minute {
		t.Errorf("TTL after an unmodified request = %v; want it reset to about 1h", ttl)
	}
	if sc := res.setCookie(); sc != "" {
		t.Errorf("Set-Cookie = %q; want none for an unmodified session without Rolling", sc)
	}
	e.noErrors()
}

func TestResave(t *testing.T) {
	e := newEnv(t, httpsession.Options{Resave: true})
	c := e.do("/incr").cookie()
	id := idOf(t, c)
	key := typedstore.DefaultPrefix + id
	marked := strings.Replace(e.stored(id), `"counter":1`, `"counter": 1`, 1)
	e.mr.Set(key, marked)
	e.do("/get", c)
	if got := e.stored(id); got == marked || !strings.Contains(got, `"counter":1`) {
		t.Errorf("stored value after an unmodified request = %q; want it rewritten under Resave", got)
	}
	e.noErrors()
}

func TestRolling(t *testing.T) {
	for _, rolling := range []bool{false, true} {
		e := newEnv(t, httpsession.Options{MaxAge: time.Hour, Rolling: rolling})
		c := e.do("/incr").cookie()
		e.mr.FastForward(10 * time.Minute)
		res := e.do("/get", c)
		if got := res.cookie() != nil; got != rolling {
			t.Errorf("Rolling=%v: unmodified request sent a cookie: %v; want %v", rolling, got, rolling)
		}
		if rolling && res.cookie().MaxAge != 3600 {
			t.Errorf("Rolling: Max-Age = %d; want 3600", res.cookie().MaxAge)
		}
		e.noErrors()
	}
}

func TestBrowserSessionCookie(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	res := e.do("/incr")
	c := res.cookie()
	if c.MaxAge != 0 || !c.Expires.IsZero() || strings.Contains(res.setCookie(), "Expires") {
		t.Errorf("Set-Cookie = %q; want no Max-Age or Expires", res.setCookie())
	}
	id := idOf(t, c)
	if raw := e.stored(id); !strings.Contains(raw, `"originalMaxAge":null`) || !strings.Contains(raw, `"expires":null`) {
		t.Errorf("stored %q; want originalMaxAge and expires null", raw)
	}
	if ttl := e.mr.TTL(typedstore.DefaultPrefix + id); ttl != typedstore.DefaultTTL {
		t.Errorf("TTL = %v; want the store's %v", ttl, typedstore.DefaultTTL)
	}
	// A change to a browser-session cookie's session sends no new cookie.
	if res := e.do("/incr", c); res.setCookie() != "" {
		t.Errorf("Set-Cookie on change = %q; want none", res.setCookie())
	}
	e.noErrors()
}

func TestCookieAttributes(t *testing.T) {
	tests := []struct {
		name string
		opts httpsession.Options
		tls  bool
		want string // the Set-Cookie header, after the value
	}{
		{"defaults", httpsession.Options{}, false, "; Path=/; HttpOnly; SameSite=Lax"},
		{"defaults over TLS", httpsession.Options{}, true, "; Path=/; HttpOnly; Secure; SameSite=Lax"},
		{"path and domain", httpsession.Options{Path: "/app", Domain: "example.com"}, false, "; Path=/app; Domain=example.com; HttpOnly; SameSite=Lax"},
		{"no HttpOnly", httpsession.Options{DisableHTTPOnly: true}, false, "; Path=/; SameSite=Lax"},
		{"strict", httpsession.Options{SameSite: http.SameSiteStrictMode}, false, "; Path=/; HttpOnly; SameSite=Strict"},
		{"none", httpsession.Options{SameSite: http.SameSiteNoneMode}, true, "; Path=/; HttpOnly; Secure; SameSite=None"},
		{"no SameSite", httpsession.Options{SameSite: http.SameSiteDefaultMode}, false, "; Path=/; HttpOnly"},
		{"partitioned", httpsession.Options{Partitioned: true, Secure: httpsession.SecureAlways}, true, "; Path=/; HttpOnly; Secure; SameSite=Lax; Partitioned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts)
			r := httptest.NewRequest("GET", "/incr", nil)
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			sc := e.doReq(r).setCookie()
			_, attrs, _ := strings.Cut(sc, ";")
			if got := ";" + attrs; got != tt.want {
				t.Errorf("Set-Cookie = %q; want attributes %q", sc, tt.want)
			}
			e.noErrors()
		})
	}
}

func TestCookieName(t *testing.T) {
	e := newEnv(t, httpsession.Options{Name: "sid"})
	res := e.do("/incr")
	if len(res.cookies) != 1 || res.cookies[0].Name != "sid" {
		t.Fatalf("cookies = %v; want one named sid", res.cookies)
	}
	c := res.cookies[0]
	if res := e.do("/get", c); res.body != "user=0 counter=1 new=false" {
		t.Errorf("with cookie sid: %q; want counter=1", res.body)
	}
	c.Name = httpsession.DefaultName
	if res := e.do("/get", c); res.body != "user=0 counter=0 new=true" {
		t.Errorf("with the value under connect.sid: %q; want a new session", res.body)
	}
}

func TestSecureModes(t *testing.T) {
	tests := []struct {
		name       string
		mode       httpsession.SecureMode
		trustProxy bool
		tls        bool
		proto      string
		wantCookie bool
		wantSecure bool
	}{
		{"auto, http", httpsession.SecureAuto, false, false, "", true, false},
		{"auto, TLS", httpsession.SecureAuto, false, true, "", true, true},
		{"auto, untrusted proxy header", httpsession.SecureAuto, false, false, "https", true, false},
		{"auto, trusted proxy https", httpsession.SecureAuto, true, false, "https, http", true, true},
		{"auto, trusted proxy http", httpsession.SecureAuto, true, false, "http", true, false},
		{"always, http: no cookie", httpsession.SecureAlways, false, false, "", false, false},
		{"always, TLS", httpsession.SecureAlways, false, true, "", true, true},
		{"always, trusted proxy", httpsession.SecureAlways, true, false, "HTTPS", true, true},
		{"never, TLS", httpsession.SecureNever, false, true, "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, httpsession.Options{Secure: tt.mode, TrustProxy: tt.trustProxy})
			r := httptest.NewRequest("GET", "/incr", nil)
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tt.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			c := e.doReq(r).cookie()
			if (c != nil) != tt.wantCookie {
				t.Fatalf("cookie sent: %v; want %v", c != nil, tt.wantCookie)
			}
			if c != nil && c.Secure != tt.wantSecure {
				t.Errorf("Secure = %v; want %v", c.Secure, tt.wantSecure)
			}
		})
	}
}

// TestBadCookies checks that every cookie that is not a valid signature of
// a stored session's id gets a new session under a new id, never an error
// and never the client's id.
func TestBadCookies(t *testing.T) {
	good := signedCookie("apple", secret).Value
	tests := []struct{ name, value string }{
		{"unsigned", "apple"},
		{"unsigned with prefix", "s%3Aapple"},
		{"tampered id", strings.Replace(good, "apple", "applf", 1)},
		{"tampered signature", good[:12] + "x" + good[13:]},
		{"truncated", good[:len(good)-2]},
		{"wrongly encoded", "s%3Aapple.%zz"},
		{"oversized", "s%3A" + strings.Repeat("a", 5000) + ".sig"},
		{"unknown secret", signedCookie("apple", "another secret").Value},
		{"valid signature, no such session", signedCookie("ghost", secret).Value},
		{"valid signature, empty id", signedCookie("", secret).Value},
		{"valid signature, id too long", signedCookie(strings.Repeat("z", typedstore.MaxIDLen+1), secret).Value},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, httpsession.Options{})
			e.put("apple", sess{UserID: 1, Counter: 5})
			c := &http.Cookie{Name: httpsession.DefaultName, Value: tt.value}
			res := e.do("/incr", c)
			if res.code != 200 || res.body != "user=0 counter=1 new=true" {
				t.Fatalf("GET /incr = %d %q; want 200 and a new session", res.code, res.body)
			}
			id := idOf(t, res.cookie())
			if id == "apple" || id == "ghost" || strings.Contains(tt.value, id) {
				t.Errorf("new session id %q comes from the client's cookie %q", id, tt.value)
			}
			if got := e.stored("apple"); !strings.Contains(got, `"counter":5`) {
				t.Errorf("session apple = %q; want it untouched", got)
			}
			e.noErrors()
		})
	}
	t.Run("raw cookie header", func(t *testing.T) {
		e := newEnv(t, httpsession.Options{})
		r := httptest.NewRequest("GET", "/get", nil)
		r.Header.Set("Cookie", `connect.sid="s:apple; other=1`)
		if res := e.doReq(r); res.code != 200 || res.body != "user=0 counter=0 new=true" {
			t.Errorf("malformed Cookie header: %d %q; want a new session", res.code, res.body)
		}
	})
}

func TestSecondCookieOfTheSameName(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	e.put("apple", sess{Counter: 5})
	bad := &http.Cookie{Name: httpsession.DefaultName, Value: "junk"}
	if res := e.do("/get", bad, signedCookie("apple", secret)); res.body != "user=0 counter=5 new=false" {
		t.Errorf("junk then a valid cookie: %q; want the valid cookie's session", res.body)
	}
}

func TestSecretRotation(t *testing.T) {
	// A session signed with the old secret.
	e := newEnv(t, httpsession.Options{Secrets: []string{"new secret", secret}, Rolling: true})
	e.put("apple", sess{Counter: 5})
	old := signedCookie("apple", secret)
	res := e.do("/incr", old)
	if res.body != "user=0 counter=6 new=false" {
		t.Errorf("cookie signed with the old secret: %q; want the stored session", res.body)
	}
	if got, want := res.cookie().Value, signedCookie("apple", "new secret").Value; unescape(t, got) != unescape(t, want) {
		t.Errorf("resent cookie = %q; want it signed with the first secret (%q)", got, want)
	}

	// Once the old secret is dropped, its cookies are worthless.
	e2 := newEnvOn(t, e.mr, e.store, httpsession.Options{Secrets: []string{"new secret"}})
	if res := e2.do("/get", old); res.body != "user=0 counter=0 new=true" {
		t.Errorf("old cookie after the old secret was dropped: %q; want a new session", res.body)
	}
}

func TestRegenerate(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	anon := e.do("/incr").cookie()
	oldID := idOf(t, anon)

	res := e.do("/login", anon)
	if res.code != http.StatusSeeOther {
		t.Fatalf("login = %d; want 303", res.code)
	}
	newID := idOf(t, res.cookie())
	if newID == oldID {
		t.Fatalf("Regenerate kept the id %q", oldID)
	}
	if got := e.stored(oldID); got != "" {
		t.Errorf("old session still stored: %q", got)
	}
	if res := e.do("/get", res.cookie()); res.body != "user=42 counter=1 new=false" {
		t.Errorf("after login: %q; want user 42 and the counter kept", res.body)
	}
	if res := e.do("/get", anon); res.body != "user=0 counter=0 new=true" {
		t.Errorf("the pre-login cookie: %q; want a new session (no fixation)", res.body)
	}
	e.noErrors()
}

func TestRegenerateNewSession(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	res := e.do("/login")
	if res.code != http.StatusSeeOther || res.cookie() == nil {
		t.Fatalf("login without a session = %d, cookie %v", res.code, res.cookie())
	}
	if got := e.do("/get", res.cookie()).body; got != "user=42 counter=0 new=false" {
		t.Errorf("after login: %q", got)
	}
}

func TestRegenerateAfterCommit(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		if err := e.m.Get(r).Regenerate(r.Context()); !errors.Is(err, httpsession.ErrCommitted) {
			t.Errorf("Regenerate after WriteHeader = %v; want ErrCommitted", err)
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}

func TestDestroy(t *testing.T) {
	e := newEnv(t, httpsession.Options{MaxAge: time.Hour})
	login := e.do("/login")
	c := e.do("/get", login.cookie()).cookies // no new cookie expected
	if len(c) != 0 {
		t.Errorf("unmodified request sent %v", c)
	}
	id := idOf(t, login.cookie())

	res := e.do("/logout", login.cookie())
	if res.body != "bye" {
		t.Fatalf("logout = %q", res.body)
	}
	if got := e.stored(id); got != "" {
		t.Errorf("destroyed session still stored: %q", got)
	}
	clear := res.cookie()
	if clear == nil || clear.Value != "" || clear.MaxAge != -1 {
		t.Errorf("logout cookie = %v; want one that clears the browser's (Max-Age=0)", res.setCookie())
	}
	if res := e.do("/get", login.cookie()); res.body != "user=0 counter=0 new=true" {
		t.Errorf("old cookie after logout: %q; want a new session", res.body)
	}
	if keys := e.mr.Keys(); len(keys) != 0 {
		t.Errorf("store holds %v after logout; want nothing", keys)
	}
	e.noErrors()
}

func TestDestroyThenUse(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	e.put("apple", sess{UserID: 1})
	h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := e.m.Get(r)
		if err := s.Destroy(r.Context()); err != nil {
			t.Fatal(err)
		}
		if s.Data.UserID != 0 || s.ID() == "apple" {
			t.Errorf("after Destroy: user %d, id %q; want an empty session under a new id", s.Data.UserID, s.ID())
		}
		s.Data.Name = "flash: logged out"
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(signedCookie("apple", secret))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies = %v; want just the new session's", cookies)
	}
	id := idOf(t, cookies[0])
	if got := e.stored(id); !strings.Contains(got, "logged out") {
		t.Errorf("new session = %q; want it saved", got)
	}
	if e.stored("apple") != "" {
		t.Error("destroyed session still stored")
	}
}

func TestSave(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	res := e.do("/save")
	if res.body != "stored=true" || res.cookie() == nil {
		t.Fatalf("/save = %q, cookie %v; want stored=true and a cookie", res.body, res.cookie())
	}
	if got := e.do("/get", res.cookie()).body; got != "user=0 counter=0 new=false" {
		t.Errorf("after Save: %q", got)
	}
	e.noErrors()
}

// TestSaveBeforeHeaders checks that a session changed before a redirect is
// in the store by the time the client has the redirect, while the handler
// has not even returned (expressjs/session#360).
func TestSaveBeforeHeaders(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := e.m.Get(r)
		s.Data.UserID = 7
		http.Redirect(w, r, "/get", http.StatusFound)
		// Saved by the redirect's WriteHeader, before anything went out.
		if got := e.stored(s.ID()); !strings.Contains(got, `"userId":7`) {
			t.Errorf("stored right after http.Redirect: %q; want the login saved", got)
		}
		w.(http.Flusher).Flush()
		<-release // the handler is still running when the client goes on
	})
	mux.Handle("/get", app(e.m))
	srv := httptest.NewServer(e.m.Handler(mux))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	res, err := client.Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || len(res.Cookies()) != 1 {
		t.Fatalf("login = %d, cookies %v; want 302 and a session cookie", res.StatusCode, res.Cookies())
	}
	req, _ := http.NewRequest("GET", srv.URL+"/get", nil)
	req.AddCookie(res.Cookies()[0])
	res2, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, res2)
	if body != "user=7 counter=0 new=false" {
		t.Errorf("request right after the redirect = %q; want the login saved", body)
	}
	close(release)
}

func TestTouch(t *testing.T) {
	e := newEnv(t, httpsession.Options{MaxAge: time.Hour})
	c := e.do("/incr").cookie()
	e.mr.FastForward(30 * time.Minute)
	res := e.do("/touch", c)
	if res.cookie() == nil || res.cookie().MaxAge != 3600 {
		t.Fatalf("Touch: cookie %v; want one resent with Max-Age 3600", res.setCookie())
	}
	if ttl := e.mr.TTL(typedstore.DefaultPrefix + idOf(t, c)); ttl < 59*time.Minute {
		t.Errorf("TTL after Touch = %v; want about 1h", ttl)
	}
	e.noErrors()
}

func TestSetMaxAge(t *testing.T) {
	e := newEnv(t, httpsession.Options{MaxAge: time.Hour})
	c := e.do("/incr").cookie()
	res := e.do("/remember", c)
	want := int((30 * 24 * time.Hour).Seconds())
	if res.cookie() == nil || res.cookie().MaxAge != want {
		t.Fatalf("SetMaxAge: cookie %q; want Max-Age %d", res.setCookie(), want)
	}
	id := idOf(t, c)
	if raw := e.stored(id); !strings.Contains(raw, `"originalMaxAge":2592000000`) {
		t.Errorf("stored %q; want originalMaxAge 2592000000", raw)
	}
	// The session keeps its own max-age on later requests.
	e.mr.FastForward(2 * time.Hour)
	res = e.do("/incr", c)
	if res.body != "user=0 counter=2 new=false" || res.cookie() == nil || res.cookie().MaxAge != want {
		t.Errorf("later request: %q, cookie %q; want the session alive with Max-Age %d", res.body, res.setCookie(), want)
	}
	e.noErrors()
}

func TestGenID(t *testing.T) {
	n := 0
	e := newEnv(t, httpsession.Options{GenID: func(r *http.Request) (string, error) {
		n++
		return "custom-" + r.URL.Path[1:] + "-" + string(rune('0'+n)), nil
	}})
	if got := idOf(t, e.do("/incr").cookie()); got != "custom-incr-1" {
		t.Errorf("id = %q; want custom-incr-1", got)
	}

	tests := []struct {
		name  string
		genID func(*http.Request) (string, error)
	}{
		{"error", func(*http.Request) (string, error) { return "", errors.New("entropy exhausted") }},
		{"empty", func(*http.Request) (string, error) { return "", nil }},
		{"too long", func(*http.Request) (string, error) { return strings.Repeat("x", typedstore.MaxIDLen+1), nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, httpsession.Options{GenID: tt.genID})
			if res := e.do("/get"); res.code != 500 {
				t.Errorf("GET = %d; want 500", res.code)
			}
			if err := <-e.errs; !strings.Contains(err.Error(), "GenID") {
				t.Errorf("error = %v; want one naming GenID", err)
			}
		})
	}
}

// In a store without time to live, the stored cookie's expiry is all there
// is: a session whose cookie has expired is as good as gone, and is deleted
// when it is next loaded.
func TestExpiredCookieInStoreWithoutTTL(t *testing.T) {
	mr, store := newStore(t, typedstore.Options[sess]{DisableTTL: true})
	e := newEnvOn(t, mr, store, httpsession.Options{})
	past := time.Now().Add(-time.Minute)
	e.mr.Set(typedstore.DefaultPrefix+"apple", `{"cookie":{"originalMaxAge":1000,"expires":"`+past.UTC().Format(time.RFC3339)+`","path":"/","httpOnly":true},"userId":1}`)
	if res := e.do("/get", signedCookie("apple", secret)); res.body != "user=0 counter=0 new=true" {
		t.Errorf("session whose cookie has expired: %q; want a new session", res.body)
	}
	if e.mr.Exists(typedstore.DefaultPrefix + "apple") {
		t.Error("the expired session is still stored; want it deleted")
	}
}

// In a store with time to live, Redis's expiry is the session's: a touch
// (GETEX, PEXPIRE, connect-redis's touch) moves it and not the stored
// cookie's, so a session still in Redis is alive whatever its stored cookie
// says.
func TestStoredCookieExpiryDefersToRedis(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	past := time.Now().Add(-time.Minute)
	e.mr.Set(typedstore.DefaultPrefix+"apple", `{"cookie":{"originalMaxAge":1000,"expires":"`+past.UTC().Format(time.RFC3339)+`","path":"/","httpOnly":true},"userId":1}`)
	e.mr.SetTTL(typedstore.DefaultPrefix+"apple", time.Minute)
	if res := e.do("/get", signedCookie("apple", secret)); res.body != "user=1 counter=0 new=false" {
		t.Errorf("session in Redis whose stored cookie expiry has passed: %q; want it loaded", res.body)
	}
}

func TestNestedHandlers(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	h := e.m.Handler(e.m.Handler(app(e.m)))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/incr", nil))
	if n := len(rec.Result().Cookies()); n != 1 {
		t.Errorf("the same manager twice sent %d cookies; want 1", n)
	}
}

func TestNonCarrierType(t *testing.T) {
	type plain struct {
		N int `json:"n"`
	}
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	store, err := typedstore.New(client, typedstore.Options[plain]{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	m, err := httpsession.New(store, httpsession.Options{Secrets: []string{secret}, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		s.Data.N++
		if s.Expires().IsZero() {
			t.Error("Expires() is zero; want MaxAge from now")
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || cookies[0].MaxAge != 3600 {
		t.Fatalf("cookies = %v; want one with Max-Age 3600", cookies)
	}
	key := typedstore.DefaultPrefix + idOf(t, cookies[0])
	if got, _ := mr.Get(key); got != `{"n":1}` {
		t.Errorf("stored %q; want {\"n\":1}", got)
	}
	if ttl := mr.TTL(key); ttl != time.Hour {
		t.Errorf("TTL = %v; want MaxAge, 1h", ttl)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookies[0])
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got, _ := mr.Get(key); got != `{"n":2}` {
		t.Errorf("stored %q after a second request; want {\"n\":2}", got)
	}
}

func TestConcurrentRequests(t *testing.T) {
	e := newEnv(t, httpsession.Options{MaxAge: time.Hour, Rolling: true})
	c := e.do("/incr").cookie()
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	done := make(chan error)
	for range 8 {
		go func() {
			for range 10 {
				req, _ := http.NewRequest("GET", srv.URL+"/get", nil)
				req.AddCookie(c)
				res, err := srv.Client().Do(req)
				if err == nil {
					res.Body.Close()
					if res.StatusCode != 200 {
						err = errors.New(res.Status)
					}
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	e.noErrors()
}

func unescape(t *testing.T, s string) string {
	t.Helper()
	u, err := url.PathUnescape(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// secretID is a session id long enough that any part of it worth stealing
// is recognisable in a log line.
const secretID = "SECRET-SESSION-ID-0123456789abcdefghij"

// leaksID reports whether s holds any eight consecutive bytes of id.
func leaksID(s, id string) bool {
	for i := 0; i+8 <= len(id); i++ {
		if strings.Contains(s, id[i:i+8]) {
			return true
		}
	}
	return false
}

// No log line of the middleware, under any failure, holds a recognisable
// session id, with the default ErrorHandler and whatever the store reports;
// nor does any error the handler gets from a Session.
func TestLogsNeverHoldTheID(t *testing.T) {
	stored := sess{UserID: 1}
	tests := []struct {
		name  string
		store typedstore.Options[sess]
		opts  httpsession.Options
		prep  func(e *env)
		path  string
		log   string // a part of the expected log line
	}{
		{"corrupt, left", typedstore.Options[sess]{}, httpsession.Options{}, func(e *env) {
			e.mr.Set(typedstore.DefaultPrefix+secretID, "{")
		}, "/get", "corrupt"},
		{"corrupt, deleted", typedstore.Options[sess]{}, httpsession.Options{OnCorrupt: httpsession.CorruptDelete}, func(e *env) {
			e.mr.Set(typedstore.DefaultPrefix+secretID, "{")
		}, "/get", "corrupt"},
		{"corrupt, failed", typedstore.Options[sess]{}, httpsession.Options{OnCorrupt: httpsession.CorruptFail}, func(e *env) {
			e.mr.Set(typedstore.DefaultPrefix+secretID, "{")
		}, "/get", "session unavailable"},
		{"too large to save", typedstore.Options[sess]{MaxSize: 200}, httpsession.Options{}, nil, "/big", "too large"},
		{"store fails on load", typedstore.Options[sess]{}, httpsession.Options{}, func(e *env) {
			e.store.Client().AddHook(failCommands{"get": true})
		}, "/get", "injected failure"},
		{"store fails on save", typedstore.Options[sess]{}, httpsession.Options{}, func(e *env) {
			e.store.Client().AddHook(failCommands{"set": true})
		}, "/incr", "injected failure"},
		{"store fails on touch", typedstore.Options[sess]{}, httpsession.Options{MaxAge: time.Hour, LoadWithGet: true}, func(e *env) {
			e.store.Client().AddHook(failCommands{"pexpire": true})
		}, "/get", "touch"},
		{"destroyed during the request", typedstore.Options[sess]{}, httpsession.Options{}, nil, "/gone", "not saved"},
		{"destroyed, then Update and Regenerate", typedstore.Options[sess]{}, httpsession.Options{}, nil, "/gone-calls", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mr, store := newStore(t, tt.store)
			var logs syncBuffer
			e := &env{t: t, mr: mr, store: store}
			tt.opts.Secrets = []string{secret}
			tt.opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			var err error
			if e.m, err = httpsession.New(store, tt.opts); err != nil {
				t.Fatal(err)
			}
			var handlerErrs []error
			mux := http.NewServeMux()
			mux.Handle("/", app(e.m))
			mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
				e.m.Get(r).Data.Name = strings.Repeat("x", 300)
			})
			mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) {
				s := e.m.Get(r)
				e.store.Delete(r.Context(), secretID)
				s.Data.Counter++
			})
			mux.HandleFunc("/gone-calls", func(w http.ResponseWriter, r *http.Request) {
				s := e.m.Get(r)
				e.store.Delete(r.Context(), secretID)
				handlerErrs = append(handlerErrs,
					s.Update(r.Context(), func(v *sess) error { v.Counter++; return nil }),
					s.Regenerate(r.Context()),
					s.Save(r.Context()))
			})
			e.h = e.m.Handler(mux)
			if err := store.Set(t.Context(), secretID, stored); err != nil {
				t.Fatal(err)
			}
			if tt.prep != nil {
				tt.prep(e)
			}
			e.do(tt.path, signedCookie(secretID, secret))
			log := logs.String()
			if !strings.Contains(log, tt.log) {
				t.Errorf("log = %q; want a line about %q", log, tt.log)
			}
			if leaksID(log, secretID) {
				t.Errorf("log = %q; holds the session id", log)
			}
			for _, err := range handlerErrs {
				if err != nil && leaksID(err.Error(), secretID) {
					t.Errorf("handler's error %q holds the session id", err)
				}
			}
		})
	}
}

// A secret shorter than 32 bytes is accepted, with one warning at New.
func TestShortSecretWarns(t *testing.T) {
	e := newEnv(t, httpsession.Options{})
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := httpsession.New(e.store, httpsession.Options{Secrets: []string{"short", "also short"}, Logger: logger}); err != nil {
		t.Fatalf("New with a short secret = %v; want it accepted", err)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "at least 32") {
		t.Errorf("log = %q; want one warning asking for 32 bytes", logs.String())
	}
	logs = syncBuffer{}
	if _, err := httpsession.New(e.store, httpsession.Options{Secrets: []string{secret}, Logger: logger}); err != nil {
		t.Fatal(err)
	}
	if got := logs.String(); got != "" {
		t.Errorf("log with a 32-byte secret = %q; want nothing", got)
	}
}

// The middleware refuses a session type that embeds the Cookie with no JSON
// name even when the store's codec would let it through.
func TestNewRejectsCookieWithoutJSONName(t *testing.T) {
	type flat struct {
		typedstore.Cookie
		N int `json:"n"`
	}
	_, store := newStore(t, typedstore.Options[flat]{Codec: flatCodec[flat]{}})
	_, err := httpsession.New(store, httpsession.Options{Secrets: []string{secret}})
	if err == nil || !strings.Contains(err.Error(), "`json:\"cookie\"`") {
		t.Errorf("New = %v; want an error naming the tag `json:\"cookie\"`", err)
	}
}

// flatCodec is a codec other than typedstore.JSONCodec, with the same JSON.
type flatCodec[T any] struct{}

func (flatCodec[T]) Encode(v T) ([]byte, error)     { return json.Marshal(v) }
func (flatCodec[T]) Decode(data []byte, v *T) error { return json.Unmarshal(data, v) }
