package typedstore_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/redistest"
)

// loadStats records what a load of store operations saw.
type loadStats struct {
	mu       sync.Mutex
	ops      int
	failures []string // op, id and error of each call that failed
	errKinds map[string]int
}

func (l *loadStats) record(op, id string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops++
	if err == nil {
		return
	}
	if len(l.failures) < 20 {
		l.failures = append(l.failures, fmt.Sprintf("%s(%q): %v", op, id, err))
	}
	if l.errKinds == nil {
		l.errKinds = map[string]int{}
	}
	l.errKinds[errKind(err)]++
}

func (l *loadStats) failed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, k := range l.errKinds {
		n += k
	}
	return n
}

// worker runs Set, Get, Update, Touch and Delete on ids of its own, which no other
// goroutine writes, and checks every answer against its model: the version
// (UserID) of each id's last acknowledged write, or -1 once deleted.
type worker struct {
	s     *typedstore.Store[session]
	ids   []string
	model map[string]int64
	ver   int64
	rng   *rand.Rand
	stats *loadStats
}

func (w *worker) step(ctx context.Context) {
	id := w.ids[w.rng.IntN(len(w.ids))]
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	switch op := w.rng.IntN(20); {
	case op < 8:
		w.ver++
		err := w.s.Set(ctx, id, session{UserID: w.ver, Name: id})
		w.stats.record("Set", id, err)
		if err == nil {
			w.model[id] = w.ver
		}
	case op < 14:
		v, err := w.s.Get(ctx, id)
		switch want := w.model[id]; {
		case want < 0 && errors.Is(err, typedstore.ErrNotFound):
			w.stats.record("Get", id, nil)
		case want < 0:
			w.stats.record("Get", id, fmt.Errorf("got %+v, %v; want not found", v, err))
		case err != nil:
			w.stats.record("Get", id, err)
		case v.UserID != want:
			w.stats.record("Get", id, fmt.Errorf("wrong value: version %d; want %d", v.UserID, want))
		default:
			w.stats.record("Get", id, nil)
		}
	case op < 16: // a Lua compare-and-set: EVALSHA, routed by its key
		w.ver++
		ver := w.ver
		err := w.s.Update(ctx, id, func(v *session) error { v.UserID = ver; return nil })
		switch {
		case w.model[id] < 0 && errors.Is(err, typedstore.ErrNotFound):
			w.stats.record("Update", id, nil)
		case w.model[id] < 0:
			w.stats.record("Update", id, fmt.Errorf("Update of a deleted session = %v; want not found", err))
		default:
			w.stats.record("Update", id, err)
			if err == nil {
				w.model[id] = ver
			}
		}
	case op < 18:
		err := w.s.Touch(ctx, id, session{UserID: w.model[id]})
		if w.model[id] < 0 && errors.Is(err, typedstore.ErrNotFound) {
			err = nil
		}
		w.stats.record("Touch", id, err)
	default:
		del := []string{id, w.ids[w.rng.IntN(len(w.ids))]}
		err := w.s.Delete(ctx, del...)
		w.stats.record("Delete", id, err)
		if err == nil {
			for _, d := range del {
				w.model[d] = -1
			}
		}
	}
}

// startWorkers starts n workers on disjoint shares of ids, as setMany wrote
// them (the UserID of ids[i] is i), until stop is closed; wait waits for
// them and returns the merged model.
func startWorkers(ctx context.Context, s *typedstore.Store[session], ids []string, n int, stats *loadStats, stop <-chan struct{}) (wait func() map[string]int64) {
	var wg sync.WaitGroup
	workers := make([]*worker, n)
	for i := range workers {
		w := &worker{s: s, model: map[string]int64{}, rng: rand.New(rand.NewPCG(uint64(i), 1)), stats: stats, ver: int64(len(ids))}
		for j := i; j < len(ids); j += n {
			w.ids = append(w.ids, ids[j])
			w.model[ids[j]] = int64(j)
		}
		workers[i] = w
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					w.step(ctx)
				}
			}
		})
	}
	return func() map[string]int64 {
		wg.Wait()
		out := map[string]int64{}
		for _, w := range workers {
			maps.Copy(out, w.model)
		}
		return out
	}
}

