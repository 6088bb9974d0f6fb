// Package httpsession is net/http middleware that gives each request a typed
// session kept in a [typedstore.Store], behind a signed cookie, with the
// semantics of Node's express-session.
//
// A [Manager] wraps handlers with [Manager.Handler]; inside them,
// [Manager.Get] returns the request's [Session], whose Data field is the
// application's own type T:
//
//	type Session struct {
//		typedstore.Cookie `json:"cookie"`
//		UserID int64      `json:"userId"`
//	}
//
//	store, _ := typedstore.New(client, typedstore.Options[Session]{})
//	m, _ := httpsession.New(store, httpsession.Options{Secrets: []string{secret}})
//	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
//		s := m.Get(r)
//		s.Regenerate(r.Context()) // a new id: no session fixation
//		s.Data.UserID = 42
//		http.Redirect(w, r, "/", http.StatusSeeOther) // saved before this goes out
//	})
//	http.ListenAndServe(addr, m.Handler(mux))
//
// # The request's session
//
// The middleware reads the cookie named [Options.Name], checks its
// signature, and loads the session it names. A request with no cookie, with
// a cookie that is malformed, unsigned, tampered with, truncated, too long or
// signed with a secret the manager does not know, or with a valid cookie for
// a session that no longer exists (expired, destroyed) gets a new, empty
// session under a new id from [Options.GenID]. An id chosen by the client is
// never used. None of these is an error: the handler runs as usual.
//
// # Saving
//
// The session is saved just before the response's headers go out: on the
// handler's first call to WriteHeader, Write or Flush (or a Hijack), or when
// the handler returns without having written anything. A handler can
// therefore change the session and then redirect, and the next request,
// however quickly the browser sends it, finds the change. (express-session
// saves when the response ends, after the headers have gone out, and a fast
// browser can outrun it: expressjs/session#360.)
//
// A session is written to the store when its data changed during the
// request, which the middleware detects as express-session does: it compares
// a hash (SHA-256) of the session's encoding, without the cookie, taken when
// the session was loaded with one taken when the response goes out. That
// costs one encoding of the session on load and one on each response,
// besides the store's own decoding and encoding. A new session that was
// never changed is neither stored nor given a cookie, unless
// [Options.SaveUninitialized] is set, so a crawler or a visitor who never
// logs in costs no write.
//
// An existing session that did not change is not rewritten, unless
// [Options.Resave] asks for it: its expiry is reset, by the GETEX that
// loaded it when [Options.MaxAge] is set and T embeds the cookie (one
// command per request), or else by [typedstore.Store.Touch] at the end of
// the request (a PEXPIRE after the GET that loaded it, as express-session
// and connect-redis do). A store with [typedstore.Options.DisableTTL] has
// no expiry to reset: there the expiry stored in the session's cookie is
// the only one, and the touch rewrites the session to move it.
//
// A session in Redis is alive: when it is loaded, the time to live that
// Redis keeps for it decides, not the expiry stored in its cookie, which a
// touch does not rewrite (nor does connect-redis's). So a rolling or
// touched session lives MaxAge after its last request, in Go as in an
// Express app that shares it. Only in a store without time to live is a
// session whose stored cookie has expired treated as gone.
//
// # Concurrent requests
//
// A new session is written with [typedstore.Store.Create] (SET NX), so it
// can never overwrite another session, and a loaded one with
// [typedstore.Store.Replace] (SET XX): a session that another request
// destroyed meanwhile (a logout in another tab) is not brought back to life
// by a slower request that loaded it before. That save is dropped, logged at
// level Info, and the browser's cookie cleared; [Session.Save] and
// [Session.Update] report it as [ErrGone]. Changes that concurrent requests
// make to one session are otherwise saved last-writer-wins, as in
// express-session; [Session.Update] applies a change atomically instead, so
// that neither request's change is lost.
//
// The cookie is sent when a new session is saved, when [Options.Rolling] is
// set, when a session whose cookie has an expiry changed (the new expiry is
// sent with it), with every response of a persistent cookie under
// [Options.IdleTimeout], and after [Session.Touch], [Session.SetMaxAge] or
// [Session.Regenerate], or [Session.Save] of a new session.
// [Session.Destroy] deletes the stored session and sends a cookie that
// clears the browser's.
//
// # Sessions of a user
//
// When the store has an Owner function ([typedstore.Options.Owner]), every
// save, login and logout keeps its index of each owner's sessions, a
// request that only reads its session sends nothing more than without it,
// and [Session.DestroyOthers] logs out the other devices of the session's
// owner. [typedstore.Store.OwnedBy] lists them, for a "your devices" page.
//
// # Lifetime
//
// [Options.IdleTimeout] ends a session unused for that long,
// [Options.Lifetime] ends one that long after its login however active it
// is, and [Options.RenewAfter] gives a session a new id periodically,
// transparently, with a grace period for requests that still carry the old
// one. A session's time to live in Redis, and its cookie's expiry, are
// always the sooner of its idle and absolute deadlines: no load, touch, save
// or rolling cookie extends a Lifetime. "Remember me" is [Session.SetMaxAge]
// at login. [Session.Expired] tells the request after an end whether it was
// idle or reached its lifetime. Lifetime and RenewAfter store when a session
// began in the [typedstore.Lifetime] that T embeds, where an Express app's
// save keeps it. docs/lifetime.md has the rules, beside OWASP's.
//
// # Errors
//
// When the store fails (Redis down, or slower than the request's context
// allows) while the session is loaded or saved, the middleware calls
// [Options.ErrorHandler], by default a 500 response and a log line through
// log/slog, and the handler's own response, if it had begun one, is
// dropped, headers included: the error response carries the headers that
// the response had when the request reached the middleware (set by
// middleware further out) and those the ErrorHandler sets, never a
// Location, Set-Cookie or other header of the handler's. Waits on Redis are bounded by the request's context and by the
// Redis client's own timeouts. A stored session that cannot be decoded is
// handled as [Options.OnCorrupt] says: by default, logged and replaced by a
// new session under a new id; the corrupt value is left for its time to live
// to remove (a load with GETEX has reset that time to live as it read it).
//
// # The cookie inside the session
//
// When *T implements [typedstore.CookieCarrier], that is when T embeds
// [typedstore.Cookie] (under the JSON name "cookie"), the middleware keeps
// the cookie's settings inside the stored session as express-session does:
// originalMaxAge and expires (in milliseconds, UTC), path, httpOnly,
// secure, sameSite, domain. The stored value then has express-session's
// shape, its time to live in Redis follows the cookie's expiry, and an
// Express app that uses express-session and connect-redis with the same
// Redis, key prefix, cookie name and secret shares the sessions both ways. A
// session's max-age comes from the stored cookie (so it survives a change of
// [Options.MaxAge], and [Session.SetMaxAge] can give one session its own);
// path, domain and the other attributes come from the [Options] in force.
// The middleware owns the embedded Cookie: changes a handler makes to it
// directly are overwritten when the session is saved.
//
// When *T does not implement [typedstore.CookieCarrier], the cookie's
// settings live only in the [Options], and the stored session's expiry is
// the store's: [New] refuses a MaxAge that the store would not follow (its
// TTL differs, and neither its TTLFunc nor T's own Expires decides), with
// an error saying to set [typedstore.Options.TTL] to MaxAge or to embed the
// cookie. [typedstore.New] and New both refuse a T that embeds
// [typedstore.Cookie] with no JSON name, whose fields would be stored
// flattened into the session where express-session does not look.
//
// Members of the stored session that T does not declare, such as those an
// Express app keeps for itself, are written back unchanged when Go saves
// the session, so an Express app and a Go service with different session
// types share sessions without losing each other's data (with the JSON
// codec, for the top level of the session: see [typedstore.Extra]). A
// member T declares is written as T has it, so one that is now zero under
// omitempty is removed.
//
// # What is left out
//
// express-session's unset option and req.session.reload have no
// counterpart: set Data to the zero value, or call the store, instead.
// Options.Path only sets the cookie's Path attribute; the middleware does
// not skip requests outside it as express-session does, since a handler that
// finds a nil session is a worse failure than one whose cookie the browser
// does not send. Cookies written by cookie-parser's own signing (req.secret)
// are not read.
package httpsession

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/clock"
	"github.com/typedstore/typedstore/internal/redact"
	"github.com/typedstore/typedstore/internal/storeapi"
)

