package httpsession

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"slices"
	"time"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/clock"
	"github.com/typedstore/typedstore/internal/redact"
	"github.com/typedstore/typedstore/internal/storeapi"
)

// ErrCommitted occurs when [Session.Regenerate] is called after the
// response's headers have gone out, too late to send the new cookie.
var ErrCommitted = errors.New("httpsession: the response's headers have already been written")

// ErrGone occurs when a session that this request loaded is saved or updated
// after it left the store: another request destroyed it (a logout
// elsewhere), or it expired. The middleware does not bring it back: nothing
// is written, and the response clears the browser's cookie. Errors that wrap
// ErrGone also wrap [typedstore.ErrNotFound].
var ErrGone = fmt.Errorf("httpsession: session destroyed or expired during the request: %w", typedstore.ErrNotFound)

// Session is the session of one request, returned by [Manager.Get]. Its
// Data is saved when the response's headers go out (see the package
// documentation for when it is written and when it is only touched).
//
// A Session belongs to its request: it is not safe for concurrent use, and
// a handler that shares it with other goroutines must make them finish, or
// synchronize with them, before writing the response. Changes made after the
// response's headers have gone out are not saved unless [Session.Save] is
// called.
type Session[T any] struct {
	// Data is the application's session data: the zero value in a new
	// session, the stored value in an existing one.
	Data T

	m *Manager[T]
	r *http.Request

	id       string
	cookieID string // the id the request's cookie named, when its session was loaded
	origID   string // the id when the session was loaded or created
	origHash [sha256.Size]byte

	saved     bool // the store holds Data as hashed in savedHash, under savedID
	savedID   string
	savedHash [sha256.Size]byte
	savedNow  bool // written by Save during this request

	cookie    typedstore.Cookie
	life      typedstore.Lifetime // when T embeds typedstore.Lifetime
	expired   ExpiryReason        // why the session the cookie named ended
	stored    bool                // the store may hold a session under id
	hadCookie bool                // the request carried a cookie named Options.Name
	destroyed bool
	resend    bool // send the cookie even if the rules would not
	forceSave bool // the stored cookie changed (SetMaxAge)
	committed bool
	gone      bool // the stored session left the store during the request
	// renewing is the id that a write under a new id renews.
	renewing string
	// unknown are the members of the stored session that T does not
	// declare, written back with it.
	unknown []byte
	// extendedTo is when the store's copy expires after the load reset its
	// expiry (GETEX); zero when the load did not.
	extendedTo time.Time
}

// ID returns the session's id, the value signed in its cookie. It is a
// credential: do not log it or put it in a URL.
func (s *Session[T]) ID() string { return s.id }

// IsNew reports whether the session was created for this request rather
// than loaded from the store: a first visit, an expired or invalid cookie,
// or a session after [Session.Regenerate] or [Session.Destroy].
func (s *Session[T]) IsNew() bool { return s.id != s.cookieID }

// Cookie returns the settings of the session's cookie: those that will be
// sent and, when T embeds [typedstore.Cookie], stored. Its expiry is reset
// when the response goes out: to its max-age from then or, under
// [Options.IdleTimeout] and [Options.Lifetime], to when the session ends if
// it has no further request (for a browser-session cookie too, whose
// browser cookie has no expiry).
func (s *Session[T]) Cookie() typedstore.Cookie {
	c := s.cookie
	if c.OriginalMaxAge != nil {
		ms := *c.OriginalMaxAge
		c.OriginalMaxAge = &ms
	}
	if c.ExpiresAt != nil {
		t := *c.ExpiresAt
		c.ExpiresAt = &t
	}
	return c
}

// Expires returns when the session's cookie expires, or the zero time for
// a browser-session cookie.
func (s *Session[T]) Expires() time.Time {
	if !s.persistent() {
		return time.Time{}
	}
	return s.cookie.Expires()
}

// persistent reports whether the browser's cookie gets an expiry: when it
// has a max-age. Under IdleTimeout or Lifetime a browser-session cookie's
// stored expiry is the session's, not the browser cookie's; otherwise a
// stored expiry is sent as it is, as express-session sends it.
func (s *Session[T]) persistent() bool {
	return s.cookie.OriginalMaxAge != nil || !s.m.policy()
}

