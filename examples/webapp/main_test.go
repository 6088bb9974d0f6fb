package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
	"github.com/typedstore/typedstore/internal/clock"
)

// testSite is the site on an httptest server, with its store on miniredis
// and a clock that the test moves. The clock is the site's and the
// middleware's (through internal/clock, which this package, inside the
// typedstore module, may import): advance moves it and miniredis's together.
type testSite struct {
	t     *testing.T
	mr    *miniredis.Miniredis
	store *typedstore.Store[Session]
	srv   *httptest.Server
	clock *fakeClock
}

func newTestSite(t *testing.T) *testSite {
	t.Helper()
	mr := miniredis.RunT(t)
	store, err := typedstore.Open("redis://"+mr.Addr(), storeOptions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	c := &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	clock.Set(t, c.Now) // these tests must not run in parallel
	h, err := newHandler(store, "test secret", c.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testSite{t: t, mr: mr, store: store, srv: srv, clock: c}
}

// advance moves the clock, and miniredis's with it, by d: the sessions'
// times to live in Redis run down by d.
func (s *testSite) advance(d time.Duration) {
	s.clock.Set(s.clock.Now().Add(d))
	s.mr.FastForward(d)
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// sessionKeys returns the keys of the stored sessions, without the owners'
// indexes.
func (s *testSite) sessionKeys() []string {
	var keys []string
	for _, k := range s.mr.Keys() {
		if strings.HasPrefix(k, storeOptions.Prefix) {
			keys = append(keys, k)
		}
	}
	return keys
}

// owned returns the sessions of owner, by id.
func (s *testSite) owned(owner string) map[string]Session {
	s.t.Helper()
	seq, errf := s.store.OwnedBy(context.Background(), owner)
	m := make(map[string]Session)
	for id, v := range seq {
		m[id] = v
	}
	if err := errf(); err != nil {
		s.t.Fatalf("OwnedBy(%q): %v", owner, err)
	}
	return m
}

// handle returns the device handle of b's session, which owner must own.
func (s *testSite) handle(owner string, b *browser) string {
	s.t.Helper()
	for _, v := range s.owned(owner) {
		if v.Device.UserAgent == b.ua {
			return v.Device.Handle
		}
	}
	s.t.Fatalf("no session of %q has the user agent %q", owner, b.ua)
	return ""
}

// browser is a browser with a cookie jar of its own, which sends ua as its
// User-Agent.
type browser struct {
	t      *testing.T
	ua     string
	base   string
	client *http.Client
}

func (s *testSite) browser(ua string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: s.t, ua: ua, base: s.srv.URL, client: &http.Client{
		Jar:       jar,
		Transport: uaTransport{ua, s.srv.Client().Transport},
	}}
}

type uaTransport struct {
	ua   string
	next http.RoundTripper
}

func (t uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", t.ua)
	return t.next.RoundTrip(r)
}

// get returns the page at path, after redirects.
func (b *browser) get(path string) string {
	b.t.Helper()
	res, err := b.client.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.body("GET "+path, res)
}

// post submits form to path and returns the page it redirects to.
func (b *browser) post(path string, form url.Values) string {
	b.t.Helper()
	res, err := b.client.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.body("POST "+path, res)
}

func (b *browser) body(req string, res *http.Response) string {
	b.t.Helper()
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		b.t.Fatalf("%s (%s) = %d; want 200: %s", req, b.ua, res.StatusCode, body)
	}
	return string(body)
}

func (b *browser) login(name string) {
	b.t.Helper()
	if body := b.post("/login", url.Values{"name": {name}}); !strings.Contains(body, "Hello, "+name+".") {
		b.t.Fatalf("%s logging in as %q: %s", b.ua, name, body)
	}
}

// loginRemembered logs in as name with "remember me" ticked.
func (b *browser) loginRemembered(name string) {
	b.t.Helper()
	if body := b.post("/login", url.Values{"name": {name}, "remember": {"on"}}); !strings.Contains(body, "Hello, "+name+".") {
		b.t.Fatalf("%s logging in as %q with remember me: %s", b.ua, name, body)
	}
}

// postNoRedirect submits form to path and returns the response itself, its
// redirect not followed, its cookies kept in b's jar.
func (b *browser) postNoRedirect(path string, form url.Values) *http.Response {
	b.t.Helper()
	c := *b.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// loggedIn reports whether b's home page greets someone.
func (b *browser) loggedIn() bool {
	b.t.Helper()
	body := b.get("/")
	return strings.Contains(body, "Hello, ") && !strings.Contains(body, "Log in")
}

func TestWebapp(t *testing.T) {
	s := newTestSite(t)
	b := s.browser("browser A")

	if body := b.get("/"); !strings.Contains(body, "Log in") || !strings.Contains(body, "Empty.") {
		t.Fatalf("first page: %s", body)
	}
	if n := len(s.mr.Keys()); n != 0 {
		t.Errorf("%d keys stored for a visitor who did nothing; want 0", n)
	}
	b.post("/cart", url.Values{"item": {"tea"}})
	if body := b.post("/login", url.Values{"name": {"Ada"}}); !strings.Contains(body, "Hello, Ada. This is visit 1.") || !strings.Contains(body, "<li>tea</li>") || !strings.Contains(body, `href="/devices"`) {
		t.Errorf("after login: %s", body)
	}
	if body := b.post("/cart", url.Values{"item": {"<scones>"}}); !strings.Contains(body, "<li>&lt;scones&gt;</li>") || !strings.Contains(body, "visit 2.") {
		t.Errorf("after adding to the cart: %s", body)
	}
	if n := len(s.sessionKeys()); n != 1 {
		t.Errorf("%d sessions stored; want 1 (the pre-login one deleted)", n)
	}
	if body := b.post("/logout", nil); !strings.Contains(body, "Log in") || !strings.Contains(body, "Empty.") || strings.Contains(body, `href="/devices"`) || !strings.Contains(body, "You are logged out.") {
		t.Errorf("after logout: %s", body)
	}
	if body := b.get("/"); strings.Contains(body, "logged out") {
		t.Errorf("the logout's message shown twice: %s", body)
	}
	if n := len(s.sessionKeys()); n != 0 {
		t.Errorf("%d sessions stored after logout; want 0", n)
	}
}

func TestDevicesNeedLogin(t *testing.T) {
	s := newTestSite(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct{ method, path string }{
		{"GET", "/devices"},
		{"POST", "/devices/logout"},
		{"POST", "/devices/logout-others"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, s.srv.URL+tt.path, nil)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got, loc := res.StatusCode, res.Header.Get("Location"); got != http.StatusSeeOther || loc != "/" {
			t.Errorf("%s %s when logged out = %d to %q; want %d to \"/\"", tt.method, tt.path, got, loc, http.StatusSeeOther)
		}
	}
	if n := len(s.mr.Keys()); n != 0 {
		t.Errorf("%d keys stored; want 0", n)
	}
}

func TestDevicesPage(t *testing.T) {
	s := newTestSite(t)
	a, b, m := s.browser("browser A"), s.browser("browser <B>"), s.browser("browser M")
	a.login("Ada")
	b.login("Ada")
	m.login("Mallory")

	body := a.get("/devices")
	for _, tt := range []struct {
		what string
		want int
	}{
		{`class="device"`, 2},
		{"(this device)", 1},
		{"browser A", 1},
		{"browser &lt;B&gt;", 1},
		{"browser <B>", 0},
		{"browser M", 0},
		{"127.0.0.1", 2},
		{"Log out this device", 1},
		{`value="` + s.handle("Ada", b) + `"`, 1},
		{`value="` + s.handle("Ada", a) + `"`, 0},
		{"Log out all other devices", 1},
		{"at most 5 devices", 1},
		{"2025-03-01 12:00 UTC", 4}, // logged in and last seen, twice
	} {
		if got := strings.Count(body, tt.what); got != tt.want {
			t.Errorf("devices page: %d × %q; want %d", got, tt.what, tt.want)
		}
	}
	ids := s.owned("Ada")
	for id := range s.owned("Mallory") {
		ids[id] = Session{}
	}
	if len(ids) != 3 {
		t.Fatalf("%d sessions stored; want 3", len(ids))
	}
	for id := range ids {
		if strings.Contains(body, id) {
			t.Errorf("devices page holds the session id %q: %s", id, body)
		}
	}
}

func TestLogOutOtherDevices(t *testing.T) {
	s := newTestSite(t)
	a, b, c, m := s.browser("browser A"), s.browser("browser B"), s.browser("browser C"), s.browser("browser M")
	for _, x := range []*browser{a, b, c} {
		x.login("Ada")
	}
	m.login("Mallory")

	body := a.post("/devices/logout-others", nil)
	if !strings.Contains(body, "Logged out 2 other devices.") || strings.Count(body, `class="device"`) != 1 || strings.Contains(body, "Log out all other devices") {
		t.Errorf("devices page after logging out the others: %s", body)
	}
	if body := a.get("/devices"); strings.Contains(body, "Logged out") {
		t.Errorf("devices page shows the notice twice: %s", body)
	}
	for _, tt := range []struct {
		b    *browser
		want bool
	}{{a, true}, {b, false}, {c, false}, {m, true}} {
		if got := tt.b.loggedIn(); got != tt.want {
			t.Errorf("%s logged in = %t; want %t", tt.b.ua, got, tt.want)
		}
	}
	if n, err := s.store.CountOwned(context.Background(), "Ada"); n != 1 || err != nil {
		t.Errorf("CountOwned(Ada) = %d, %v; want 1, nil", n, err)
	}
}

func TestLogOutDevice(t *testing.T) {
	tests := []struct {
		name   string
		by     string // the browser that posts the form
		of     string // the browser whose handle it posts; "" for handle
		handle string
		out    string // the browser logged out; "" for none
		notice string
	}{
		{name: "another device of mine", by: "A", of: "B", out: "B", notice: "Logged out 1 device."},
		{name: "a device of another user", by: "M", of: "B", notice: "No device was logged out."},
		{name: "this device", by: "A", of: "A", notice: "No device was logged out."},
		{name: "unknown handle", by: "A", handle: "NOSUCHDEVICE", notice: "No device was logged out."},
		{name: "no handle", by: "A", notice: "No device was logged out."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSite(t)
			browsers := map[string]*browser{}
			owner := map[string]string{}
			for _, name := range []string{"A", "B", "C", "M"} {
				b := s.browser("browser " + name)
				owner[name] = "Ada"
				if name == "M" {
					owner[name] = "Mallory"
				}
				b.login(owner[name])
				browsers[name] = b
			}
			handle := tt.handle
			if tt.of != "" {
				handle = s.handle(owner[tt.of], browsers[tt.of])
			}

			body := browsers[tt.by].post("/devices/logout", url.Values{"device": {handle}})
			if !strings.Contains(body, tt.notice) {
				t.Errorf("devices page after the logout: %s; want the notice %q", body, tt.notice)
			}
			for name, b := range browsers {
				if got, want := b.loggedIn(), name != tt.out; got != want {
					t.Errorf("%s logged in = %t; want %t", b.ua, got, want)
				}
			}
		})
	}
}

func TestAtMostMaxDevices(t *testing.T) {
	s := newTestSite(t)
	var browsers []*browser
	for i := range maxDevices + 1 {
		b := s.browser("browser " + string(rune('A'+i)))
		b.login("Ada")
		browsers = append(browsers, b)
	}
	if n, err := s.store.CountOwned(context.Background(), "Ada"); n != maxDevices || err != nil {
		t.Errorf("CountOwned(Ada) = %d, %v; want %d, nil", n, err, maxDevices)
	}
	out := 0
	for _, b := range browsers {
		if !b.loggedIn() {
			out++
		}
	}
	if out != 1 {
		t.Errorf("%d of %d browsers logged out; want 1", out, len(browsers))
	}
	if last := browsers[len(browsers)-1]; !last.loggedIn() {
		t.Errorf("%s, the last to log in, was logged out", last.ua)
	}
}

func TestLastSeen(t *testing.T) {
	s := newTestSite(t)
	a := s.browser("browser A")
	a.login("Ada")
	login := s.clock.Now()
	var key string
	for id := range s.owned("Ada") {
		key = storeOptions.Prefix + id
	}
	tests := []struct {
		after time.Duration // since the login
		want  time.Duration // last seen, since the login
	}{
		{30 * time.Second, 0},
		{59 * time.Second, 0},
		{time.Minute, time.Minute},
		{time.Minute + 59*time.Second, time.Minute},
		{2 * time.Minute, 2 * time.Minute},
	}
	for _, tt := range tests {
		s.clock.Set(login.Add(tt.after))
		before, err := s.mr.Get(key)
		if err != nil {
			t.Fatal(err)
		}
		a.get("/devices")
		after, err := s.mr.Get(key)
		if err != nil {
			t.Fatal(err)
		}
		v := s.owned("Ada")[strings.TrimPrefix(key, storeOptions.Prefix)]
		if got, want := v.Device.SeenAt, login.Add(tt.want); !got.Equal(want) {
			t.Errorf("%v after login: last seen %v; want %v", tt.after, got, want)
		}
		if rewritten, want := before != after, tt.after == tt.want; rewritten != want {
			t.Errorf("%v after login: session rewritten = %t; want %t", tt.after, rewritten, want)
		}
	}
}

// The messages that say why a session ended.
const (
	idleMessage     = "Your session ended after 30 minutes without activity."
	lifetimeMessage = "Your session ended: a session lasts at most 12 hours after login."
)

// TestIdleTimeout: a session unused for idleTimeout ends, whatever the
// cookie, and whatever page the visitor comes back to says why, once: the
// home page at once, the others through the redirect to it that they answer
// a logged-out visitor with.
func TestIdleTimeout(t *testing.T) {
	lands := []struct {
		name string
		land func(*browser) string
	}{
		{"home page", func(b *browser) string { return b.get("/") }},
		{"devices page", func(b *browser) string { return b.get("/devices") }},
		{"add to cart", func(b *browser) string { return b.post("/cart", url.Values{"item": {"tea"}}) }},
	}
	for _, remember := range []bool{false, true} {
		for _, tt := range lands {
			t.Run(fmt.Sprintf("%s, remember me %t", tt.name, remember), func(t *testing.T) {
				s := newTestSite(t)
				b := s.browser("browser A")
				if remember {
					b.loginRemembered("Ada")
				} else {
					b.login("Ada")
				}
				// Each request starts the idle timeout again.
				for range 3 {
					s.advance(idleTimeout - time.Second)
					if body := b.get("/"); !strings.Contains(body, "Hello, Ada.") || strings.Contains(body, "Your session ended") {
						t.Fatalf("%v after the last request: %s; want still logged in", idleTimeout-time.Second, body)
					}
				}

				s.advance(idleTimeout)
				body := tt.land(b)
				if !strings.Contains(body, idleMessage) || !strings.Contains(body, "Log in") || strings.Contains(body, "Hello, Ada.") {
					t.Errorf("first page %v after the last request: %s; want logged out, with %q", idleTimeout, body, idleMessage)
				}
				if tt.name == "add to cart" && !strings.Contains(body, "<li>tea</li>") {
					t.Errorf("the new session lost the item added by the request that found the old one ended: %s", body)
				}
				if n, err := s.store.CountOwned(context.Background(), "Ada"); n != 0 || err != nil {
					t.Errorf("CountOwned(Ada) = %d, %v; want 0, nil", n, err)
				}
				if body := b.get("/"); strings.Contains(body, "Your session ended") || !strings.Contains(body, "Log in") {
					t.Errorf("next page: %s; want logged out, without the message, which is shown once", body)
				}
			})
		}
	}
}

// TestLifetime: a session ends maxLifetime after login however active it
// is, a request every five minutes, with either cookie; the page after that
// says why, once. A new login starts a new lifetime.
func TestLifetime(t *testing.T) {
	for _, remember := range []bool{false, true} {
		t.Run(fmt.Sprintf("remember me %t", remember), func(t *testing.T) {
			s := newTestSite(t)
			b := s.browser("browser A")
			login := s.clock.Now()
			if remember {
				b.loginRemembered("Ada")
			} else {
				b.login("Ada")
			}
			const every = 5 * time.Minute
			for elapsed := every; elapsed < maxLifetime; elapsed += every {
				s.advance(every)
				body := b.get("/")
				if !strings.Contains(body, "Hello, Ada.") {
					t.Fatalf("logged out %v after login, with a request every %v: %s", elapsed, every, body)
				}
				if want := "Signed in since 2025-03-01 12:00 UTC, until 2025-03-02 00:00 UTC at the latest."; !strings.Contains(body, want) {
					t.Fatalf("%v after login: %s; want %q", elapsed, body, want)
				}
			}
			// The last request left the session in Redis until its
			// absolute deadline, not idleTimeout after it.
			for id := range s.owned("Ada") {
				if got := s.mr.TTL(storeOptions.Prefix + id); got != every {
					t.Errorf("%v after login: stored for %v more; want %v, to the end of its lifetime", maxLifetime-every, got, every)
				}
			}

			s.advance(every)
			if !s.clock.Now().Equal(login.Add(maxLifetime)) {
				t.Fatalf("clock at %v; want the login's plus %v", s.clock.Now(), maxLifetime)
			}
			body := b.get("/")
			if !strings.Contains(body, lifetimeMessage) || !strings.Contains(body, "Log in") || strings.Contains(body, "Hello, Ada.") {
				t.Errorf("%v after login: %s; want logged out, with %q", maxLifetime, body, lifetimeMessage)
			}
			if body := b.get("/"); strings.Contains(body, "Your session ended") {
				t.Errorf("next page: %s; want no message, which is shown once", body)
			}

			b.login("Ada")
			if body := b.get("/"); !strings.Contains(body, "Signed in since 2025-03-02 00:00 UTC, until 2025-03-02 12:00 UTC at the latest.") {
				t.Errorf("after logging in again: %s; want a new lifetime", body)
			}
		})
	}
}

// TestNoEndedMessage: only the lifetime policy's ends are explained; a
// first visit, a logout, a logout from another device and the eviction of
// the least recently active device say nothing.
func TestNoEndedMessage(t *testing.T) {
	s := newTestSite(t)
	check := func(b *browser, when string) {
		t.Helper()
		if body := b.get("/"); strings.Contains(body, "Your session ended") || !strings.Contains(body, "Log in") {
			t.Errorf("%s, %s: %s; want logged out, without a message", b.ua, when, body)
		}
	}
	a, b := s.browser("browser A"), s.browser("browser B")
	check(a, "first visit")

	a.login("Ada")
	a.post("/logout", nil)
	check(a, "after logging out")

	a.login("Ada")
	b.login("Ada")
	a.post("/devices/logout-others", nil)
	check(b, "logged out from another device")

	browsers := []*browser{a}
	for i := range maxDevices {
		s.advance(time.Minute) // browser A is the least recently active
		x := s.browser("browser " + string(rune('C'+i)))
		x.login("Ada")
		browsers = append(browsers, x)
	}
	check(a, "logged out by a login on one device too many")
	for _, x := range browsers[1:] {
		if !x.loggedIn() {
			t.Errorf("%s logged out; want only %s", x.ua, a.ua)
		}
	}
}

// TestRememberMe: a login's cookie is a browser-session cookie, which goes
// when the browser closes, unless "remember me" is ticked: then it is
// persistent, though it still expires with the session, idleTimeout after
// the last request, and is sent again with each response.
func TestRememberMe(t *testing.T) {
	for _, remember := range []bool{false, true} {
		t.Run(fmt.Sprintf("remember me %t", remember), func(t *testing.T) {
			s := newTestSite(t)
			b := s.browser("browser A")
			form := url.Values{"name": {"Ada"}}
			if remember {
				form.Set("remember", "on")
			}
			res := b.postNoRedirect("/login", form)
			var sid *http.Cookie
			var kept []*http.Cookie // what a browser keeps once it closes
			for _, c := range res.Cookies() {
				if c.Name == httpsession.DefaultName {
					sid = c
				}
				if c.MaxAge > 0 {
					kept = append(kept, c)
				}
			}
			if sid == nil {
				t.Fatalf("login response sets no %s cookie", httpsession.DefaultName)
			}
			if want := map[bool]int{false: 0, true: int(idleTimeout.Seconds())}[remember]; sid.MaxAge != want || sid.Expires.IsZero() == remember {
				t.Errorf("cookie Max-Age %d, Expires %v; want Max-Age %d, Expires set %t", sid.MaxAge, sid.Expires, want, remember)
			}
			for _, v := range s.owned("Ada") {
				got := v.Cookie.OriginalMaxAge
				if want := rememberFor.Milliseconds(); remember && (got == nil || *got != want) || !remember && got != nil {
					t.Errorf("stored max-age %v; want %d ms if remembered, else none", got, want)
				}
			}

			s.advance(idleTimeout / 3)
			res, err := b.client.Get(b.base + "/")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			resent := false
			for _, c := range res.Cookies() {
				if c.Name == httpsession.DefaultName {
					resent = c.MaxAge == int(idleTimeout.Seconds())
				}
			}
			if resent != remember {
				t.Errorf("next response sends the cookie again with Max-Age %d: %t; want %t", int(idleTimeout.Seconds()), resent, remember)
			}

			// Close the browser and open it again.
			reopened := s.browser("browser A")
			u, _ := url.Parse(b.base)
			reopened.client.Jar.SetCookies(u, kept)
			if got := reopened.loggedIn(); got != remember {
				t.Errorf("logged in after the browser closed = %t; want %t", got, remember)
			}
		})
	}
}

func TestHumanDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{30 * time.Minute, "30 minutes"},
		{12 * time.Hour, "12 hours"},
		{time.Hour, "1 hour"},
		{time.Minute, "1 minute"},
		{90 * time.Minute, "90 minutes"},
		{7 * 24 * time.Hour, "7 days"},
		{24 * time.Hour, "1 day"},
		{45 * time.Second, "45 seconds"},
		{1500 * time.Millisecond, "1.5s"},
	} {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%v) = %q; want %q", tt.d, got, tt.want)
		}
	}
	if got := endedMessage(httpsession.ExpiredIdle); got != idleMessage {
		t.Errorf("idle message %q; want %q", got, idleMessage)
	}
	if got := endedMessage(httpsession.ExpiredLifetime); got != lifetimeMessage {
		t.Errorf("lifetime message %q; want %q", got, lifetimeMessage)
	}
}

