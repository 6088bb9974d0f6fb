package httpsession

import (
	"cmp"
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/clock"
	"github.com/typedstore/typedstore/internal/redact"
)

// DefaultRenewGrace is how long an id that [Options.RenewAfter] replaced
// still leads to its session when [Options.RenewGrace] is 0.
const DefaultRenewGrace = 30 * time.Second

// ExpiryReason says why a session ended by the lifetime policy: see
// [Session.Expired].
type ExpiryReason string

const (
	// ExpiredIdle: the session had no request for its idle timeout
	// ([Options.IdleTimeout], else its max-age or the store's TTL).
	ExpiredIdle ExpiryReason = "idle"
	// ExpiredLifetime: the session reached [Options.Lifetime].
	ExpiredLifetime ExpiryReason = "lifetime"
)

// endSuffix is appended to Options.Name to name the cookie that records
// when the session ends, so that the request after its end can say why.
const endSuffix = ".end"

// endRetention is how long the end cookie of a persistent session outlives
// the session, to tell a visitor who comes back later why it ended.
const endRetention = 7 * 24 * time.Hour

// policy reports whether the manager enforces an idle timeout or a
// lifetime, and so keeps each session's end in its stored cookie and in the
// end cookie.
func (m *Manager[T]) policy() bool { return m.opts.IdleTimeout > 0 || m.opts.Lifetime > 0 }

// ends returns when a session ends if it has no request after now: its
// idle deadline (now plus the shorter of IdleTimeout and the cookie's
// max-age, nil for a browser-session cookie) or, if sooner, its absolute
// deadline (start plus Lifetime; start in Unix milliseconds). It returns nil
// when neither bounds the session, which then lives for the store's TTL.
func (m *Manager[T]) ends(now time.Time, maxAge *int64, start int64) *time.Time {
	idle := m.opts.IdleTimeout
	if maxAge != nil && *maxAge > 0 { // an Express app may store 0 or less: no max-age then
		ma := time.Duration(min(*maxAge, math.MaxInt64/int64(time.Millisecond))) * time.Millisecond
		if idle == 0 || ma < idle {
			idle = ma
		}
	}
	if idle == 0 && m.opts.Lifetime > 0 && !m.store.DisableTTL {
		// A browser-session cookie with no idle timeout: the store's TTL
		// is its idle timeout, as in connect-redis.
		idle = m.store.Settings.TTL
	}
	var end int64
	if idle > 0 {
		end = now.UnixMilli() + idle.Milliseconds()
	}
	if a := m.absoluteEnd(start); a != 0 && (end == 0 || a < end) {
		end = a
	}
	if end == 0 {
		return nil
	}
	t := time.UnixMilli(end).UTC()
	return &t
}

// absoluteEnd returns the Unix millisecond at which a session begun at
// start (Unix milliseconds) reaches Lifetime, or 0 for no limit.
func (m *Manager[T]) absoluteEnd(start int64) int64 {
	if m.opts.Lifetime <= 0 || start == 0 {
		return 0
	}
	return start + m.opts.Lifetime.Milliseconds()
}

// extension returns the time to live that a load gives a session in the
// same command (GETEX), or 0 when sessions are loaded with GET: the shorter
// of IdleTimeout and MaxAge. Under Lifetime a session's deadline is known
// only once it is read, and a blind extension could pass it, so sessions
// are loaded with GET and their expiry set when the response goes out.
func (m *Manager[T]) extension() time.Duration {
	if !m.carrier || m.opts.LoadWithGet || m.opts.Lifetime > 0 {
		return 0
	}
	d := m.opts.IdleTimeout
	if ma := m.opts.MaxAge; ma > 0 && (d == 0 || ma < d) {
		d = ma
	}
	return d
}

// endedBy reports why the session that r's cookies named ended, from the
// end cookie that the response before the end left: "" when r has none
// (a first visit, or after a logout), or when by its record the session
// should still be alive (it ended otherwise: destroyed from another device,
// evicted, deleted by an operator).
func (m *Manager[T]) endedBy(r *http.Request) ExpiryReason {
	if !m.policy() {
		return ""
	}
	end, abs, ok := m.endCookie(r)
	switch {
	case !ok || clock.Now().UnixMilli() < end:
		return ""
	case abs != 0 && abs <= end:
		return ExpiredLifetime
	}
	return ExpiredIdle
}

// endCookie returns the deadlines recorded in r's end cookie: when the
// session was to end, and its absolute deadline (0 for none).
func (m *Manager[T]) endCookie(r *http.Request) (end, abs int64, ok bool) {
	for _, c := range r.CookiesNamed(m.name + endSuffix) {
		p, ok := decodeCookieValue(c.Value, m.secrets)
		if !ok {
			continue
		}
		e, a, _ := strings.Cut(p, ".")
		end, err1 := strconv.ParseInt(e, 10, 64)
		abs, err2 := strconv.ParseInt(a, 10, 64)
		if err1 == nil && err2 == nil {
			return end, abs, true
		}
	}
	return 0, 0, false
}

