// Command webapp is a small site with typed sessions: log in with a name
// (and "remember me"), fill a cart, count your visits, see the devices you
// are logged in on and log them out, log out. Its sessions are kept by
// package httpsession in a typedstore.Store, in the shape that Express's
// express-session uses, with an index of each user's sessions
// (typedstore.Options.Owner). A session ends after idleTimeout without a
// request, and maxLifetime after login however active; the page after that
// says which.
//
// It runs on an in-process Redis (miniredis) unless REDIS_URL names a real
// server, and signs cookies with SESSION_SECRET (a random secret when it is
// unset, so sessions do not survive a restart):
//
// With -telemetry, it writes OpenTelemetry traces (a span for every
// request, store operation and Redis command) and metrics (every ten
// seconds and at exit) as JSON to a file, or to standard output for "-".
// It is a module of its own, so that OpenTelemetry stays out of the
// library's go.mod; from the repository's root:
//
//	cd examples/webapp && go run .
//	go run . -addr 127.0.0.1:9000
//	go run . -telemetry telemetry.json
//	REDIS_URL=redis://127.0.0.1:6379/0 SESSION_SECRET=… go run .
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
)

// Session is this site's session: the express-session cookie, when the
// session began (for maxLifetime), plus data of its own.
type Session struct {
	typedstore.Cookie   `json:"cookie"`
	typedstore.Lifetime `json:"lifetime"`
	Name                string   `json:"name,omitempty"`
	Visits              int      `json:"visits,omitempty"`
	Cart                []string `json:"cart,omitempty"`
	Device              Device   `json:"device,omitzero"`
	// Flash is a message shown once, on the next page: after a login, a
	// logout, a device logged out.
	Flash string `json:"flash,omitempty"`
	// Ended is why the visitor's previous session ended, shown once, on the
	// next view of the home page (see noteExpiry).
	Ended httpsession.ExpiryReason `json:"ended,omitempty"`
}

// Device is the browser that a session was logged in from, as recorded at
// login.
type Device struct {
	// Handle names the session on the devices page and in its forms. It is
	// random and public: the session id is a credential, and never appears
	// in a page, a URL or a log line.
	Handle    string    `json:"handle,omitempty"`
	LoginAt   time.Time `json:"loginAt,omitzero"`
	SeenAt    time.Time `json:"seenAt,omitzero"` // refreshed at most every seenEvery
	UserAgent string    `json:"userAgent,omitempty"`
	IP        string    `json:"ip,omitempty"`
}

// idleTimeout ends a session that has had no request for this long.
// OWASP's Session Management Cheat Sheet puts the idle timeout at 15 to 30
// minutes for low-risk applications, 2 to 5 for high-value ones.
const idleTimeout = 30 * time.Minute

// maxLifetime ends a session this long after login, however active it is:
// an absolute timeout, which OWASP puts at 4 to 8 hours for a day of office
// work; 12 hours covers a long working day. A login starts it again.
const maxLifetime = 12 * time.Hour

// rememberFor is the max-age of the cookie of a login with "remember me",
// which is persistent and so survives the browser closing, where the
// cookie of any other login is a browser-session cookie. It does not
// lengthen the session: the cookie is sent again with every response, and
// expires with the session, idleTimeout after the last request or
// maxLifetime after login, whichever comes first.
const rememberFor = 7 * 24 * time.Hour

// maxDevices is how many devices a user may be logged in on at once: a
// login on one more logs out the one least recently active.
const maxDevices = 5

// seenEvery is how often a device's last-seen time is refreshed. A request
// that changes the session costs a write to Redis (and one to the index of
// its owner), where one that changes nothing costs only the GET that loads
// it and the PEXPIRE that resets its expiry. Refreshing at most once a
// minute keeps a page view that changes nothing else, such as the devices
// page, from writing each time, at the price of a last-seen time up to a
// minute old.
const seenEvery = time.Minute