// DefaultName is the cookie name used when [Options.Name] is empty. It is
// express-session's default, so an Express app with default settings shares
// the cookie.
const DefaultName = "connect.sid"

// SecureMode says when the session cookie gets the Secure attribute.
type SecureMode int

const (
	// SecureAuto, the default, sets Secure on requests that arrived over
	// TLS (or, with [Options.TrustProxy], that a proxy says arrived over
	// HTTPS), and not on others. This is express-session's secure: "auto".
	SecureAuto SecureMode = iota
	// SecureAlways always sets Secure. As in express-session, the cookie is
	// then not sent at all in answer to a request that did not arrive over
	// TLS, so that the session id never crosses the network in clear; behind
	// a proxy that ends TLS, set [Options.TrustProxy].
	SecureAlways
	// SecureNever never sets Secure.
	SecureNever
)

// CorruptPolicy says what the middleware does with a stored session that
// the store's codec cannot decode ([typedstore.ErrCorrupt]).
type CorruptPolicy int

const (
	// CorruptNew, the default, logs a warning and gives the request a new
	// session under a new id. The corrupt value stays in Redis until its time
	// to live runs out, so it can be examined; a load with GETEX (MaxAge or
	// IdleTimeout set) resets that time to live as it reads the value.
	CorruptNew CorruptPolicy = iota
	// CorruptDelete logs a warning, deletes the corrupt value and gives the
	// request a new session under a new id.
	CorruptDelete
	// CorruptFail calls [Options.ErrorHandler] with the
	// [*typedstore.CorruptError].
	CorruptFail
)