// setEndCookie records in h when s ends, or clears the request's record
// when s is not stored. It runs in commit, after the session cookie, and
// signs the record only when it changed.
func (s *Session[T]) setEndCookie(h http.Header, allowed bool) {
	m := s.m
	name := m.name + endSuffix
	had, _ := s.r.Cookie(name)
	c := s.attrCookie(name)
	exp := s.cookie.ExpiresAt
	switch {
	case allowed && s.stored && !s.gone && exp != nil:
		c.Value = encodeCookieValue(strconv.FormatInt(exp.UnixMilli(), 10)+"."+
			strconv.FormatInt(m.absoluteEnd(s.life.StartedAt), 10), m.secrets[0])
		if had != nil && had.Value == c.Value {
			return
		}
		if s.cookie.OriginalMaxAge != nil {
			c.Expires = exp.Add(endRetention)
			c.MaxAge = maxAgeUntil(c.Expires)
		}
	case had != nil:
		c.MaxAge, c.Expires = -1, time.Unix(0, 0)
	default:
		return
	}
	s.setCookie(h, c)
}

// renewDue reports whether the session's id is older than RenewAfter and
// the session is one the request loaded, still under the id it was loaded
// with.
func (s *Session[T]) renewDue() bool {
	after := s.m.opts.RenewAfter
	return after > 0 && s.stored && !s.gone && !s.destroyed && s.id == s.origID &&
		s.life.IssuedAt != 0 && clock.Now().UnixMilli()-s.life.IssuedAt >= after.Milliseconds()
}

// renew moves the session to a new id, keeping its data and its start: it
// writes the session under the new id, records for RenewGrace that the old
// id leads there, and deletes the old one. Requests that carry the old id
// meanwhile follow the record (see follow). When a concurrent request
// renewed the session first, this one deletes its own copy and joins that
// one's id; when the old one was destroyed meanwhile, it deletes its copy
// and the session is gone, as for a save.
func (s *Session[T]) renew(ctx context.Context) error {
	old := s.id
	id, err := s.m.genID(s.r)
	if err != nil {
		return err
	}
	s.life.IssuedAt = clock.Now().UnixMilli()
	s.id, s.stored = id, false
	sum, err := s.hash()
	if err != nil {
		return err
	}
	s.renewing = old
	err = s.write(ctx, sum)
	s.renewing = ""
	if err != nil {
		return err
	}
	to, err := s.m.store.Forward(ctx, old, id, cmp.Or(s.m.opts.RenewGrace, DefaultRenewGrace))
	if err != nil {
		return err
	}
	if to != id {
		if _, err := s.m.store.Unlink(ctx, id); err != nil {
			s.m.logger().WarnContext(ctx, "httpsession: delete the copy of a session renewed twice at once",
				"session", redact.ID(id), "err", err)
		}
		// The session under to holds what this request loaded, and the
		// other request's changes: this one's own changes, if any, are
		// saved over it as usual.
		s.id = to
		s.saved, s.savedID, s.savedHash, s.savedNow = true, to, s.origHash, true
		return nil
	}
	found, err := s.m.store.Unlink(ctx, old)
	if err != nil {
		return err
	}
	if found {
		s.m.emit(ctx, id, Event{Kind: EventRenewed})
		return nil
	}
	// Destroyed meanwhile (a logout in another tab, DestroyOthers): the
	// copy must not bring it back under the new id.
	if _, err := s.m.store.Unlink(ctx, id); err != nil {
		return err
	}
	s.lost(ctx)
	return nil
}

// follow moves s to the id that its renewed id now leads to, when the
// session was renewed by a concurrent request, and reports whether it did.
// The response then carries the new id's cookie.
func (s *Session[T]) follow(ctx context.Context) (bool, error) {
	if s.m.opts.RenewAfter <= 0 {
		return false, nil
	}
	to, err := s.m.store.Forwarded(ctx, s.id)
	if to == "" || err != nil {
		return false, err
	}
	s.id, s.cookieID, s.origID, s.resend = to, to, to, true
	// Its id was issued just now: not due for renewal again.
	s.life.IssuedAt = clock.Now().UnixMilli()
	return true, nil
}

// Expired reports why the session that this request's cookie named ended,
// when it ended by the lifetime policy ([Options.IdleTimeout] or
// [Options.Lifetime] is set) before this request: [ExpiredIdle] or
// [ExpiredLifetime]. The request has a new, empty session then. Expired
// returns "" for a session that is alive, for a first visit, after a logout,
// and for a session that ended otherwise (destroyed from another device,
// evicted by [typedstore.Options.MaxPerOwner], deleted by an operator).
//
// The middleware learns it from a small signed cookie, Options.Name
// followed by ".end", that records when the session is to end (no
// credential: two times), sent with the session's cookie under the same
// attributes. A browser-session cookie's record goes when the browser
// closes; a persistent one's a week after the session ends. It is cleared
// by the response to the request that reported it, so an end is reported
// once.
func (s *Session[T]) Expired() ExpiryReason { return s.expired }

// Started returns when the session began: when it was created, or when the
// user logged in to it ([Session.Regenerate]). Renewing its id
// ([Options.RenewAfter]) keeps it. It is the zero time when T does not embed
// [typedstore.Lifetime].
func (s *Session[T]) Started() time.Time { return s.life.Started() }

// lifetimeOf returns the Lifetime inside v, or nil.
func lifetimeOf[T any](v *T) *typedstore.Lifetime {
	if lc, ok := any(v).(typedstore.LifetimeCarrier); ok {
		return lc.SessionLifetime()
	}
	return nil
}
