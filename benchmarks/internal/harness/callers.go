package harness

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Window is what [RunCallers] counted.
type Window struct {
	Measured int64         // calls completed in the window
	Total    int64         // calls completed in all, warm-up included
	Elapsed  time.Duration // the window's length, as measured
	Mallocs  uint64        // heap objects allocated in the window, by the whole process
	Bytes    uint64        // heap bytes allocated in the window, by the whole process
}

// RunCallers calls call from c goroutines, each in a loop with a random
// source of its own (g is the goroutine's number, 0 to c-1): for warm, a
// warm-up that only Total counts, then for window, in which the calls
// completed, the time and the heap allocations are counted. A call under
// way when the window closes completes, uncounted, before RunCallers
// returns. At the first error of a call every goroutine stops, and
// RunCallers returns, once warm and window have passed, the error of the
// lowest-numbered goroutine that failed.
//
// What it adds to each call is one atomic load and an indirect call; the
// counters of different goroutines are kept off one cache line. It reads
// runtime.MemStats, which stops the world briefly, just outside the window.
func RunCallers(c int, warm, window time.Duration, call func(g int, r *rand.Rand) error) (Window, error) {
	var phase atomic.Int32 // 0: warm-up, 1: measuring, 2: stop
	type counter struct {
		measured, total int64
		err             error
		_               [40]byte // keep counters of different goroutines off one cache line
	}
	counters := make([]counter, c)
	var wg sync.WaitGroup
	for i := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			ct := &counters[i]
			for {
				p := phase.Load()
				if p == 2 {
					return
				}
				if err := call(i, r); err != nil {
					ct.err = err
					phase.Store(2)
					return
				}
				ct.total++
				if p == 1 {
					ct.measured++
				}
			}
		}()
	}
	time.Sleep(warm)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	t0 := time.Now()
	phase.CompareAndSwap(0, 1)
	time.Sleep(window)
	phase.CompareAndSwap(1, 2)
	elapsed := time.Since(t0)
	runtime.ReadMemStats(&m1)
	wg.Wait()
	w := Window{Elapsed: elapsed, Mallocs: m1.Mallocs - m0.Mallocs, Bytes: m1.TotalAlloc - m0.TotalAlloc}
	for _, ct := range counters {
		if ct.err != nil {
			return Window{}, ct.err
		}
		w.Measured += ct.measured
		w.Total += ct.total
	}
	return w, nil
}