// Options configures a [Manager]. Its zero value is not usable: Secrets is
// required. Every other field's zero value means the documented default.
// The table in docs/http.md sets each field beside the express-session option
// it stands for.
type Options struct {
	// Name is the name of the session cookie. Default "connect.sid"
	// (express-session's name option).
	Name string

	// Secrets sign and verify the session cookie (express-session's secret
	// option, as an array). The first one signs every cookie sent; all of
	// them are tried when a cookie is verified, so a secret can be rotated
	// by putting the new one first and keeping the old one until the
	// cookies it signed have expired. At least one is required, and none
	// may be empty. A secret should be at least 32 random bytes: New logs
	// one warning when one is shorter.
	Secrets []string

	// Path is the cookie's Path attribute. Default "/".
	Path string

	// Domain is the cookie's Domain attribute. Default none: the cookie goes
	// back only to the host that set it.
	Domain string

	// MaxAge is how long the cookie, and the session with it, lives after
	// the last response that set or touched it. Default 0: a browser-session
	// cookie with no Max-Age or Expires, which the browser drops when it
	// closes, and whose stored session lives for the store's TTL
	// (express-session's default, cookie.maxAge unset). It must not be
	// negative. When T does not embed typedstore.Cookie, the store must keep
	// sessions for MaxAge too (see the package documentation).
	MaxAge time.Duration

	// DisableHTTPOnly lets scripts in the page read the cookie. Default
	// false: the cookie is HttpOnly (express-session's cookie.httpOnly,
	// default true).
	DisableHTTPOnly bool

	// Secure says when the cookie gets the Secure attribute. Default
	// SecureAuto (express-session's cookie.secure: "auto"; its own default
	// is false).
	Secure SecureMode

	// TrustProxy lets the first value of the X-Forwarded-Proto header say
	// whether the request arrived over HTTPS, for SecureAuto and
	// SecureAlways (express-session's proxy option). Set it only behind a
	// proxy that sets or strips that header. Default false: only r.TLS is
	// looked at.
	TrustProxy bool

	// SameSite is the cookie's SameSite attribute. Default
	// http.SameSiteLaxMode (express-session's own default sets none).
	// http.SameSiteDefaultMode sends no attribute. http.SameSiteNoneMode
	// requires Secure, so it cannot be combined with SecureNever.
	SameSite http.SameSite

	// Partitioned sets the cookie's Partitioned attribute (CHIPS). Default
	// false. It requires Secure, so it cannot be combined with SecureNever.
	Partitioned bool

	// Rolling resets the session's expiry and sends the cookie again on
	// every response, so that the session lives MaxAge after the last
	// request rather than after the last change (express-session's
	// rolling). Default false. It costs a Set-Cookie header per response;
	// the store is touched either way.
	Rolling bool

	// IdleTimeout ends a session that has had no request for this long.
	// Every request resets the session's expiry to IdleTimeout from now
	// (in the GETEX that loads it, or a touch when the response goes out),
	// and a persistent cookie is sent again with every response, its
	// expiry moved with the session's, so the browser's cookie and the
	// stored session end together. A session with a persistent cookie ends
	// after the shorter of IdleTimeout and its max-age without a request;
	// one with a browser-session cookie after IdleTimeout. Default 0: as in
	// express-session, a session ends its max-age after its last request,
	// or, with a browser-session cookie, the store's TTL after it; the
	// browser's cookie expires MaxAge after the response that last sent it
	// (every response, under Rolling). It requires T to embed
	// typedstore.Cookie. See docs/lifetime.md.
	IdleTimeout time.Duration

	// Lifetime ends a session this long after it began, however active it
	// is: no touch, load, save or rolling cookie extends it. The session's
	// time to live in Redis is always the shorter of its idle deadline and
	// this absolute deadline, and its cookie's Max-Age and Expires never
	// reach past it. A session begins when it is created, and again when
	// [Session.Regenerate] moves it to a new id (a login); its start is
	// stored in it, in the typedstore.Lifetime that T must embed, so it
	// survives an Express app's save. A session stored without a start
	// (saved by an Express app, or before Lifetime was set) begins when this
	// middleware first loads it. Sessions are then loaded with GET and their
	// expiry set when the response goes out, as with LoadWithGet (two
	// commands per request, as in connect-redis): a GETEX before the session
	// is read could extend it past its deadline. Default 0: no absolute
	// limit.
	Lifetime time.Duration

	// RenewAfter gives a session a new id on its first request once its id
	// is this old, transparently: the data and the start are kept, the
	// session is written under the new id, the old id is deleted and the new
	// cookie goes out with the response. For RenewGrace after that, a
	// request that carries the old id (a concurrent request of the same
	// browser, sent before the new cookie arrived) is served the renewed
	// session and sent the new cookie, and one that loaded the session
	// before the renewal saves its changes to it. A renewal costs three
	// round trips. It requires T to embed typedstore.Lifetime, which stores
	// when the id was issued. Default 0: ids change only at Regenerate.
	RenewAfter time.Duration

	// RenewGrace is how long an id that RenewAfter replaced still leads to
	// its session. Default DefaultRenewGrace (30 s). The old id is a
	// credential for that long, so keep it short: long enough for the
	// requests a page sends at once.
	RenewGrace time.Duration

	// LoadWithGet loads sessions with GET and resets the expiry of an
	// unchanged one with a separate touch at the end of the request: two
	// commands, as express-session and connect-redis send. Default false:
	// when MaxAge is set and T embeds typedstore.Cookie, a session is loaded
	// and its expiry reset in one GETEX, and the touch at the end is skipped
	// unless the session's own max-age (SetMaxAge) or the store's TTLFunc
	// asks for another expiry. Set it with go-redis's client-side cache,
	// which can answer GET from memory but not GETEX, or with the store's
	// TouchSlack, which only the separate touch applies.
	LoadWithGet bool

	// Resave writes the session to the store on every request, even when it
	// did not change (express-session's resave). Default false: an
	// unchanged session is only touched.
	Resave bool

	// SaveUninitialized stores a new session, and sends its cookie, even
	// when the handler did not change it (express-session's
	// saveUninitialized). Default false, which spares the store a write per
	// visitor who never logs in and sets no cookie before the application
	// needs one.
	SaveUninitialized bool

	// GenID returns the id of a new session (express-session's genid). It
	// must return a string that no other session has and that an attacker
	// cannot guess; it must not be empty or longer than typedstore.MaxIDLen
	// bytes. Default: 24 bytes from crypto/rand in unpadded base64url, 32
	// characters (express-session's uid(24)).
	GenID func(r *http.Request) (string, error)

	// ErrorHandler writes the response when the session cannot be loaded or
	// saved (the store failed, or the request's context ended first). It
	// is called at most once per request, before any of the handler's
	// response has gone out, with the headers the handler had set removed;
	// whatever the handler writes after it is discarded. Default: a log line at level Error through Logger and a
	// plain "Internal Server Error" with status 500.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// OnCorrupt says what to do with a stored session that cannot be
	// decoded. Default CorruptNew.
	OnCorrupt CorruptPolicy

	// OnEvent, when set, is called once for each event in the life of a
	// request's session (see [EventKind]): loaded, created, saved,
	// touched, regenerated, renewed, destroyed, revoked, corrupt, ended,
	// lost. It runs synchronously, in the request's goroutine, after the
	// store has answered for the change it reports, so it adds its own
	// time to the request's: keep it fast. Its context is the one of the
	// call that caused the event: the request's for the load and the save
	// when the response goes out, the one passed to Session.Save, Update,
	// Regenerate, Destroy or DestroyOthers for theirs (usually the
	// request's too, and so its trace). It is never handed a whole session id, only a hint of
	// one. A panic in it is not recovered: it goes up through the handler,
	// as a panic in the handler would (net/http's server logs it and drops
	// the connection). Default nil: no events, at no cost.
	OnEvent func(ctx context.Context, e Event)

	// Logger receives the middleware's log lines: errors, corrupt sessions,
	// failed touches. Default slog.Default() (looked up when a line is
	// written). Log lines never contain a whole session id, since an id is
	// a credential.
	Logger *slog.Logger
}

