// Package clock is the time source of typedstore and httpsession: the
// system clock, which a test can replace to step through expiries without
// waiting for them.
package clock

import (
	"sync/atomic"
	"time"
)

var fake atomic.Pointer[func() time.Time]

// Now returns the current time: the system clock's, or the test clock's
// while one is set.
func Now() time.Time {
	if f := fake.Load(); f != nil {
		return (*f)()
	}
	return time.Now()
}

// Until returns the duration until t, by Now.
func Until(t time.Time) time.Duration { return t.Sub(Now()) }

// Set makes Now return now() until the test ends. Tests that set it must not
// run in parallel with others that use the clock.
func Set(t interface{ Cleanup(func()) }, now func() time.Time) {
	fake.Store(&now)
	t.Cleanup(func() { fake.Store(nil) })
}

// Fake is a clock that moves only when told to.
type Fake struct{ now atomic.Int64 }

// NewFake returns a Fake clock that reads start.
func NewFake(start time.Time) *Fake {
	f := &Fake{}
	f.now.Store(start.UnixNano())
	return f
}

// Now returns the fake clock's time.
func (f *Fake) Now() time.Time { return time.Unix(0, f.now.Load()) }

// Advance moves the fake clock forward by d.
func (f *Fake) Advance(d time.Duration) { f.now.Add(int64(d)) }
