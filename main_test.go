package typedstore_test

import (
	"testing"

	"github.com/typedstore/typedstore/internal/leakcheck"
)

// TestMain fails the run if any test leaves goroutines behind.
func TestMain(m *testing.M) { leakcheck.Main(m) }