// Manager loads and saves the sessions of requests that pass through its
// [Manager.Handler]. It is safe for concurrent use by multiple goroutines.
type Manager[T any] struct {
	sessions *typedstore.Store[T]
	opts     Options
	secrets  []string
	name     string
	path     string
	sameSite http.SameSite
	maxAge   *int64 // milliseconds; nil: browser-session cookie
	carrier  bool   // *T implements typedstore.CookieCarrier
	lifer    bool   // *T implements typedstore.LifetimeCarrier
	store    storeapi.Funcs[T]
	key      ctxKey[T]
	// zeroSum is the hash of the zero T, kept once it was made (see
	// zeroHash).
	zeroSum atomic.Pointer[[sha256.Size]byte]
}

type ctxKey[T any] struct{ m *Manager[T] }

// New returns a Manager that keeps sessions in store. It validates opts
// (at least one secret, none empty; a cookie that net/http's
// [http.Cookie.Valid] accepts, name, path and domain included; no negative
// MaxAge; SameSite None and Partitioned only where Secure is possible; a
// MaxAge that the store's expiry follows) and fills in the defaults. It does
// not contact Redis.
func New[T any](store *typedstore.Store[T], opts Options) (*Manager[T], error) {
	if store == nil {
		return nil, errors.New("httpsession: New: nil store")
	}
	if len(opts.Secrets) == 0 {
		return nil, errors.New("httpsession: New: Options.Secrets is empty: at least one secret is required to sign cookies")
	}
	for i, s := range opts.Secrets {
		if s == "" {
			return nil, fmt.Errorf("httpsession: New: Options.Secrets[%d] is empty", i)
		}
	}
	m := &Manager[T]{
		sessions: store,
		store:    storeapi.For[T](store),
		opts:     opts,
		secrets:  append([]string(nil), opts.Secrets...),
		name:     cmp.Or(opts.Name, DefaultName),
		path:     cmp.Or(opts.Path, "/"),
		sameSite: cmp.Or(opts.SameSite, http.SameSiteLaxMode),
	}
	m.key = ctxKey[T]{m}

	var zero T
	_, m.carrier = any(&zero).(typedstore.CookieCarrier)
	_, m.lifer = any(&zero).(typedstore.LifetimeCarrier)
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("httpsession: New: %w", err)
	}
	if opts.MaxAge > 0 {
		ms := max(opts.MaxAge.Milliseconds(), 1)
		m.maxAge = &ms
	}
	for i, s := range opts.Secrets {
		if len(s) < minSecretLen {
			m.logger().Warn(fmt.Sprintf("httpsession: Options.Secrets[%d] is %d bytes long; a secret should be at least %d random bytes", i, len(s), minSecretLen))
			break
		}
	}
	return m, nil
}

