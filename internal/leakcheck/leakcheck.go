// Package leakcheck fails a test that leaves goroutines running.
package leakcheck

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// Check records the goroutines running now and, when the test ends (after
// the cleanups registered after it, which run first), fails the test if
// others are still running after a grace period of a few seconds. Call it
// first in a test, before starting servers or clients, so that their
// shutdown is part of what is checked. It must not be used in parallel
// tests.
func Check(t testing.TB) {
	t.Helper()
	before := goroutines()
	t.Cleanup(func() {
		if extra := leaked(before); len(extra) > 0 {
			t.Errorf("%d goroutines leaked:\n\n%s", len(extra), strings.Join(extra, "\n\n"))
		}
	})
}

// ignored reports goroutines that belong to the runtime or the test
// framework, not to the code under test: test goroutines themselves and the
// signal handling that the os/signal package starts once per process.
func ignored(stack string) bool {
	for _, frame := range []string{"\ntesting.tRunner(", "\ntesting.(*M).", "\nos/signal.", "\nruntime.ensureSigM"} {
		if strings.Contains(stack, frame) {
			return true
		}
	}
	return false
}

// goroutines returns the stack of every goroutine, by goroutine id.
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		id := strings.Fields(header)
		if len(id) >= 2 {
			out[id[1]] = g
		}
	}
	return out
}

// Main runs a package's tests, as a TestMain does, and then fails the run if
// goroutines that were not running before the tests are still running after
// a grace period: a leak in some test of the package, which the listed stacks
// point to.
func Main(m *testing.M) {
	before := goroutines()
	code := m.Run()
	if code == 0 && !fuzzing() {
		if extra := leaked(before); len(extra) > 0 {
			fmt.Fprintf(os.Stderr, "leakcheck: %d goroutines leaked by the tests:\n\n%s\n", len(extra), strings.Join(extra, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

// fuzzing reports whether the test binary runs a fuzz target (as the
// coordinator or as a worker), whose engine keeps goroutines of its own.
func fuzzing() bool {
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		return true
	}
	f := flag.Lookup("test.fuzzworker")
	return f != nil && f.Value.String() == "true"
}

// leaked returns the stacks of the goroutines not in before that are still
// running after a grace period of up to five seconds, sorted.
func leaked(before map[string]string) []string {
	var extra []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		extra = extra[:0]
		for id, stack := range goroutines() {
			if _, ok := before[id]; !ok && !ignored(stack) {
				extra = append(extra, stack)
			}
		}
		if len(extra) == 0 {
			return nil
		}
	}
	sort.Strings(extra)
	return extra
}