// Slots move between masters, one at a time with their keys, while workers
// read and write sessions and an iterator walks them: go-redis follows the
// ASK and MOVED redirections, so no call fails, and no acknowledged write is
// lost.
func testClusterResharding(t *testing.T, c *redistest.Cluster) {
	ctx := context.Background()
	s, _, guard, _ := clusterStore(t, c, "", nil)
	stable := setMany(ctx, t, s, "stable-", 1500) // never written again
	busy := setMany(ctx, t, s, "busy-", 1500)

	stats := &loadStats{}
	stop := make(chan struct{})
	wait := startWorkers(ctx, s, busy, 4, stats, stop)

	// The iterator checks that the sessions that exist throughout are seen.
	var (
		iterStats                 loadStats
		iterations, missedRounds  int
		missedTotal, maxMissedOne int
		missedIDs                 = map[string]bool{}
		iterDone                  = make(chan struct{})
	)
	go func() {
		defer close(iterDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			seen := map[string]bool{}
			var err error
			if iterations%2 == 0 {
				seq, errf := s.IDs(ctx)
				for id := range seq {
					seen[id] = true
				}
				err = errf()
			} else {
				seq, errf := s.All(ctx)
				for id := range seq {
					seen[id] = true
				}
				err = errf()
			}
			iterStats.record("iterate", "", err)
			missed := 0
			for _, id := range stable {
				if !seen[id] {
					missed++
					missedIDs[id] = true
				}
			}
			iterations++
			if missed > 0 {
				missedRounds++
				missedTotal += missed
				maxMissedOne = max(maxMissedOne, missed)
			}
		}
	}()

	masters, err := c.Masters(ctx)
	if err != nil || len(masters) != 3 {
		t.Fatalf("Masters = %v, %v", masters, err)
	}
	begin := time.Now()
	slotsMoved, keysMoved := 0, 0
	movedSlots := map[int]bool{}
	for round := range 3 {
		from, to := masters[round], masters[(round+1)%3]
		owned, err := c.SlotsOf(ctx, from)
		if err != nil {
			t.Fatal(err)
		}
		move := owned[:min(400, len(owned))]
		for _, slot := range move {
			movedSlots[slot] = true
		}
		k, err := c.MigrateSlots(ctx, from, to, move)
		slotsMoved += len(move)
		keysMoved += k
		if err != nil {
			close(stop)
			wait()
			<-iterDone
			t.Fatalf("round %d: MigrateSlots(%s → %s): %v", round, from.Addr, to.Addr, err)
		}
	}
	reshard := time.Since(begin)
	close(stop)
	model := wait()
	<-iterDone

	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatalf("after resharding: %v", err)
	}
	// Every acknowledged write is there, every delete took.
	want := map[string]int64{}
	for i, id := range stable {
		want[id] = int64(i)
	}
	lost := 0
	for id, ver := range model {
		v, err := s.Get(ctx, id)
		switch {
		case ver < 0 && !errors.Is(err, typedstore.ErrNotFound):
			lost++
			t.Errorf("Get(%q) after resharding = %+v, %v; want not found", id, v, err)
		case ver >= 0 && (err != nil || v.UserID != ver):
			lost++
			t.Errorf("Get(%q) after resharding = %+v, %v; want version %d", id, v, err, ver)
		}
		if ver >= 0 {
			want[id] = ver
		}
		if lost > 5 {
			break
		}
	}
	checkIterations(t, s, want)
	// An iteration that sees slots move while it scans scans again, so it
	// misses no session that existed throughout.
	for id := range missedIDs {
		t.Errorf("an iteration during resharding missed %q (slot %d, moved: %v)", id, redistest.Slot(s.Prefix()+id), movedSlots[redistest.Slot(s.Prefix()+id)])
	}
	if f := stats.failed(); f > 0 {
		t.Errorf("%d of %d calls failed during resharding (%v), first: %q", f, stats.ops, stats.errKinds, stats.failures)
	}
	if f := iterStats.failed(); f > 0 {
		t.Errorf("%d of %d iterations failed during resharding (%v), first: %q", f, iterations, iterStats.errKinds, iterStats.failures)
	}
	guard.check(t)
	t.Logf("resharding: moved %d slots and %d keys in %v; %d store calls, %d failed; %d iterations, %d failed, %d missed sessions that existed throughout, all in moving slots (%d missed in all, at most %d in one)",
		slotsMoved, keysMoved, reshard.Round(time.Millisecond), stats.ops, stats.failed(),
		iterations, iterStats.failed(), missedRounds, missedTotal, maxMissedOne)
}
