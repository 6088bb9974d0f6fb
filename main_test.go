package typedstore_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/typedstore/typedstore/internal/leakcheck"
)

// TestMain fails the run if any test leaves goroutines behind, except while
// fuzzing, whose engine keeps goroutines of its own.
func TestMain(m *testing.M) {
	if leakcheck.Fuzzing() {
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(leakcheck.WithGrace(m))
}