// SetMaxAge gives this session its own max-age, in place of
// [Options.MaxAge]: the cookie, and the session with it, will live d after
// the last response that sets or touches it (a "remember me" login), within
// [Options.IdleTimeout] and [Options.Lifetime], which still apply. A d of
// zero or less makes the cookie a browser-session cookie. The session is
// saved and its cookie sent with this response. When T embeds
// [typedstore.Cookie] the max-age is stored with the session and applies to
// its later requests too. Otherwise only this response's cookie gets it:
// the stored session keeps the store's time to live, and later responses
// [Options.MaxAge].
func (s *Session[T]) SetMaxAge(d time.Duration) {
	if d <= 0 {
		s.cookie.OriginalMaxAge, s.cookie.ExpiresAt = nil, nil
	} else {
		ms := max(d.Milliseconds(), 1)
		s.cookie.OriginalMaxAge = &ms
		s.touchCookie()
	}
	s.resend, s.forceSave = true, true
}

// Touch resets the session's expiry to its max-age from now and sends the
// cookie again with this response, as [Options.Rolling] does for every
// response. A session that is not stored (new, and unchanged) gets no
// cookie.
func (s *Session[T]) Touch() {
	s.touchCookie()
	s.resend = true
}

// Save writes the session to the store now, instead of when the response
// goes out, and makes sure its cookie is sent. A handler rarely needs it,
// since the middleware saves before the headers go out; it is for a handler
// that must know the write succeeded before it goes on. Changes made after
// Save are saved when the response goes out, as usual. Save after the
// headers have gone out still writes to the store, but a new session's
// cookie can no longer reach the browser. ctx bounds the write.
func (s *Session[T]) Save(ctx context.Context) error {
	h, err := s.hash()
	if err != nil {
		return err
	}
	if err := s.write(ctx, h); err != nil {
		return err
	}
	if s.IsNew() {
		s.resend = true
	}
	return nil
}

// Update applies fn to the session's data and saves the result at once, as
// one atomic read-modify-write in the store ([typedstore.Store.Update]): if
// another request changed the stored session since this one loaded it, fn
// runs on the stored value, so neither change is lost. Use it for changes
// that concurrent requests on one session may make, such as adding to a
// cart from two tabs; plain changes to Data are saved with last-writer-wins,
// as in express-session. Data is set to the saved value. fn may run more
// than once and must not have side effects beyond its argument.
//
// For a session that is not in the store yet (new and not saved), fn is
// applied to Data and the session is saved when the response goes out, as
// usual. Update returns [ErrGone] for a session that left the store during
// the request, and fn's error, with nothing saved, if fn fails. ctx bounds
// the update.
func (s *Session[T]) Update(ctx context.Context, fn func(*T) error) error {
	if !s.stored {
		return fn(&s.Data)
	}
	s.touchCookie()
	var result T
	update := func() error {
		return s.m.sessions.Update(ctx, s.id, func(v *T) error {
			if err := fn(v); err != nil {
				return err
			}
			s.putMeta(v)
			result = *v
			return nil
		})
	}
	err := update()
	if errors.Is(err, typedstore.ErrNotFound) {
		if ok, ferr := s.follow(ctx); ferr != nil {
			return ferr
		} else if ok {
			err = update()
		}
	}
	if errors.Is(err, typedstore.ErrNotFound) {
		s.lost(ctx)
		return ErrGone
	}
	if err != nil {
		return err
	}
	s.Data = result
	s.m.emit(ctx, s.id, Event{Kind: EventSaved})
	h, err := s.hash()
	if err != nil {
		return err
	}
	s.saved, s.savedID, s.savedHash, s.savedNow = true, s.id, h, true
	return nil
}

// lost records that the stored session is gone: it is not written again, and
// the browser's cookie is cleared.
func (s *Session[T]) lost(ctx context.Context) {
	s.stored, s.gone = false, true
	s.m.emit(ctx, s.id, Event{Kind: EventLost})
}

