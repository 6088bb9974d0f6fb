package main

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/redistest"
)

// chromiumPath returns the browser the tests drive: $TYPEDSTORE_CHROMIUM,
// or Debian's chromium on the PATH. Without one the browser tests fail
// where real-server tests are required (CI), and are skipped elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TYPEDSTORE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const how = "install Debian's chromium (apt-get install chromium) or set TYPEDSTORE_CHROMIUM; bash .ci/run does"
	if redistest.Required() {
		t.Fatal("the browser test is required here (CI=true, TYPEDSTORE_REQUIRE_REDIS=1 or TYPEDSTORE_HEAVY=1) but no chromium was found: " + how)
	}
	t.Skip("no chromium: " + how)
	return ""
}

// browserSite is the site on a real redis-server, served over HTTP or,
// with tls, over HTTPS with httptest's certificate.
func browserSite(t *testing.T, tls bool) string {
	t.Helper()
	srv := redistest.Start(t)
	store, err := typedstore.Open("redis://"+srv.Addr, storeOptions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	h, err := newHandler(store, "a secret of thirty-two bytes or more, for the browser test", time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	var site *httptest.Server
	if tls {
		site = httptest.NewTLSServer(h)
	} else {
		site = httptest.NewServer(h)
	}
	t.Cleanup(site.Close)
	return site.URL
}

// chrome is one browser: a headless Chromium process with a profile of its
// own, so that two of them share no cookies.
type chrome struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func newChrome(t *testing.T, base string) *chrome {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.IgnoreCertErrors, // httptest's certificate, for the HTTPS run
		chromedp.WindowSize(900, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The browser lives as long as the context of its first call, which
	// therefore has no timeout; each call after it has one (see do).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath(t), err)
	}
	c := &chrome{t: t, ctx: ctx, base: base}
	c.do(chromedp.Navigate(base + "/"))
	return c
}

// callTimeout bounds each call to the browser.
const callTimeout = 30 * time.Second

// do runs steps in the browser's tab.
func (c *chrome) do(steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, callTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		c.t.Fatal(err)
	}
}

// eval returns the value of a JavaScript expression in the page.
func eval[T any](c *chrome, expr string) T {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, callTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		c.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// text returns the text of the page's body.
func (c *chrome) text() string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, callTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		c.t.Fatal(err)
	}
	return s
}

// page identifies the document in the tab: its time of origin, which
// every navigation, reload and history step renews.
func (c *chrome) page() float64 { return eval[float64](c, `performance.timeOrigin`) }

// submit types the fields into the form that posts to action, submits it
// and waits for the next page.
func (c *chrome) submit(action string, fields map[string]string) {
	c.t.Helper()
	form := `form[action="` + action + `"]`
	var steps []chromedp.Action[chromedp.Void]
	for name, v := range fields {
		steps = append(steps, chromedp.SendKeys(chromedp.CSS(form+` input[name="`+name+`"]`), v))
	}
	before := c.page()
	c.do(append(steps, chromedp.Click(chromedp.CSS(form+" button")))...)
	c.waitNewPage(before)
}

// waitNewPage waits until the tab holds a document other than before, and
// it has loaded.
func (c *chrome) waitNewPage(before float64) {
	c.t.Helper()
	deadline := time.Now().Add(callTimeout)
	for {
		ctx, cancel := context.WithTimeout(c.ctx, callTimeout)
		origin, err1 := chromedp.Run(ctx, chromedp.Evaluate[float64](`performance.timeOrigin`))
		state, err2 := chromedp.Run(ctx, chromedp.Evaluate[string](`document.readyState`))
		cancel()
		if err1 == nil && err2 == nil && origin != before && state == "complete" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no new page within %v (%v, %v)", callTimeout, err1, err2)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, with a deadline
	}
}

