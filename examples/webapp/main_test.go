package main

import (
	"context"
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
)

// testSite is the site on an httptest server, with its store on miniredis
// and a clock that the test moves.
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
	clock := &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	h, err := newHandler(store, "test secret", clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testSite{t: t, mr: mr, store: store, srv: srv, clock: clock}
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
	if body := b.post("/logout", nil); !strings.Contains(body, "Log in") || !strings.Contains(body, "Empty.") || strings.Contains(body, `href="/devices"`) {
		t.Errorf("after logout: %s", body)
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