// Regenerate moves the session to a new id, as a login must, so that an id
// planted in the browser before the login (session fixation) is worthless:
// it deletes the stored session under the old id and gives the session a new
// id and a new cookie, sent with this response. Unlike express-session's
// regenerate, it keeps Data; set Data to the zero value for an empty
// session. The regenerated session is saved when the response goes out,
// even if Data did not change. Regenerate returns [ErrCommitted], and does
// nothing, once the response's headers have gone out. It returns [ErrGone],
// and writes nothing, when the stored session left the store during the
// request (another request destroyed it, or it expired): the session is not
// brought back under a new id, and the response clears the browser's cookie.
// A regenerated session begins anew: under [Options.Lifetime] its absolute
// deadline is Lifetime from now, and under [Options.RenewAfter] its id's age
// starts from now. ctx bounds the deletion.
func (s *Session[T]) Regenerate(ctx context.Context) error {
	if s.committed {
		return ErrCommitted
	}
	id, err := s.m.genID(s.r)
	if err != nil {
		return err
	}
	if s.gone {
		return ErrGone
	}
	if s.stored {
		// The old session must still be there: if another request destroyed
		// it (a logout elsewhere), moving this request's copy to a new id
		// would bring it back.
		found, err := s.m.store.Unlink(ctx, s.id)
		if err == nil && !found {
			// Renewed by a concurrent request: move that copy instead.
			if found, err = s.follow(ctx); found && err == nil {
				found, err = s.m.store.Unlink(ctx, s.id)
			}
		}
		if err != nil {
			return err
		}
		if !found {
			s.lost(ctx)
			return ErrGone
		}
	}
	s.id, s.stored, s.destroyed, s.forceSave = id, false, false, false
	s.begin()
	s.cookie = s.m.newCookie(s.r)
	s.touchCookie()
	s.m.emit(ctx, id, Event{Kind: EventRegenerated})
	return nil
}

// begin starts the session's lifetime, and its id's age, now.
func (s *Session[T]) begin() {
	if s.m.lifer {
		now := clock.Now().UnixMilli()
		s.life = typedstore.Lifetime{StartedAt: now, IssuedAt: now}
	}
}

// DestroyOthers deletes every other session of this session's owner, as
// "log out my other devices" does, and returns how many it deleted: the
// owner is [typedstore.Options.Owner] of Data, and the current session is
// kept. It costs a few round trips, in proportion to the owner's sessions
// (see [typedstore.Store.DeleteOwned], which it calls, for what is
// guaranteed). An anonymous session has no other sessions: DestroyOthers
// returns 0 and nil. On a store without an Owner function it returns an
// error wrapping [typedstore.ErrNoOwnerIndex]. ctx bounds the deletion.
func (s *Session[T]) DestroyOthers(ctx context.Context) (int, error) {
	if s.m.store.Owner == nil {
		return 0, fmt.Errorf("httpsession: destroy others: %w", typedstore.ErrNoOwnerIndex)
	}
	owner := s.m.store.Owner(s.Data)
	if owner == "" {
		return 0, nil
	}
	n, err := s.m.sessions.DeleteOwned(ctx, owner, s.id)
	if n > 0 {
		s.m.emit(ctx, s.id, Event{Kind: EventRevoked, Count: n})
	}
	return n, err
}

// Destroy deletes the stored session, as a logout does, and replaces it
// with a new, empty session under a new id (Data is the zero value). Unless
// the new session is changed, and so saved with a cookie of its own, the
// response carries a cookie that clears the browser's. Destroy after the
// response's headers have gone out only deletes the stored session. ctx
// bounds the deletion.
func (s *Session[T]) Destroy(ctx context.Context) error {
	if s.stored {
		found, err := s.m.store.Unlink(ctx, s.id)
		if err != nil {
			return err
		}
		s.stored = false
		if found {
			s.m.emit(ctx, s.id, Event{Kind: EventDestroyed})
		}
	}
	if s.committed {
		return nil
	}
	s.destroyed = true
	return s.reset()
}

// reset makes s a new, empty session under a new id.
func (s *Session[T]) reset() error {
	id, err := s.m.genID(s.r)
	if err != nil {
		return err
	}
	var zero T
	s.Data = zero
	s.id, s.origID = id, id
	s.saved, s.savedID, s.savedNow = false, "", false
	s.stored, s.resend, s.forceSave = false, false, false
	s.unknown = nil
	s.begin()
	s.cookie = s.m.newCookie(s.r)
	s.touchCookie()
	s.origHash, err = s.hash()
	return err
}

// touchCookie resets the cookie's expiry to when the session ends if it
// has no further request: its max-age from now or, under IdleTimeout and
// Lifetime, the sooner of its idle and absolute deadlines (see
// Manager.ends), at the millisecond precision of express-session, in UTC.
// Without either, a browser-session cookie keeps the expiry it has.
func (s *Session[T]) touchCookie() {
	if end := s.m.ends(clock.Now(), s.cookie.OriginalMaxAge, s.life.StartedAt); end != nil || s.m.policy() {
		s.cookie.ExpiresAt = end
	}
}

