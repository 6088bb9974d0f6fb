package typedstore

import (
	"reflect"
	"time"

	"github.com/typedstore/typedstore/internal/clock"
)

// ttlOf returns the time to live that a write of v gets now, by the rules in
// the package documentation: TTLFunc, else v's own expiry, else Options.TTL.
// A result of zero or less means that the write deletes the session instead
// (see Store.write). It ignores DisableTTL.
func (s *Store[T]) ttlOf(v T) time.Duration {
	if s.opts.TTLFunc != nil {
		return s.opts.TTLFunc(v)
	}
	if s.expirer {
		if exp := expiryOf(v); !exp.IsZero() {
			return ceilMillis(clock.Until(exp))
		}
	}
	return s.opts.TTL
}

// isExpirer reports whether T or *T implements Expirer.
func isExpirer[T any]() bool {
	t := reflect.TypeFor[T]()
	e := reflect.TypeFor[Expirer]()
	return t.Implements(e) || reflect.PointerTo(t).Implements(e)
}

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
