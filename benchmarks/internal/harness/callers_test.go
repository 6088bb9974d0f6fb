package harness

import (
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCallersCounts(t *testing.T) {
	var calls atomic.Int64
	w, err := RunCallers(4, 5*time.Millisecond, 20*time.Millisecond, func(g int, r *rand.Rand) error {
		if g < 0 || g >= 4 {
			t.Errorf("call from goroutine %d; want 0 to 3", g)
		}
		calls.Add(1)
		time.Sleep(100 * time.Microsecond)
		return nil
	})
	if err != nil {
		t.Fatalf("RunCallers: %v", err)
	}
	if w.Measured <= 0 || w.Measured > w.Total || w.Total != calls.Load() {
		t.Errorf("RunCallers counted %d in the window and %d in all, of %d calls", w.Measured, w.Total, calls.Load())
	}
	if w.Elapsed < 20*time.Millisecond {
		t.Errorf("RunCallers window = %v; want at least 20ms", w.Elapsed)
	}
}

func TestRunCallersStopsAtError(t *testing.T) {
	boom := errors.New("boom")
	_, err := RunCallers(2, 10*time.Millisecond, 10*time.Millisecond, func(g int, r *rand.Rand) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("RunCallers = %v; want %v", err, boom)
	}
}