// storeOptions configures the store of the site's sessions. The owner of a
// session is the name logged in to it ("" for a visitor who has not logged
// in, whose session is not indexed).
var storeOptions = typedstore.Options[Session]{
	Prefix:      "webapp:sess:",
	Owner:       func(v Session) string { return v.Name },
	MaxPerOwner: maxDevices,
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	telemetryTo := flag.String("telemetry", "", "write OpenTelemetry traces and metrics as JSON to this file (- for standard output)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *addr, *telemetryTo); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, addr, telemetryTo string) error {
	var w io.Writer
	switch telemetryTo {
	case "":
	case "-":
		w = os.Stdout
	default:
		f, err := os.Create(telemetryTo)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	tel, err := newTelemetry(w, 10*time.Second)
	if err != nil {
		return err
	}
	url := os.Getenv("REDIS_URL")
	if url == "" {
		mr, err := miniredis.Run()
		if err != nil {
			return err
		}
		defer mr.Close()
		url = "redis://" + mr.Addr()
		fmt.Println("Redis: embedded miniredis at", mr.Addr(), "(set REDIS_URL to use a real server)")
	} else {
		fmt.Println("Redis:", url)
	}
	opts := storeOptions
	opts.Hooks = tel.hooks
	store, err := typedstore.Open(url, opts)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := tel.instrument(store); err != nil {
		return err
	}
	defer tel.shutdown(context.Background())

	secret := os.Getenv("SESSION_SECRET")
	if secret == "" {
		secret = rand.Text() + rand.Text()
		fmt.Println("SESSION_SECRET is unset: signing cookies with a random secret")
	}
	h, err := newHandler(store, secret, time.Now, tel.onEvent)
	if err != nil {
		return err
	}
	h = tel.handler(h)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// site is the web site: its handlers, and what they share.
type site struct {
	store    *typedstore.Store[Session]
	sessions *httpsession.Manager[Session]
	now      func() time.Time
}

// newHandler returns the site, with its sessions in store (opened with
// storeOptions). now tells the time of logins and last visits; onEvent,
// when not nil, hears the middleware's events.
func newHandler(store *typedstore.Store[Session], secret string, now func() time.Time, onEvent func(context.Context, httpsession.Event)) (http.Handler, error) {
	sessions, err := httpsession.New(store, httpsession.Options{
		OnEvent:     onEvent,
		Secrets:     []string{secret},
		IdleTimeout: idleTimeout,
		Lifetime:    maxLifetime,
		// MaxAge 0: a browser-session cookie, unless "remember me" (see
		// rememberFor).
	})
	if err != nil {
		return nil, err
	}
	s := &site{store: store, sessions: sessions, now: now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /cart", s.addToCart)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("GET /devices", s.devices)
	mux.HandleFunc("POST /devices/logout", s.logoutDevice)
	mux.HandleFunc("POST /devices/logout-others", s.logoutOthers)
	// Every form is a POST, refused when the browser says that it comes
	// from another site (Sec-Fetch-Site, or Origin against Host): Go's
	// cross-origin protection, which needs no token in the forms. The
	// session cookie's SameSite=Lax (the httpsession default) keeps a
	// cross-site POST from carrying the session besides.
	return http.NewCrossOriginProtection().Handler(sessions.Handler(s.noteExpiry(s.seen(mux)))), nil
}

// noteExpiry keeps why the request's session ended, when idleTimeout or
// maxLifetime ended it, for the home page to say. The middleware reports it
// on this request only (Session.Expired), and the request may end in a
// redirect to the home page (any form, or a logged-out visitor's GET
// /devices), so the reason goes into the request's new session, which
// carries it there. A GET / shows it at once: the new session, set and
// cleared in the same request, is then not even stored.
func (s *site) noteExpiry(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sess := s.sessions.Get(r); sess.Expired() != "" {
			sess.Data.Ended = sess.Expired()
		}
		next.ServeHTTP(w, r)
	})
}

// seen refreshes the last-seen time of a logged-in session, at most every
// seenEvery (see there why not on each request).
func (s *site) seen(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := s.sessions.Get(r)
		if now := s.now(); sess.Data.Name != "" && now.Sub(sess.Data.Device.SeenAt) >= seenEvery {
			sess.Data.Device.SeenAt = now
		}
		next.ServeHTTP(w, r)
	})
}