// minSecretLen is the shortest secret that New accepts without a warning.
const minSecretLen = 32

// validate checks the options that New has filled in.
func (m *Manager[T]) validate() error {
	opts := &m.opts
	switch {
	case opts.MaxAge < 0:
		return fmt.Errorf("negative MaxAge %v", opts.MaxAge)
	case opts.Secure < SecureAuto || opts.Secure > SecureNever:
		return fmt.Errorf("unknown SecureMode %d", opts.Secure)
	case m.sameSite < http.SameSiteDefaultMode || m.sameSite > http.SameSiteNoneMode:
		return fmt.Errorf("unknown SameSite %d", opts.SameSite)
	case m.sameSite == http.SameSiteNoneMode && opts.Secure == SecureNever:
		return errors.New("SameSite None requires Secure, but Secure is SecureNever")
	case opts.Partitioned && opts.Secure == SecureNever:
		return errors.New("the Partitioned attribute requires Secure, but Secure is SecureNever")
	case opts.OnCorrupt < CorruptNew || opts.OnCorrupt > CorruptFail:
		return fmt.Errorf("unknown CorruptPolicy %d", opts.OnCorrupt)
	case opts.IdleTimeout < 0:
		return fmt.Errorf("negative IdleTimeout %v", opts.IdleTimeout)
	case opts.Lifetime < 0:
		return fmt.Errorf("negative Lifetime %v", opts.Lifetime)
	case opts.RenewAfter < 0:
		return fmt.Errorf("negative RenewAfter %v", opts.RenewAfter)
	case opts.RenewGrace < 0:
		return fmt.Errorf("negative RenewGrace %v", opts.RenewGrace)
	case opts.RenewGrace > 0 && opts.RenewAfter == 0:
		return errors.New("RenewGrace needs RenewAfter")
	case m.policy() && !m.carrier:
		return fmt.Errorf("IdleTimeout and Lifetime need %v to embed typedstore.Cookie `json:\"cookie\"`, which carries each session's expiry to the store", reflect.TypeFor[T]())
	case (opts.Lifetime > 0 || opts.RenewAfter > 0) && !m.lifer:
		return fmt.Errorf("options Lifetime and RenewAfter need %v to embed typedstore.Lifetime, which stores when each session began and when its id was issued", reflect.TypeFor[T]())
	case opts.IdleTimeout > 0 && m.store.DisableTouch:
		return errors.New("IdleTimeout resets each session's expiry at every request, which the store's DisableTouch forbids")
	case m.policy() && m.store.TTLFunc:
		return errors.New("IdleTimeout and Lifetime set each session's expiry, which the store's TTLFunc would override")
	case opts.RenewAfter > 0 && m.store.ForwardErr != nil:
		return fmt.Errorf("RenewAfter: %w", m.store.ForwardErr)
	}
	// The cookie as every response will send it, checked once here rather
	// than dropped by net/http, with a log line, from every response.
	c := &http.Cookie{
		Name: m.name, Value: "x", Path: m.path, Domain: opts.Domain,
		Secure: opts.Secure != SecureNever, Partitioned: opts.Partitioned,
	}
	if err := c.Valid(); err != nil {
		return fmt.Errorf("invalid cookie: %w", err)
	}
	if m.carrier && m.store.CookieTagErr != nil {
		return m.store.CookieTagErr
	}
	st := m.store.Settings
	if opts.MaxAge > 0 && !m.carrier && !st.TTLFunc && !st.Expirer && !st.DisableTTL && st.TTL != opts.MaxAge {
		return fmt.Errorf("MaxAge is %v, but the store keeps a session %v: %v does not embed typedstore.Cookie, which would carry the cookie's expiry to the store, so set typedstore.Options.TTL to %v, or embed typedstore.Cookie `json:\"cookie\"` in it", opts.MaxAge, st.TTL, reflect.TypeFor[T](), opts.MaxAge)
	}
	return nil
}