// putCookie copies the cookie, and the lifetime, into Data, when T carries
// them.
func (s *Session[T]) putCookie() { s.putMeta(&s.Data) }

// putMeta copies the cookie and the lifetime into v, when T carries them.
func (s *Session[T]) putMeta(v *T) {
	if cc, ok := any(v).(typedstore.CookieCarrier); ok {
		*cc.SessionCookie() = s.Cookie()
	}
	if l := lifetimeOf(v); l != nil {
		*l = s.life
	}
}

// hash returns the SHA-256 of the encoding of Data without its cookie and
// lifetime, which the middleware owns.
func (s *Session[T]) hash() ([sha256.Size]byte, error) {
	v := s.Data
	if cc, ok := any(&v).(typedstore.CookieCarrier); ok {
		*cc.SessionCookie() = typedstore.Cookie{}
	}
	if l := lifetimeOf(&v); l != nil {
		*l = typedstore.Lifetime{}
	}
	if reflect.ValueOf(&v).Elem().IsZero() {
		// Every new session, and any emptied one: its hash is the same
		// each time, made once per manager, which spares a request that
		// never uses its session two encodings and two SHA-256s.
		return s.m.zeroHash()
	}
	return hashOf(s.m.store.Encode, v)
}

// hashOf returns the SHA-256 of v's encoding.
func hashOf[T any](encode func(T) ([]byte, error), v T) ([sha256.Size]byte, error) {
	b, err := encode(v)
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("httpsession: encode session: %w", err)
	}
	return sha256.Sum256(b), nil
}

// write stores the session, with its cookie, under its id. h is the hash
// of Data, which the caller has just computed.
func (s *Session[T]) write(ctx context.Context, h [sha256.Size]byte) error {
	if s.gone {
		return ErrGone
	}
	s.touchCookie()
	s.putCookie()
	// Replace (SET XX) for a session that was in the store, so that one
	// destroyed meanwhile stays destroyed; Create (SET NX) for a new one, so
	// that it can never overwrite another session.
	// The members of the stored session that T does not declare go back
	// with it.
	w := storeapi.Write{Cond: "NX", Replaces: s.renewing, Unknown: s.unknown}
	if s.stored {
		w.Cond = "XX"
	}
	err := s.m.store.Write(ctx, s.id, s.Data, w)
	if s.stored && errors.Is(err, typedstore.ErrNotFound) {
		// Renewed by a concurrent request: save to the new id.
		if ok, ferr := s.follow(ctx); ferr != nil {
			return ferr
		} else if ok {
			s.putCookie()
			err = s.m.store.Write(ctx, s.id, s.Data, w)
		}
	}
	if s.stored && errors.Is(err, typedstore.ErrNotFound) {
		s.lost(ctx)
		return ErrGone
	}
	if err != nil {
		return err
	}
	switch {
	case s.renewing != "": // reported by renew
	case s.stored:
		s.m.emit(ctx, s.id, Event{Kind: EventSaved})
	default:
		s.m.emit(ctx, s.id, Event{Kind: EventCreated})
	}
	s.saved, s.savedID, s.savedHash, s.savedNow = true, s.id, h, true
	s.stored, s.forceSave = true, false
	return nil
}

