// Package leakcheck adapts go.uber.org/goleak to this module's tests.
//
// goleak finds the goroutines left running; this package adds only what
// goleak v1.3.0 does not do:
//
//   - a grace period of up to [Grace] for goroutines that are ending (a
//     closed client's connection readers, a killed redis-server's waiter):
//     goleak gives up after about half a second and has no option to wait
//     longer;
//   - a check that runs after the test's cleanups, which close the clients
//     and stop the servers (a deferred goleak.VerifyNone runs before them);
//   - no check while fuzzing, whose engine keeps goroutines of its own.
package leakcheck

import (
	"flag"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Grace is how long a check waits for unexpected goroutines to end before
// it reports them.
const Grace = 5 * time.Second

// settle waits until goleak finds no unexpected goroutine, for at most
// Grace. Each goleak.Find itself retries for about half a second.
func settle(opts ...goleak.Option) {
	for deadline := time.Now().Add(Grace); time.Now().Before(deadline); {
		if goleak.Find(opts...) == nil {
			return
		}
	}
}

// WithGrace returns m for goleak.VerifyTestMain, with the grace period
// between the end of the tests and goleak's check.
func WithGrace(m *testing.M) goleak.TestingM { return graceful{m} }

type graceful struct{ m *testing.M }

func (g graceful) Run() int {
	code := g.m.Run()
	if code == 0 {
		settle()
	}
	return code
}

// Fuzzing reports whether the test binary runs a fuzz target, as the
// coordinator or as a worker (which gets the same -test.fuzz flag). It may
// be called in TestMain before m.Run: it parses the flags if needed.
func Fuzzing() bool {
	if !flag.Parsed() {
		flag.Parse()
	}
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// Check records the goroutines running now and, when the test ends (after
// the cleanups registered after it, which run first), fails the test with
// goleak.VerifyNone if others are still running after the grace period.
// Call it first in a test, before starting servers or clients, so that
// their shutdown is part of what is checked. It must not be used in
// parallel tests.
func Check(t testing.TB) {
	t.Helper()
	current := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		settle(current)
		goleak.VerifyNone(t, current)
	})
}