// Handler returns middleware that gives every request a session, available
// to next through [Manager.Get], and saves it before the response's headers
// go out. A request that already passed through the same manager's Handler
// goes straight to next.
func (m *Manager[T]) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.Get(r) != nil {
			next.ServeHTTP(w, r)
			return
		}
		s, err := m.load(r)
		if err != nil {
			m.fail(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), m.key, s))
		s.r = r
		sw := newResponseWriter(w, s)
		next.ServeHTTP(sw, r)
		sw.finish()
	})
}

// Get returns the session of a request that passed through m's
// [Manager.Handler] (r or a request derived from it, such as one made by
// r.WithContext), or nil for any other request.
func (m *Manager[T]) Get(r *http.Request) *Session[T] {
	s, _ := r.Context().Value(m.key).(*Session[T])
	return s
}

// Store returns the store that keeps the manager's sessions.
func (m *Manager[T]) Store() *typedstore.Store[T] { return m.sessions }

// load returns the session named by r's cookie, or a new one.
func (m *Manager[T]) load(r *http.Request) (*Session[T], error) {
	id, hadCookie := m.cookieID(r)
	if id == "" {
		return m.newSession(r, hadCookie, m.endedBy(r))
	}
	ctx := r.Context()
	v, extendedTo, unknown, err := m.read(ctx, id)
	followed := false
	if errors.Is(err, typedstore.ErrNotFound) && m.opts.RenewAfter > 0 {
		// Renewed by a concurrent request: the old id leads to the new one
		// for a while.
		to, ferr := m.store.Forwarded(ctx, id)
		if ferr != nil {
			return nil, ferr
		}
		if to != "" {
			id, followed = to, true
			v, extendedTo, unknown, err = m.read(ctx, id)
		}
	}
	switch {
	case errors.Is(err, typedstore.ErrNotFound):
		m.emit(ctx, id, Event{Kind: EventLoaded})
		return m.newSession(r, hadCookie, m.endedBy(r))
	case errors.Is(err, typedstore.ErrCorrupt):
		var ce *typedstore.CorruptError
		errors.As(err, &ce)
		m.emit(ctx, id, Event{Kind: EventCorrupt, Err: ce.Err})
		switch m.opts.OnCorrupt {
		case CorruptFail:
			return nil, err
		case CorruptDelete:
			m.logger().WarnContext(ctx, "httpsession: corrupt stored session deleted; starting a new session",
				"session", redact.ID(id), "err", err)
			if err := m.sessions.Delete(ctx, id); err != nil {
				return nil, err
			}
		default:
			m.logger().WarnContext(ctx, "httpsession: corrupt stored session left in the store; starting a new session",
				"session", redact.ID(id), "err", err)
		}
		return m.newSession(r, hadCookie, "")
	case err != nil:
		return nil, err
	}
	s := &Session[T]{m: m, r: r, Data: v, id: id, cookieID: id, origID: id, hadCookie: true, stored: true, extendedTo: extendedTo, resend: followed, unknown: unknown}
	s.cookie = m.newCookie(r)
	if m.lifer {
		s.life = *lifetimeOf(&s.Data)
		if ended, err := m.checkLifetime(s); ended || err != nil {
			if err != nil {
				return nil, err
			}
			m.emit(ctx, id, Event{Kind: EventLoaded})
			return m.newSession(r, hadCookie, ExpiredLifetime)
		}
	}
	if m.carrier {
		stored := *any(&s.Data).(typedstore.CookieCarrier).SessionCookie()
		// A session in Redis is alive: its time to live is the truth, and a
		// touch moves that, not the stored cookie's expiry (nor does
		// connect-redis's). Only a store without time to live has nothing
		// but the stored expiry to go by, and nothing that would delete a
		// session past it.
		if exp := stored.ExpiresAt; m.store.DisableTTL && exp != nil && !exp.After(clock.Now()) {
			var why ExpiryReason
			if m.policy() {
				why = ExpiredIdle
				if a := m.absoluteEnd(s.life.StartedAt); a != 0 && a <= exp.UnixMilli() {
					why = ExpiredLifetime
				}
			}
			if _, err := m.store.Unlink(ctx, id); err != nil {
				return nil, err
			}
			m.emit(ctx, id, Event{Kind: EventLoaded})
			return m.newSession(r, hadCookie, why)
		}
		s.cookie.OriginalMaxAge = stored.OriginalMaxAge
		s.cookie.ExpiresAt = stored.ExpiresAt
		s.cookie.Priority = stored.Priority
	} else {
		s.touchCookie()
	}
	if s.origHash, err = s.hash(); err != nil {
		return nil, err
	}
	if !m.opts.Resave {
		s.savedHash, s.saved, s.savedID = s.origHash, true, id
	}
	m.emit(ctx, id, Event{Kind: EventLoaded, Hit: true})
	return s, nil
}

