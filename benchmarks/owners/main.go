// Command owners measures typedstore's index of the sessions of each user
// (Options.Owner) against one private redis-server, and prints Markdown
// tables:
//
//   - with -sessions sessions in Redis, spread over a tenth as many owners
//     and indexed, and one more owner (the target) with 10 sessions: the
//     time, round trips and Redis commands of listing the target's sessions
//     (Store.OwnedBy) and of deleting them (Store.DeleteOwned), against the
//     only way the peers offer, a SCAN of every key, MGET, decode and
//     filter (and DEL);
//   - what the index adds to a write (Set), a read-only request
//     (GetAndExtend) and a Touch: throughput, allocations and Redis commands
//     per call of the same store with and without Owner, at each -c.
//
// Run it from the benchmarks directory:
//
//	go run ./owners             # 1,000,000 sessions, 5 interleaved repetitions: a few minutes
//	go run ./owners -quick      # 20,000 sessions, one brief repetition: a smoke test (< 15 s)
//	go run ./owners -o owners.md
//
// It starts redis-server (from the PATH) on a free loopback port and stops
// it by pid when it is done. The repetitions are interleaved: each runs
// every measurement once, in an order that rotates from one repetition to
// the next, and each ratio is taken within one repetition; the tables show
// medians.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/benchmarks/internal/harness"
)

var (
	flagQuick    = flag.Bool("quick", false, "a smoke test: 20,000 sessions, one repetition of brief windows")
	flagReps     = flag.Int("reps", 5, "interleaved repetitions; the tables show medians")
	flagSessions = flag.Int("sessions", 1_000_000, "sessions preloaded, a tenth as many owners (20,000 with -quick)")
	flagCalls    = flag.Int("calls", 100, "timed calls of OwnedBy and of DeleteOwned per repetition (20 with -quick); the SCAN ways run once")
	flagWorking  = flag.Int("working", 10_000, "sessions the requests of the second table draw from (2,000 with -quick)")
	flagConc     = flag.String("c", "1,32", "concurrencies of the second table")
	flagWindow   = flag.Duration("window", 400*time.Millisecond, "measured time of each variant in each cell of the second table")
	flagWarm     = flag.Duration("warm", 80*time.Millisecond, "warm-up of each variant in each cell")
	flagSlices   = flag.Int("slices", 4, "slices each cell's window and warm-up are cut into, the variants taking turns (2 with -quick)")
	flagOut      = flag.String("o", "", "also write the tables to this file")
	flagForeign  = flag.Float64("maxforeign", 0.25, "run a window again when other processes used more than this many cores during it")
	flagRetries  = flag.Int("retries", 3, "the most times a disturbed window is run again; the least disturbed run is kept")
	flagCPUProf  = flag.String("cpuprofile", "", "write a CPU profile of the Go side of the whole run to this file")
)

// targetSessions is the number of sessions of the target owner.
const targetSessions = 10

func main() {
	flag.Parse()
	if *flagQuick {
		*flagReps = 1
		*flagWindow = 60 * time.Millisecond
		*flagWarm = 20 * time.Millisecond
		if !harness.FlagGiven("slices") {
			*flagSlices = 2
		}
		if !harness.FlagGiven("retries") {
			*flagRetries = 0
		}
		for _, d := range []struct {
			name string
			v    *int
			n    int
		}{{"sessions", flagSessions, 20_000}, {"calls", flagCalls, 20}, {"working", flagWorking, 2_000}} {
			if !harness.FlagGiven(d.name) {
				*d.v = d.n
			}
		}
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "owners:", err)
		os.Exit(1)
	}
}

func storeOptions(owned bool) typedstore.Options[Session] {
	o := typedstore.Options[Session]{Prefix: prefix, TTL: sessionTTL}
	if owned {
		o.Owner = ownerOf
	}
	return o
}