// open navigates to path and waits for its body.
func (c *chrome) open(path string) {
	c.t.Helper()
	c.do(chromedp.Navigate(c.base+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// screenshot writes the page to name in $TYPEDSTORE_SCREENSHOTS, when it
// is set (bash .ci/run sets it and prints where).
func (c *chrome) screenshot(name string) {
	c.t.Helper()
	dir := os.Getenv("TYPEDSTORE_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, callTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// cookie returns the browser's cookie of that name for the site, as the
// browser stored it, or nil.
func (c *chrome) cookie(name string) *network.Cookie {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, callTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{c.base}})
	if err != nil {
		c.t.Fatal(err)
	}
	for _, ck := range res.Cookies {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

func mustContain(t *testing.T, what, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s: no %q in\n%s", what, w, text)
		}
	}
}

func mustNotContain(t *testing.T, what, text string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(text, w) {
			t.Errorf("%s: %q in\n%s", what, w, text)
		}
	}
}

// TestBrowser drives the site in headless Chromium: a login through the
// form, a cart that survives navigation and a reload, a second browser of
// the same user on the devices page and logged out from the first, a
// logout whose page the back button does not bring back, and the cookie's
// attributes as the browser stored them.
func TestBrowser(t *testing.T) {
	base := browserSite(t, false)
	a := newChrome(t, base)
	mustContain(t, "first visit", a.text(), "Log in", "Empty.")
	a.screenshot("1-first-visit.png")

	a.submit("/cart", map[string]string{"item": "tea"})
	a.submit("/login", map[string]string{"name": "Ada"})
	// The page after the login's redirect, as first painted: the session
	// was saved before the redirect went out (express-session#360).
	home := a.text()
	mustContain(t, "the page after the login", home, "Welcome, Ada.", "Hello, Ada.", "tea")
	a.screenshot("2-logged-in.png")

	a.submit("/cart", map[string]string{"item": "scones"})
	a.open("/devices")
	before := a.page()
	a.do(chromedp.Click(chromedp.CSS(`a[href="/"]`)))
	a.waitNewPage(before)
	mustContain(t, "home after the devices page", a.text(), "Hello, Ada.", "tea", "scones")
	before = a.page()
	a.do(chromedp.Reload())
	a.waitNewPage(before)
	mustContain(t, "home after a reload", a.text(), "Hello, Ada.", "tea", "scones")

	sid := a.cookie("connect.sid")
	switch {
	case sid == nil:
		t.Fatal("the browser has no session cookie")
	case !sid.HTTPOnly || sid.SameSite != network.CookieSameSiteLax || sid.Path != "/" || sid.Secure:
		t.Errorf("session cookie as stored: HttpOnly %v, SameSite %q, Path %q, Secure %v; want true, Lax, /, false over HTTP",
			sid.HTTPOnly, sid.SameSite, sid.Path, sid.Secure)
	}

	// Ada logs in on a second browser, which the first sees and logs out.
	b := newChrome(t, base)
	b.submit("/login", map[string]string{"name": "Ada"})
	mustContain(t, "second browser after login", b.text(), "Hello, Ada.")
	a.open("/devices")
	if devices := eval[int](a, `document.querySelectorAll("li.device").length`); devices != 2 {
		t.Errorf("devices page lists %d devices; want 2:\n%s", devices, a.text())
	}
	a.screenshot("3-devices.png")
	a.submit("/devices/logout-others", nil)
	mustContain(t, "after logging out the other devices", a.text(), "Logged out 1 other device.")
	b.open("/")
	mustContain(t, "the other browser at its next navigation", b.text(), "Log in")
	mustNotContain(t, "the other browser at its next navigation", b.text(), "Hello, Ada.")

	// Logout, then the back button: the page before the logout is not
	// shown again from the browser's memory. Chromium refetches this page
	// even without Cache-Control: no-store, having no validator to
	// revalidate it with; the header, as the browser received it, is what
	// keeps other browsers, caches and back-forward caches from keeping it.
	ctx, cancel := context.WithTimeout(a.ctx, callTimeout)
	res, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/"))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	// The browser joins repeated headers with newlines.
	cc, _ := res.Headers["Cache-Control"].(string)
	if directives := strings.FieldsFunc(cc, func(r rune) bool { return r == '\n' || r == ',' }); !slices.Contains(directives, "no-store") || len(directives) != len(slices.Compact(slices.Sorted(slices.Values(directives)))) {
		t.Errorf("the home page reached the browser with Cache-Control %q; want no-store, each directive once", cc)
	}
	a.submit("/logout", nil)
	mustContain(t, "after logout", a.text(), "You are logged out.", "Log in")
	a.screenshot("4-logged-out.png")
	before = a.page()
	a.do(chromedp.NavigateBack())
	a.waitNewPage(before)
	back := a.text()
	mustNotContain(t, "the back button after logout", back, "Hello, Ada.", "tea", "scones")
	mustContain(t, "the back button after logout", back, "Log in")
	a.screenshot("5-back-after-logout.png")
}

// TestBrowserOverTLS: served over HTTPS, the session cookie is Secure as
// the browser stores it.
func TestBrowserOverTLS(t *testing.T) {
	base := browserSite(t, true)
	a := newChrome(t, base)
	a.submit("/login", map[string]string{"name": "Ada"})
	mustContain(t, "after login over HTTPS", a.text(), "Hello, Ada.")
	sid := a.cookie("connect.sid")
	if sid == nil {
		t.Fatal("the browser has no session cookie")
	}
	if !sid.Secure || !sid.HTTPOnly || sid.SameSite != network.CookieSameSiteLax || sid.Path != "/" {
		t.Errorf("session cookie over HTTPS: Secure %v, HttpOnly %v, SameSite %q, Path %q; want true, true, Lax, /", sid.Secure, sid.HTTPOnly, sid.SameSite, sid.Path)
	}
}