// homeView is what the home page shows.
type homeView struct {
	Name   string
	Visits int
	Cart   []string
	// Since and Until are when the session began (the login) and when it
	// ends however active it is.
	Since, Until time.Time
	// Ended says why the previous session ended, if the lifetime policy
	// ended it.
	Ended string
	// Flash is the message of the request before (a login, a logout).
	Flash string
}

func (s *site) home(w http.ResponseWriter, r *http.Request) {
	sess := s.sessions.Get(r)
	if sess.Data.Name != "" {
		sess.Data.Visits++
	}
	v := homeView{
		Name:   sess.Data.Name,
		Visits: sess.Data.Visits,
		Cart:   sess.Data.Cart,
		Since:  sess.Started(),
		Until:  sess.Started().Add(maxLifetime),
		Ended:  endedMessage(sess.Data.Ended),
		Flash:  sess.Data.Flash,
	}
	sess.Data.Ended, sess.Data.Flash = "", ""
	if (v.Flash != "" || v.Ended != "") && sess.Data.Name == "" && len(sess.Data.Cart) == 0 {
		// The session of a logged-out visitor existed only to carry the
		// message (a logout's, or why the last session ended): with the
		// message shown, nothing is left to keep.
		if err := sess.Destroy(r.Context()); err != nil {
			unavailable(w, "home", err)
			return
		}
	}
	render(w, homePage, v)
}

// endedMessage says why a session ended, for the visitor: "" when the
// lifetime policy did not end it.
func endedMessage(why httpsession.ExpiryReason) string {
	switch why {
	case httpsession.ExpiredIdle:
		return "Your session ended after " + humanDuration(idleTimeout) + " without activity."
	case httpsession.ExpiredLifetime:
		return "Your session ended: a session lasts at most " + humanDuration(maxLifetime) + " after login."
	}
	return ""
}

// humanDuration writes d in the largest whole unit of days, hours, minutes
// or seconds that it is a multiple of ("30 minutes", "12 hours", "1 day"),
// or as time.Duration.String does when it is none.
func humanDuration(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}} {
		if d > 0 && d%u.d == 0 {
			n := int64(d / u.d)
			if n == 1 {
				return "1 " + u.name
			}
			return fmt.Sprintf("%d %ss", n, u.name)
		}
	}
	return d.String()
}

func (s *site) login(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.FormValue("name"))
	if name == "" || len(name) > 64 {
		http.Error(w, "a name of 1 to 64 characters, please", http.StatusBadRequest)
		return
	}
	sess := s.sessions.Get(r)
	// A new session id at login defeats session fixation; the cart filled
	// before logging in is kept.
	if err := sess.Regenerate(r.Context()); err != nil {
		unavailable(w, "login", err)
		return
	}
	if r.FormValue("remember") != "" {
		// A persistent cookie, which outlives the browser, for this login
		// only: a later login without it gets a browser-session cookie.
		sess.SetMaxAge(rememberFor)
	}
	now := s.now()
	sess.Data.Name = name
	sess.Data.Flash = "Welcome, " + name + "."
	sess.Data.Ended = "" // logged in again: no need to say why the last session ended
	sess.Data.Device = Device{
		Handle:    rand.Text(),
		LoginAt:   now,
		SeenAt:    now,
		UserAgent: userAgent(r),
		IP:        clientIP(r),
	}
	http.Redirect(w, r, "/", http.StatusSeeOther) // the session is saved before this goes out
}