func run() error {
	ctx := context.Background()
	stopProfile, err := harness.StartCPUProfile(*flagCPUProf)
	if err != nil {
		return err
	}
	defer stopProfile()
	n := *flagSessions
	concs, err := harness.Concurrencies(*flagConc)
	switch {
	case err != nil:
		return err
	case n < 20:
		return fmt.Errorf("-sessions %d: want at least 20", n)
	case *flagWorking < 1 || *flagWorking >= n:
		return fmt.Errorf("-working %d: want at least 1 and fewer than -sessions %d", *flagWorking, n)
	case *flagReps < 1 || *flagCalls < 1 || *flagSlices < 1:
		return fmt.Errorf("-reps, -calls and -slices must be at least 1")
	}
	load0 := harness.LoadAvg()
	begin := time.Now()

	srv, err := harness.StartServer()
	if err != nil {
		return err
	}
	defer srv.Stop()
	harness.Logf("redis-server pid %d on %s", srv.Pid(), srv.Addr)

	all := makeIDs(n + targetSessions)
	p := &population{
		ids:    all[:n],
		owners: max(n/10, 1),
		exp:    time.Now().Add(sessionTTL).UTC().Truncate(time.Millisecond),
	}
	t0 := time.Now()
	if err := preload(ctx, srv.Addr, p); err != nil {
		return err
	}
	preloadTook := time.Since(t0)
	harness.Logf("preloaded %d sessions of %d owners, indexed, in %v", n, p.owners, preloadTook.Round(time.Millisecond))

	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer admin.Close()
	ctr := newCounter()
	client := hookedClient(srv.Addr, ctr)
	defer client.Close()
	m := &meter{ctr: ctr, admin: admin}
	owned, err := typedstore.New(client, storeOptions(true))
	if err != nil {
		return err
	}
	plain, err := typedstore.New(client, storeOptions(false))
	if err != nil {
		return err
	}
	if err := verifyPreload(ctx, owned, p); err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	target := user(p.owners)
	l := &lister{st: owned, raw: client, m: m, target: target, ids: all[n:], sess: newSession(target, p.exp)}
	if err := l.recreate(ctx); err != nil {
		return err
	}
	size, err := sessionSize(p)
	if err != nil {
		return err
	}
	keys, err := admin.DBSize(ctx).Result()
	if err != nil {
		return err
	}
	harness.Logf("OwnedBy of 10 preloaded owners yields their sessions; %d keys in Redis", keys)

	in := &harness.Interference{
		Watch:      &harness.CPUWatch{Pids: []int{srv.Pid()}},
		MaxForeign: *flagForeign,
		Retries:    *flagRetries,
	}

	// The first table: listing and deleting the target's sessions.
	res1 := map[string][]timed{}
	ratios1 := map[string][]float64{}
	for rep := range *flagReps {
		if err := l.run(ctx, rep, *flagCalls, in, res1, ratios1); err != nil {
			return err
		}
		harness.Logf("listing: repetition %d of %d done (%v)", rep+1, *flagReps, time.Since(begin).Round(time.Second))
	}

	// The second table: what the index adds to requests. The store with
	// Owner writes the working set first, as logins would, so it knows
	// their index entries.
	w := *flagWorking
	vals := make([]Session, w)
	for i := range vals {
		vals[i] = newSession(p.ownerOf(i), p.exp)
	}
	if err := writeAll(ctx, owned, p.ids[:w], vals); err != nil {
		return err
	}
	b := &requestBench{
		m: m, plain: plain, owned: owned,
		newOwned: func() (*typedstore.Store[Session], error) { return typedstore.New(client, storeOptions(true)) },
		warm: func(r *rand.Rand) (string, Session) {
			i := r.IntN(w)
			return p.ids[i], vals[i]
		},
		cold: func(r *rand.Rand) (string, Session) {
			return p.ids[w+r.IntN(n-w)], Session{} // read only
		},
		concs:  concs,
		slices: *flagSlices,
		warmUp: *flagWarm / time.Duration(*flagSlices),
		windw:  *flagWindow / time.Duration(*flagSlices),
		in:     in,
	}
	res2 := map[cell][]opSample{}
	ratios2 := map[cell][]float64{}
	for rep := range *flagReps {
		if err := b.run(ctx, rep, res2, ratios2); err != nil {
			return err
		}
		harness.Logf("requests: repetition %d of %d done (%v)", rep+1, *flagReps, time.Since(begin).Round(time.Second))
	}

	var out strings.Builder
	writeListing(&out, n, l.ways(), res1, ratios1)
	writeRequests(&out, concs, res2, ratios2)
	fmt.Fprintln(&out)
	writeNotes(&out, runInfo{
		sessions: n, owners: p.owners, size: size, keys: keys, working: w,
		preload: preloadTook, load0: load0, took: time.Since(begin), in: in,
	})
	fmt.Print(out.String())
	if *flagOut != "" {
		if err := os.WriteFile(*flagOut, []byte(out.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeAll writes vals under ids through st, from a few goroutines.
func writeAll(ctx context.Context, st *typedstore.Store[Session], ids []string, vals []Session) error {
	const workers = 16
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(ids); i += workers {
				if err := st.Set(ctx, ids[i], vals[i]); err != nil {
					errs[g] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// sessionSize returns the size of the preloaded sessions' JSON.
func sessionSize(p *population) (int, error) {
	data, err := typedstore.JSONCodec[Session]{}.Encode(newSession(user(0), p.exp))
	return len(data), err
}
