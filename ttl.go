package typedstore

import (
	"bytes"
	"errors"
	"reflect"
	"time"
	"unsafe"

	"github.com/goccy/go-json"
)

// Expirer is implemented by session types that carry their own expiry, as an
// express-session session carries its cookie's. When T or *T implements it
// and Expires returns a non-zero time, a [Store] keeps the session until that
// time (unless [Options.TTLFunc] says otherwise).
type Expirer interface {
	Expires() time.Time
}

// Cookie mirrors the cookie that express-session stores inside every session
// (its JSON names are express-session's), and implements [Expirer]. Embed it
// under the JSON name "cookie" to give a session type the cookie's expiry and
// the stored shape that express-session and connect-redis read and write:
//
//	type Session struct {
//		typedstore.Cookie `json:"cookie"`
//		UserID int64      `json:"userId"`
//	}
//
// The JSON tag matters: without it the cookie's fields would be flattened
// into the session.
type Cookie struct {
	// OriginalMaxAge is the cookie's max-age in milliseconds when the session
	// was created; nil for a browser-session cookie.
	OriginalMaxAge *int64 `json:"originalMaxAge"`
	// ExpiresAt is when the cookie, and so the session, expires; nil for a
	// browser-session cookie, which takes the store's TTL.
	ExpiresAt *time.Time `json:"expires"`
	Secure    bool       `json:"secure,omitempty"`
	HTTPOnly  bool       `json:"httpOnly"`
	Domain    string     `json:"domain,omitempty"`
	Path      string     `json:"path"`
	// SameSite is "lax", "strict", "none" or "" (attribute not set).
	// express-session also stores true for "strict" and false for ""; both
	// are read.
	SameSite    SameSite `json:"sameSite,omitempty"`
	Partitioned bool     `json:"partitioned,omitempty"`
	Priority    string   `json:"priority,omitempty"`
}

// Expires returns the cookie's expiry, or the zero time for a cookie without
// one.
func (c Cookie) Expires() time.Time {
	if c.ExpiresAt == nil {
		return time.Time{}
	}
	return *c.ExpiresAt
}

// SessionCookie returns c itself. Through it, a session type that embeds
// Cookie implements [CookieCarrier], which lets code that manages cookies,
// such as the net/http middleware in package httpsession, reach the cookie
// inside the user's own type.
func (c *Cookie) SessionCookie() *Cookie { return c }

// CookieCarrier is implemented by a pointer to any type that embeds
// [Cookie].
type CookieCarrier interface {
	SessionCookie() *Cookie
}

// SameSite is the SameSite attribute of a [Cookie], as express-session
// stores it: "lax", "strict", "none", or "" when the attribute is not set.
type SameSite string

// UnmarshalJSON reads a string, or express-session's booleans: true means
// "strict" and false means no attribute.
func (s *SameSite) UnmarshalJSON(data []byte) error {
	switch {
	case bytes.Equal(data, []byte("true")):
		*s = "strict"
		return nil
	case bytes.Equal(data, []byte("false")), bytes.Equal(data, []byte("null")):
		*s = ""
		return nil
	}
	var str string
	if err := json.Unmarshal(data, &str); err != nil {
		return errors.New("typedstore: sameSite must be a string or a boolean")
	}
	*s = SameSite(str)
	return nil
}

// TTL returns the time to live that [Store.Set] and [Store.Touch] give v now,
// by the rules in the package documentation. A result of zero or less means
// the session would be deleted. It ignores [Options.DisableTTL].
func (s *Store[T]) TTL(v T) time.Duration { return s.ttlOf(v) }

func (s *Store[T]) ttlOf(v T) time.Duration {
	if s.ttlFunc != nil {
		return s.ttlFunc(v)
	}
	var exp time.Time
	switch {
	case s.cookieAt != noCookie:
		// The Cookie embedded in v, read in place: going through the
		// Expirer interface would copy v to the heap on every write.
		exp = (*Cookie)(unsafe.Add(unsafe.Pointer(&v), s.cookieAt)).Expires()
	case s.expirer:
		exp = expiryOf(v)
	}
	if !exp.IsZero() {
		return ceilMillis(time.Until(exp))
	}
	return s.ttl
}

// expiryMethod reports whether T or *T implements Expirer and, when T is a
// struct that embeds Cookie (at its top level) and takes its expiry from it,
// the offset of that Cookie in T; -1 otherwise.
func expiryMethod[T any]() (expirer bool, cookieAt uintptr) {
	var zero T
	_, byValue := any(zero).(Expirer)
	_, byPointer := any(&zero).(Expirer)
	if !byValue && !byPointer {
		return false, noCookie
	}
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		return true, noCookie
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.Anonymous || f.Type != reflect.TypeFor[Cookie]() {
			continue
		}
		// T's Expires could be its own method rather than the embedded
		// Cookie's: ask it, with two expiries in the cookie.
		for _, probe := range []time.Time{time.Unix(1, 0), time.Unix(2, 0)} {
			c := (*Cookie)(unsafe.Add(unsafe.Pointer(&zero), f.Offset))
			c.ExpiresAt = &probe
			if !expiryOf(zero).Equal(probe) {
				return true, noCookie
			}
		}
		return true, f.Offset
	}
	return true, noCookie
}

// noCookie is the cookieAt of a type without an embedded Cookie.
const noCookie = ^uintptr(0)

// expiryOf returns the expiry of v when T or *T implements Expirer. A nil
// pointer has no expiry.
func expiryOf[T any](v T) time.Time {
	if e, ok := any(v).(Expirer); ok {
		if rv := reflect.ValueOf(e); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return time.Time{}
		}
		return e.Expires()
	}
	if e, ok := any(&v).(Expirer); ok {
		return e.Expires()
	}
	return time.Time{}
}

// ceilMillis rounds d up to a whole number of milliseconds, the precision of
// PEXPIRE, so that a session never expires before the time it was given.
func ceilMillis(d time.Duration) time.Duration {
	if r := d % time.Millisecond; r > 0 {
		d += time.Millisecond - r
	}
	return d
}
