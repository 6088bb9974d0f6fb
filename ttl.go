package typedstore

import (
	"math"
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
	if s.expiry != noExpiry {
		if exp := expiryOf(s.expiry, v); !exp.IsZero() {
			return ceilMillis(clock.Until(exp))
		}
	}
	return s.opts.TTL
}

// expiryKind says how a Store reads the expiry of its values.
type expiryKind uint8

const (
	noExpiry        expiryKind = iota // T has no Expires method
	expiryByValue                     // T implements Expirer
	expiryByPointer                   // only *T implements Expirer
	expiryOfPointer                   // T is a pointer that implements Expirer
)

// expiryKindOf returns how the expiry of a T is read.
func expiryKindOf[T any]() expiryKind {
	t, e := reflect.TypeFor[T](), reflect.TypeFor[Expirer]()
	switch {
	case t.Implements(e) && t.Kind() == reflect.Pointer:
		return expiryOfPointer
	case t.Implements(e):
		return expiryByValue
	case reflect.PointerTo(t).Implements(e):
		return expiryByPointer
	}
	return noExpiry
}

// expiryOf returns the expiry of v, read as kind says: one conversion to an
// interface, so one allocation when T is larger than a pointer. A nil
// pointer has no expiry.
func expiryOf[T any](kind expiryKind, v T) time.Time {
	switch kind {
	case expiryByValue:
		return any(v).(Expirer).Expires()
	case expiryOfPointer:
		if reflect.ValueOf(v).IsNil() {
			return time.Time{}
		}
		return any(v).(Expirer).Expires()
	case expiryByPointer:
		return any(&v).(Expirer).Expires()
	}
	return time.Time{}
}

// ceilMillis rounds d up to a whole number of milliseconds, the precision of
// PEXPIRE, so that a session never expires before the time it was given.
// The longest durations, an expiry some 292 years away or more that
// time.Until saturates, round down instead of overflowing.
func ceilMillis(d time.Duration) time.Duration {
	r := d % time.Millisecond
	if r <= 0 {
		return d
	}
	if d > math.MaxInt64-time.Millisecond {
		return d - r
	}
	return d + time.Millisecond - r
}