// read loads the session stored under id: with GetAndExtend when the time
// to live it needs is known before it is read (see extension), and then
// also returns when the store's copy now expires; else with Get. unknown
// are the stored members that T does not declare.
func (m *Manager[T]) read(ctx context.Context, id string) (v T, extendedTo time.Time, unknown []byte, err error) {
	d := m.extension()
	// One GETEX where a GET now and a PEXPIRE at the end would take two
	// commands; the touch at the end is skipped if this one suffices.
	v, unknown, err = m.store.Load(ctx, id, d)
	if d > 0 {
		extendedTo = clock.Now().Add(d)
	}
	return v, extendedTo, unknown, err
}

// checkLifetime checks a loaded session against Lifetime and RenewAfter.
// A session stored without a start (saved by an Express app, or before the
// policy was set) begins now, and is saved with it. A session past its
// absolute deadline, which only an Express app's touch can have kept in the
// store, is deleted: checkLifetime reports it as ended.
func (m *Manager[T]) checkLifetime(s *Session[T]) (ended bool, err error) {
	if m.opts.Lifetime <= 0 && m.opts.RenewAfter <= 0 {
		return false, nil
	}
	now := clock.Now().UnixMilli()
	if s.life.StartedAt == 0 {
		s.life.StartedAt, s.forceSave = now, true
	}
	if s.life.IssuedAt == 0 {
		s.life.IssuedAt, s.forceSave = now, true
	}
	if a := m.absoluteEnd(s.life.StartedAt); a == 0 || now < a {
		return false, nil
	}
	if _, err := m.store.Unlink(s.r.Context(), s.id); err != nil {
		return false, err
	}
	return true, nil
}