func (s *site) addToCart(w http.ResponseWriter, r *http.Request) {
	item := strings.TrimSpace(r.FormValue("item"))
	sess := s.sessions.Get(r)
	if item != "" && len(item) <= 64 && len(sess.Data.Cart) < 50 {
		sess.Data.Cart = append(sess.Data.Cart, item)
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *site) logout(w http.ResponseWriter, r *http.Request) {
	sess := s.sessions.Get(r)
	if err := sess.Destroy(r.Context()); err != nil {
		unavailable(w, "logout", err)
		return
	}
	// Said on the next page, by the new, empty session that Destroy left,
	// which the message makes worth a cookie until that page clears it.
	sess.Data.Flash = "You are logged out."
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// deviceView is one row of the devices page.
type deviceView struct {
	Device
	This bool // the device of the request
}

func (s *site) devices(w http.ResponseWriter, r *http.Request) {
	sess := s.sessions.Get(r)
	if sess.Data.Name == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	seq, errf := s.store.OwnedBy(r.Context(), sess.Data.Name)
	this := s.store.NameOf(sess.ID()) // what OwnedBy yields for it
	var list []deviceView
	for name, v := range seq {
		if name != this {
			list = append(list, deviceView{Device: v.Device})
		}
	}
	if err := errf(); err != nil {
		unavailable(w, "devices", err)
		return
	}
	// This device comes from the request's session, which may be newer than
	// the stored copy (a last-seen time refreshed by this request).
	list = append(list, deviceView{Device: sess.Data.Device, This: true})
	slices.SortFunc(list, func(a, b deviceView) int {
		if a.This != b.This {
			if a.This {
				return -1
			}
			return 1
		}
		return cmp.Or(b.SeenAt.Compare(a.SeenAt), b.LoginAt.Compare(a.LoginAt), cmp.Compare(a.Handle, b.Handle))
	})
	flash := sess.Data.Flash
	sess.Data.Flash = ""
	render(w, devicesPage, struct {
		Name, Flash string
		Devices     []deviceView
		Max         int
	}{sess.Data.Name, flash, list, maxDevices})
}

// logoutDevice logs out the device whose handle the form names. It looks
// for the handle among the sessions of the user of the request only, so
// that the handle of someone else's device finds nothing, and never
// matches the request's own session, which POST /logout logs out.
func (s *site) logoutDevice(w http.ResponseWriter, r *http.Request) {
	sess := s.sessions.Get(r)
	if sess.Data.Name == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	handle := r.PostFormValue("device")
	var target string
	if handle != "" {
		seq, errf := s.store.OwnedBy(r.Context(), sess.Data.Name)
		this := s.store.NameOf(sess.ID())
		for name, v := range seq {
			if name != this && v.Device.Handle == handle {
				target = name
				break
			}
		}
		if err := errf(); err != nil {
			unavailable(w, "log out device", err)
			return
		}
	}
	n := 0
	if target != "" {
		// A request of that device that loaded its session before this
		// cannot save it back: httpsession writes it with SET XX.
		if err := s.store.DeleteByName(r.Context(), target); err != nil {
			unavailable(w, "log out device", err)
			return
		}
		n = 1
	}
	sess.Data.Flash = loggedOut(n, "device")
	http.Redirect(w, r, "/devices", http.StatusSeeOther)
}

func (s *site) logoutOthers(w http.ResponseWriter, r *http.Request) {
	sess := s.sessions.Get(r)
	if sess.Data.Name == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	n, err := sess.DestroyOthers(r.Context())
	if err != nil {
		unavailable(w, "log out other devices", err)
		return
	}
	sess.Data.Flash = loggedOut(n, "other device")
	http.Redirect(w, r, "/devices", http.StatusSeeOther)
}

// loggedOut says how many devices a logout ended.
func loggedOut(n int, what string) string {
	switch n {
	case 0:
		return "No device was logged out."
	case 1:
		return "Logged out 1 " + what + "."
	}
	return fmt.Sprintf("Logged out %d %ss.", n, what)
}

// userAgent returns the request's User-Agent, cut to a length worth
// keeping in a session.
func userAgent(r *http.Request) string {
	ua := r.UserAgent()
	if len(ua) > 200 {
		ua = ua[:200]
	}
	return strings.ToValidUTF8(ua, "")
}

// clientIP returns the host of the request's remote address. Behind a
// reverse proxy that is the proxy's: a site behind one takes the client's
// address from the header that the proxy sets, and only from that proxy.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// unavailable answers a request whose session work failed in Redis. The
// error is logged; the store's errors never hold a whole session id.
func unavailable(w http.ResponseWriter, what string, err error) {
	log.Printf("%s: %v", what, err)
	http.Error(w, "sessions are unavailable, try again", http.StatusServiceUnavailable)
}

// render writes a page. Every page shows the visitor's own session (a
// name, a cart, devices), so none may be kept by a cache, nor shown again
// from the browser's history after a logout: Cache-Control: no-store.
func render(w http.ResponseWriter, t *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := t.Execute(w, data); err != nil {
		log.Print(err)
	}
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "unknown"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
}

const head = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>typedstore webapp</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:34em;margin:2em auto;padding:0 1em;color:#1d2330;background:#f7f8fa}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.5em}
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:1em 1.2em;margin:1em 0}
.flash{background:#e7f5ec;border-color:#9fd5b2}.ended{background:#fdf1e3;border-color:#f0c58e}
button{font:inherit;padding:.3em .9em;border-radius:6px;border:1px solid #4a6cd4;background:#4a6cd4;color:#fff;cursor:pointer}
input{font:inherit;padding:.25em .5em;border:1px solid #bcc3cf;border-radius:6px}
li{margin-bottom:1em}a{color:#3453b8}
</style>
`

var homePage = template.Must(template.New("home").Funcs(funcs).Parse(head + `<h1>typedstore webapp</h1>
{{with .Flash}}<p class="card flash" id="flash">{{.}}</p>{{end}}
{{with .Ended}}<p class="card ended"><b>{{.}}</b></p>{{end}}
{{if .Name}}
<p>Hello, {{.Name}}. This is visit {{.Visits}}.</p>
<p>Signed in since {{when .Since}}, until {{when .Until}} at the latest.</p>
<p><a href="/devices">Your devices</a></p>
<form method="post" action="/logout"><button>Log out</button></form>
{{else}}
<form method="post" action="/login">
<label>Name <input name="name" required maxlength="64"></label>
<label><input type="checkbox" name="remember"> Remember me</label>
<button>Log in</button>
</form>
{{end}}
<h2>Cart</h2>
{{if .Cart}}<ul>{{range .Cart}}<li>{{.}}</li>{{end}}</ul>{{else}}<p>Empty.</p>{{end}}
<form method="post" action="/cart">
<input name="item" required maxlength="64" placeholder="tea"> <button>Add to cart</button>
</form>
`))

var devicesPage = template.Must(template.New("devices").Funcs(funcs).Parse(head + `<h1>Your devices</h1>
<p><a href="/">Home</a></p>
{{with .Flash}}<p class="card flash" id="flash">{{.}}</p>{{end}}
<p>{{.Name}}, you are logged in on {{len .Devices}} of at most {{.Max}} devices.
Logging in on one more logs out the one least recently active.</p>
<ul>
{{range .Devices}}<li class="device">
<b>{{or .UserAgent "Unknown browser"}}</b>{{if .This}} (this device){{end}}<br>
Logged in {{when .LoginAt}} from {{or .IP "an unknown address"}}, last seen {{when .SeenAt}}
{{if and (not .This) .Handle}}<form method="post" action="/devices/logout">
<input type="hidden" name="device" value="{{.Handle}}"> <button>Log out this device</button>
</form>{{end}}
</li>
{{end}}</ul>
{{if gt (len .Devices) 1}}<form method="post" action="/devices/logout-others"><button>Log out all other devices</button></form>{{end}}
`))