// TestFlash: the message of a login is shown on the page after it, once.
func TestFlash(t *testing.T) {
	s := newTestSite(t)
	b := s.browser("Firefox")
	if body := b.post("/login", url.Values{"name": {"Ada"}}); !strings.Contains(body, `id="flash">Welcome, Ada.`) {
		t.Errorf("the page after the login: %s; want its message", body)
	}
	if body := b.get("/"); strings.Contains(body, "Welcome, Ada.") {
		t.Errorf("the login's message shown twice: %s", body)
	}
}

// TestPagesAreNotStored: no page, which all show the visitor's session,
// may be kept by a cache or shown from history after a logout.
func TestPagesAreNotStored(t *testing.T) {
	s := newTestSite(t)
	b := s.browser("Firefox")
	b.login("Ada")
	for _, path := range []string{"/", "/devices"} {
		res, err := b.client.Get(b.base + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("GET %s: Cache-Control %q; want no-store", path, got)
		}
	}
}

// TestCrossOriginPostsRefused: a form posted from another site is
// refused, whatever cookie it carries; the site's own forms go through.
func TestCrossOriginPostsRefused(t *testing.T) {
	s := newTestSite(t)
	b := s.browser("Firefox")
	b.login("Ada")
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"Sec-Fetch-Site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"Origin of another site", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"same-origin", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusSeeOther},
		{"no browser headers (curl)", nil, http.StatusSeeOther},
	} {
		req, _ := http.NewRequest("POST", b.base+"/cart", strings.NewReader("item=bomb"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		c := *b.client
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("%s: POST /cart = %d; want %d", tc.name, res.StatusCode, tc.want)
		}
	}
	if body := b.get("/"); strings.Count(body, "<li>bomb</li>") != 2 {
		t.Errorf("cart after two refused posts and two accepted: %s", body)
	}
}

// TestEndedMessageLeavesNothing: the session that carries why the last one
// ended, to the home page, is gone once the page has said it.
func TestEndedMessageLeavesNothing(t *testing.T) {
	s := newTestSite(t)
	b := s.browser("Firefox")
	b.login("Ada")
	s.advance(idleTimeout + time.Second)
	b.get("/devices") // redirected home, which says why the session ended
	if body := b.get("/"); strings.Contains(body, "Your session ended") {
		t.Errorf("the message shown twice: %s", body)
	}
	if n := len(s.sessionKeys()); n != 0 {
		t.Errorf("%d sessions stored after the message was shown; want 0", n)
	}
}