// newSession returns a new, empty session under a new id; why is why the
// session that the request's cookie named ended, if it did.
func (m *Manager[T]) newSession(r *http.Request, hadCookie bool, why ExpiryReason) (*Session[T], error) {
	if why != "" {
		m.emit(r.Context(), "", Event{Kind: EventEnded, Reason: why})
	}
	s := &Session[T]{m: m, r: r, hadCookie: hadCookie, expired: why}
	if err := s.reset(); err != nil {
		return nil, err
	}
	return s, nil
}

// cookieID returns the id in r's session cookie when one of them carries a
// valid signature, and whether r had a cookie of that name at all.
func (m *Manager[T]) cookieID(r *http.Request) (id string, hadCookie bool) {
	for _, c := range r.CookiesNamed(m.name) {
		hadCookie = true
		if id, ok := decodeCookieValue(c.Value, m.secrets); ok {
			return id, true
		}
	}
	return "", hadCookie
}

// genID returns a new session id.
func (m *Manager[T]) genID(r *http.Request) (string, error) {
	if m.opts.GenID == nil {
		return defaultGenID(), nil
	}
	id, err := m.opts.GenID(r)
	if err != nil {
		return "", fmt.Errorf("httpsession: GenID: %w", err)
	}
	if !validID(id) {
		return "", fmt.Errorf("httpsession: GenID returned an invalid id (%d bytes; want 1 to %d)", len(id), typedstore.MaxIDLen)
	}
	return id, nil
}

func defaultGenID() string {
	var b [24]byte
	rand.Read(b[:]) // never fails: see crypto/rand.Read
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func validID(id string) bool { return id != "" && len(id) <= typedstore.MaxIDLen }

// newCookie returns the cookie of a new session under the options, for r.
func (m *Manager[T]) newCookie(r *http.Request) typedstore.Cookie {
	c := typedstore.Cookie{
		Path:        m.path,
		Domain:      m.opts.Domain,
		HTTPOnly:    !m.opts.DisableHTTPOnly,
		Secure:      m.secure(r),
		Partitioned: m.opts.Partitioned,
	}
	switch m.sameSite {
	case http.SameSiteLaxMode:
		c.SameSite = "lax"
	case http.SameSiteStrictMode:
		c.SameSite = "strict"
	case http.SameSiteNoneMode:
		c.SameSite = "none"
	}
	if m.maxAge != nil {
		ms := *m.maxAge
		c.OriginalMaxAge = &ms
	}
	return c
}

// secure reports whether the cookie sent in answer to r gets Secure.
func (m *Manager[T]) secure(r *http.Request) bool {
	switch m.opts.Secure {
	case SecureAlways:
		return true
	case SecureNever:
		return false
	}
	return m.isTLS(r)
}

// isTLS reports whether r arrived over TLS, directly or, under TrustProxy,
// through a proxy that says so in X-Forwarded-Proto.
func (m *Manager[T]) isTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if !m.opts.TrustProxy {
		return false
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// zeroHash returns the hash of the zero T: made at the first call that
// succeeds, and kept.
func (m *Manager[T]) zeroHash() ([sha256.Size]byte, error) {
	if sum := m.zeroSum.Load(); sum != nil {
		return *sum, nil
	}
	var zero T
	sum, err := hashOf(m.store.Encode, zero)
	if err == nil {
		m.zeroSum.Store(&sum)
	}
	return sum, err
}

func (m *Manager[T]) logger() *slog.Logger {
	if m.opts.Logger != nil {
		return m.opts.Logger
	}
	return slog.Default()
}

// fail answers r through the error handler.
func (m *Manager[T]) fail(w http.ResponseWriter, r *http.Request, err error) {
	if m.opts.ErrorHandler != nil {
		m.opts.ErrorHandler(w, r, err)
		return
	}
	m.logger().ErrorContext(r.Context(), "httpsession: session unavailable",
		"method", r.Method, "path", r.URL.Path, "err", err)
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}
