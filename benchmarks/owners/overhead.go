package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/benchmarks/internal/harness"
)

// The second part: what the index adds to the requests of an application,
// the same store with and without Options.Owner.

// request is one kind of request of the second table.
type request struct {
	name string
	// cold: the sessions are drawn from the preloaded ones that this process
	// never wrote, with a store made afresh for each slice.
	cold bool
	op   func(ctx context.Context, st *typedstore.Store[Session], id string, v Session) error
}

var requests = []request{
	{name: "write (Set)", op: func(ctx context.Context, st *typedstore.Store[Session], id string, v Session) error {
		return st.Set(ctx, id, v)
	}},
	{name: "read (GetAndExtend)", op: getAndExtend},
	{name: "Touch", op: func(ctx context.Context, st *typedstore.Store[Session], id string, v Session) error {
		return st.Touch(ctx, id, v)
	}},
	{name: "read, cold (GetAndExtend)", cold: true, op: getAndExtend},
}

func getAndExtend(ctx context.Context, st *typedstore.Store[Session], id string, _ Session) error {
	_, err := st.GetAndExtend(ctx, id, sessionTTL)
	return err
}

// The variants of the store, in the table's order.
const (
	withoutOwner = "without Owner"
	withOwner    = "with Owner"
)

var variants = []string{withoutOwner, withOwner}

// slice is the measurement of one variant in one slice of a cell's window,
// or the sum of several.
type slice struct {
	measured, total int64 // calls in the window; in the warm-up and the window
	elapsed         time.Duration
	mallocs, bytes  uint64
	use             usage
	foreign         float64 // cores other processes used; for a sum, the mean
}

func (s *slice) add(o slice) {
	n := float64(s.elapsed + o.elapsed)
	if n > 0 {
		s.foreign = (s.foreign*float64(s.elapsed) + o.foreign*float64(o.elapsed)) / n
	}
	s.measured += o.measured
	s.total += o.total
	s.elapsed += o.elapsed
	s.mallocs += o.mallocs
	s.bytes += o.bytes
	s.use.trips += o.use.trips
	s.use.sent = addCalls(s.use.sent, o.use.sent)
	s.use.ran = addCalls(s.use.ran, o.use.ran)
}

func addCalls(a, b map[string]int64) map[string]int64 {
	if a == nil {
		a = map[string]int64{}
	}
	for k, v := range b {
		a[k] += v
	}
	return a
}

// opSample is one cell's measurement of one variant in one repetition.
type opSample struct {
	opsPerSec float64
	usPerOp   float64 // mean latency: window × c ÷ calls
	allocsOp  float64
	bytesOp   float64
	cost      perOp
}

func (s slice) sample(c int) opSample {
	o := opSample{cost: s.use.per(s.total)}
	if s.measured > 0 {
		o.opsPerSec = float64(s.measured) / s.elapsed.Seconds()
		o.usPerOp = s.elapsed.Seconds() * 1e6 * float64(c) / float64(s.measured)
		o.allocsOp = float64(s.mallocs) / float64(s.measured)
		o.bytesOp = float64(s.bytes) / float64(s.measured)
	}
	return o
}

// pick returns the id and value of a session for a call.
type pick func(r *rand.Rand) (string, Session)

// measureSlice runs op from c goroutines on sessions from p: a warm-up, then
// a window in which completed calls, allocations and time are counted
// ([harness.RunCallers]). Redis usage covers both.
func measureSlice(ctx context.Context, m *meter, st *typedstore.Store[Session], op request, p pick, c int, warm, window time.Duration) (slice, error) {
	runtime.GC() // do not bill this slice for the garbage of the previous one
	m0, err := m.mark(ctx)
	if err != nil {
		return slice{}, err
	}
	win, err := harness.RunCallers(c, warm, window, func(_ int, r *rand.Rand) error {
		id, v := p(r)
		return op.op(ctx, st, id, v)
	})
	if err != nil {
		return slice{}, err
	}
	s := slice{measured: win.Measured, total: win.Total, elapsed: win.Elapsed, mallocs: win.Mallocs, bytes: win.Bytes}
	s.use, err = m.since(ctx, m0)
	return s, err
}

// requestBench runs the second table's cells.
type requestBench struct {
	m             *meter
	plain, owned  *typedstore.Store[Session]
	newOwned      func() (*typedstore.Store[Session], error) // a store with Owner that has seen nothing
	warm, cold    pick
	concs         []int
	slices        int
	warmUp, windw time.Duration
	in            *harness.Interference
}

type cell struct {
	req     string
	c       int
	variant string
}

// run measures every cell once: one repetition. Within a cell, the two
// variants take turns over b.slices slices of the window, in the order
// ABBA ABBA … (BAAB … in odd repetitions), so that both see the same
// machine; a slice in which other processes used more than -maxforeign
// cores is run again, up to -retries times. It adds each cell's sample to
// res, and the ratio of the variants' throughputs to ratios.
func (b *requestBench) run(ctx context.Context, rep int, res map[cell][]opSample, ratios map[cell][]float64) error {
	for _, req := range requests {
		for _, c := range b.concs {
			sums := map[string]*slice{withoutOwner: {}, withOwner: {}}
			for i := range b.slices {
				order := slices.Clone(variants)
				if (i+rep)%2 == 1 {
					slices.Reverse(order)
				}
				for _, v := range order {
					s, err := b.measureRetried(ctx, req, c, v)
					if err != nil {
						return fmt.Errorf("%s, c=%d, %s: %w", req.name, c, v, err)
					}
					sums[v].add(s)
				}
			}
			for _, v := range variants {
				k := cell{req.name, c, v}
				res[k] = append(res[k], sums[v].sample(c))
			}
			if base := sums[withoutOwner].sample(c).opsPerSec; base > 0 {
				k := cell{req.name, c, withOwner}
				ratios[k] = append(ratios[k], sums[withOwner].sample(c).opsPerSec/base)
			}
		}
	}
	return nil
}

// measureRetried measures one slice of variant v, again while other
// processes took the CPUs from it, and keeps the least disturbed run
// ([harness.LeastDisturbed]).
func (b *requestBench) measureRetried(ctx context.Context, req request, c int, v string) (slice, error) {
	p := b.warm
	if req.cold {
		p = b.cold
	}
	best, cores, err := harness.LeastDisturbed(b.in, func() (slice, error) {
		st := b.plain
		if v == withOwner {
			st = b.owned
			if req.cold { // a process that has seen none of these sessions yet
				var err error
				if st, err = b.newOwned(); err != nil {
					return slice{}, err
				}
			}
		}
		return measureSlice(ctx, b.m, st, req, p, c, b.warmUp, b.windw)
	})
	if err != nil {
		return slice{}, err
	}
	best.foreign = cores
	return best, nil
}
