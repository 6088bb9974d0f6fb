package typedstore

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

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
// into the session, where express-session does not look for them, so [New]
// rejects a T that embeds Cookie (unless the store has a
// codec other than [JSONCodec]) with no JSON name at all.
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

// checkCookieTag reports a T that embeds Cookie at its top level with no
// JSON name: the JSON codec would flatten the cookie's fields into the
// session, and express-session would find no cookie. A name of its own
// (or "-") is the type's author's choice and is let through.
func checkCookieTag[T any]() error {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.Anonymous || (f.Type != reflect.TypeFor[Cookie]() && f.Type != reflect.TypeFor[*Cookie]()) {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			return fmt.Errorf("%v embeds typedstore.Cookie without the tag `json:\"cookie\"`, so the cookie's fields would be stored flattened into the session, where express-session does not read them: tag the embedded field `json:\"cookie\"`", t)
		}
	}
	return nil
}

// checkPointerEmbeds reports a T that embeds a pointer to Cookie, Lifetime
// or Extra: their methods would reach through a nil pointer, in the store
// and in the middleware, so they must be embedded as values.
func checkPointerEmbeds[T any]() error {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.Anonymous || f.Type.Kind() != reflect.Pointer {
			continue
		}
		switch f.Type.Elem() {
		case reflect.TypeFor[Cookie](), reflect.TypeFor[Lifetime](), reflect.TypeFor[Extra]():
			return fmt.Errorf("%v embeds %v: embed typedstore.%s itself, not a pointer to it", t, f.Type, f.Type.Elem().Name())
		}
	}
	return nil
}
