package frameworks_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/examples/frameworks"
	"github.com/typedstore/typedstore/httpsession"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode) // no route listing on stdout
	os.Exit(m.Run())
}

// apps is the site, built on each framework.
var apps = []struct {
	name    string
	handler func(*httpsession.Manager[frameworks.Session]) http.Handler
}{
	{"chi", frameworks.ChiHandler},
	{"echo", frameworks.EchoHandler},
	{"gin", frameworks.GinHandler},
}

// newManager returns a manager whose sessions live in a miniredis of the
// test's own, and the miniredis. Its log lines go to the test's output.
func newManager(t *testing.T) (*httpsession.Manager[frameworks.Session], *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	store, err := typedstore.New(client, typedstore.Options[frameworks.Session]{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := httpsession.New(store, httpsession.Options{
		Secrets: []string{"a secret for tests, 32 bytes or more"},
		MaxAge:  time.Hour,
		Logger:  slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, mr
}

// browser is an HTTP client with a cookie jar that follows redirects. For
// each redirect it follows, it notes whether the redirect set a cookie and
// how many keys the store held when it arrived.
type browser struct {
	t         *testing.T
	url       string
	client    *http.Client
	redirects []redirect
}

type redirect struct {
	status    int
	setCookie bool
	keys      int
}

func newBrowser(t *testing.T, url string, mr *miniredis.Miniredis) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, url: url}
	b.client = &http.Client{
		Jar: jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			res := req.Response
			b.redirects = append(b.redirects, redirect{res.StatusCode, len(res.Cookies()) > 0, len(mr.Keys())})
			return nil
		},
	}
	return b
}

// expect sends a request, follows its redirects, and checks the final
// response's status and that its body contains wantBody.
func (b *browser) expect(method, path string, form url.Values, wantStatus int, wantBody string) {
	b.t.Helper()
	b.redirects = nil
	req, err := http.NewRequest(method, b.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, body := send(b.t, b.client, req)
	if status != wantStatus || !strings.Contains(body, wantBody) {
		b.t.Errorf("%s %s = %d %q; want %d with %q", method, path, status, body, wantStatus, wantBody)
	}
}

// cookie returns the session cookie that the browser holds, or nil.
func (b *browser) cookie() *http.Cookie {
	u, err := url.Parse(b.url)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == httpsession.DefaultName {
			return c
		}
	}
	return nil
}

func send(t *testing.T, client *http.Client, req *http.Request) (status int, body string) {
	t.Helper()
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

func TestLoginLogout(t *testing.T) {
	for _, app := range apps {
		t.Run(app.name, func(t *testing.T) {
			m, mr := newManager(t)
			srv := httptest.NewServer(app.handler(m))
			t.Cleanup(srv.Close)
			b := newBrowser(t, srv.URL, mr)

			b.expect("GET", "/", nil, http.StatusOK, "hello, stranger\n")
			b.expect("POST", "/login", url.Values{"user": {"ada"}, "password": {"babbage"}},
				http.StatusUnauthorized, "wrong user or password")
			if c := b.cookie(); c != nil {
				t.Errorf("cookie before login = %v; want none", c)
			}

			// The redirect after login carries the cookie of a session
			// already stored, and the request it leads to sees the user.
			b.expect("POST", "/login", url.Values{"user": {"ada"}, "password": {"lovelace"}},
				http.StatusOK, "hello, user 1\n")
			if want := []redirect{{http.StatusSeeOther, true, 1}}; !slices.Equal(b.redirects, want) {
				t.Errorf("redirects after login = %+v; want %+v", b.redirects, want)
			}
			loggedIn := b.cookie()
			if loggedIn == nil {
				t.Fatal("cookie after login = nil; want one")
			}
			b.expect("GET", "/", nil, http.StatusOK, "hello, user 1\n")

			b.expect("POST", "/logout", nil, http.StatusOK, "hello, stranger\n")
			if want := []redirect{{http.StatusSeeOther, true, 0}}; !slices.Equal(b.redirects, want) {
				t.Errorf("redirects after logout = %+v; want %+v", b.redirects, want)
			}
			if c := b.cookie(); c != nil {
				t.Errorf("cookie after logout = %v; want none", c)
			}
			if keys := mr.Keys(); len(keys) != 0 {
				t.Errorf("keys after logout = %q; want none", keys)
			}

			// The cookie from before the logout names a session that is gone.
			req, err := http.NewRequest("GET", srv.URL+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.AddCookie(loggedIn)
			if status, body := send(t, http.DefaultClient, req); status != http.StatusOK || body != "hello, stranger\n" {
				t.Errorf("GET / with the cookie from before the logout = %d %q; want 200 %q", status, body, "hello, stranger\n")
			}
		})
	}
}

func TestStoreDown(t *testing.T) {
	for _, app := range apps {
		t.Run(app.name, func(t *testing.T) {
			m, mr := newManager(t)
			srv := httptest.NewServer(app.handler(m))
			t.Cleanup(srv.Close)
			b := newBrowser(t, srv.URL, mr)
			b.expect("POST", "/login", url.Values{"user": {"ada"}, "password": {"lovelace"}},
				http.StatusOK, "hello, user 1\n")

			// The middleware answers; the handler does not run.
			mr.SetError("ERR the store is down")
			req, err := http.NewRequest("GET", srv.URL+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			status, body := send(t, b.client, req)
			if want := "Internal Server Error\n"; status != http.StatusInternalServerError || body != want {
				t.Errorf("GET / with the store down = %d %q; want 500 %q", status, body, want)
			}

			mr.SetError("")
			b.expect("GET", "/", nil, http.StatusOK, "hello, user 1\n")
		})
	}
}

// headerWatcher is a ResponseRecorder that notes how many keys the store
// held when the response's headers went out.
type headerWatcher struct {
	*httptest.ResponseRecorder
	mr   *miniredis.Miniredis
	keys int // -1 until the headers go out
}

func (w *headerWatcher) note() {
	if w.keys < 0 {
		w.keys = len(w.mr.Keys())
	}
}

func (w *headerWatcher) WriteHeader(code int) { w.note(); w.ResponseRecorder.WriteHeader(code) }
func (w *headerWatcher) Flush()               { w.note(); w.ResponseRecorder.Flush() }

func (w *headerWatcher) Write(p []byte) (int, error) {
	w.note()
	return w.ResponseRecorder.Write(p)
}

func (w *headerWatcher) WriteString(s string) (int, error) {
	w.note()
	return w.ResponseRecorder.WriteString(s)
}

// checkSavedBeforeHeaders sends h a request for /set, whose handler sets
// the session's UserID to 7, and checks the response's status, that the
// session was in the store when the response's headers went out, that the
// response carried the session's cookie, and that with that cookie a
// request for /get finds the change (body "7").
func checkSavedBeforeHeaders(t *testing.T, h http.Handler, mr *miniredis.Miniredis, method string, wantStatus int) {
	t.Helper()
	w := &headerWatcher{ResponseRecorder: httptest.NewRecorder(), mr: mr, keys: -1}
	h.ServeHTTP(w, httptest.NewRequest(method, "/set", nil))
	w.note() // a response with nothing written goes out now
	res := w.Result()
	if res.StatusCode != wantStatus {
		t.Errorf("%s /set: status = %d; want %d", method, res.StatusCode, wantStatus)
	}
	if w.keys != 1 {
		t.Errorf("%s /set: keys in the store when the headers went out = %d; want 1", method, w.keys)
	}
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == httpsession.DefaultName {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatalf("%s /set: session cookie = nil; want one (headers %v)", method, res.Header)
	}
	req := httptest.NewRequest("GET", "/get", nil)
	req.AddCookie(cookie)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got := rec.Body.String(); got != "7" {
		t.Errorf("GET /get after %s /set = %q; want %q", method, got, "7")
	}
}