// commit saves or touches the session as the rules in the package
// documentation say, and adds its cookie to h. It runs once, just before
// the response's headers go out.
func (s *Session[T]) commit(h http.Header) error {
	if s.committed {
		return nil
	}
	s.committed = true
	ctx := s.r.Context()
	opts := &s.m.opts

	if s.renewDue() {
		if err := s.renew(ctx); err != nil {
			return err
		}
	}
	s.touchCookie()
	sum, err := s.hash()
	if err != nil {
		return err
	}
	modified := s.id != s.origID || sum != s.origHash
	isSaved := s.saved && s.savedID == s.id && sum == s.savedHash
	isNew := s.IsNew()

	// express-session's shouldSave, shouldTouch and shouldSetCookie.
	var save bool
	if !opts.SaveUninitialized && !s.saved && isNew {
		save = modified
	} else {
		save = !isSaved
	}
	save = save || s.forceSave || (!isNew && s.touchRewrites())
	switch {
	case s.gone:
	case save:
		err := s.write(ctx, sum)
		if errors.Is(err, ErrGone) {
			s.m.logger().InfoContext(ctx, "httpsession: session destroyed or expired during the request; not saved",
				"session", redact.ID(s.id))
			break
		}
		if err != nil {
			return err
		}
	case !isNew && !s.savedNow:
		s.putCookie()
		if s.extendedEnough() {
			s.m.emit(ctx, s.id, Event{Kind: EventTouched}) // by the GETEX that loaded it
			break
		}
		err := s.m.sessions.Touch(ctx, s.id, s.Data)
		if st := s.m.store.Settings; err == nil && !st.DisableTouch && !st.DisableTTL {
			s.m.emit(ctx, s.id, Event{Kind: EventTouched})
		} else if err != nil && !errors.Is(err, typedstore.ErrNotFound) {
			// The session is intact, only its expiry was not reset: not
			// worth failing the response for.
			s.m.logger().WarnContext(ctx, "httpsession: touch session", "session", redact.ID(s.id), "err", err)
		}
	}

	var send bool
	switch {
	case s.gone:
		send = false
	case isNew:
		send = s.stored && (opts.SaveUninitialized || modified || s.resend)
	default:
		// Under IdleTimeout a persistent cookie's expiry moves with the
		// session's at every request.
		send = opts.Rolling || s.resend || (s.cookie.ExpiresAt != nil && modified) ||
			(opts.IdleTimeout > 0 && s.cookie.OriginalMaxAge != nil)
	}
	if send && s.cookie.Secure && !s.m.isTLS(s.r) {
		// As express-session: never send the id of a Secure cookie in clear.
		send = false
	}
	switch {
	case send:
		s.setCookie(h, s.httpCookie())
	case (s.destroyed || s.gone) && s.hadCookie:
		c := s.httpCookie()
		c.Value, c.MaxAge, c.Expires = "", -1, time.Unix(0, 0)
		s.setCookie(h, c)
	}
	if s.m.policy() {
		s.setEndCookie(h, !s.cookie.Secure || s.m.isTLS(s.r))
	}
	return nil
}

// touchRewrites reports whether touching the session means rewriting it:
// when the store keeps sessions without a time to live, the expiry stored in
// the session's cookie is the only one it has, and a touch must move it.
func (s *Session[T]) touchRewrites() bool {
	st := s.m.store.Settings
	return st.DisableTTL && !st.DisableTouch && s.m.carrier && s.cookie.ExpiresAt != nil
}

// extendedEnough reports whether the load already reset the stored
// session's expiry to within a second of what a touch now would set, so that
// the touch can be skipped. Data must hold the cookie (putCookie).
func (s *Session[T]) extendedEnough() bool {
	if s.extendedTo.IsZero() {
		return false
	}
	want := clock.Now().Add(s.m.store.TTL(s.Data))
	d := want.Sub(s.extendedTo)
	return d > -time.Second && d < time.Second
}

// httpCookie returns the session's cookie, signed with the first secret.
func (s *Session[T]) httpCookie() *http.Cookie {
	c := s.attrCookie(s.m.name)
	c.Value = encodeCookieValue(s.id, s.m.secrets[0])
	if exp := s.cookie.ExpiresAt; exp != nil && s.persistent() {
		c.Expires, c.MaxAge = *exp, maxAgeUntil(*exp)
	}
	return c
}

// attrCookie returns a cookie named name, with no value, under the
// attributes of the session's cookie.
func (s *Session[T]) attrCookie(name string) *http.Cookie {
	return &http.Cookie{
		Name:        name,
		Path:        s.cookie.Path,
		Domain:      s.cookie.Domain,
		HttpOnly:    s.cookie.HTTPOnly,
		Secure:      s.cookie.Secure,
		SameSite:    s.m.sameSite,
		Partitioned: s.cookie.Partitioned,
	}
}

// maxAgeUntil returns the Max-Age, in whole seconds rounded up and at
// least 1, of a cookie that expires at t.
func maxAgeUntil(t time.Time) int {
	return max(int(math.Ceil(clock.Until(t).Seconds())), 1)
}

func (s *Session[T]) setCookie(h http.Header, c *http.Cookie) {
	if v := c.String(); v != "" {
		h.Add("Set-Cookie", v)
	}
	// Keep shared caches from storing one visitor's cookie for another:
	// once per response, however many cookies it sets.
	addOnce(h, "Vary", "Cookie")
	addOnce(h, "Cache-Control", `no-cache="Set-Cookie"`)
}

// addOnce adds value to the header key unless one of its values is value
// already.
func addOnce(h http.Header, key, value string) {
	if !slices.Contains(h.Values(key), value) {
		h.Add(key, value)
	}
}
