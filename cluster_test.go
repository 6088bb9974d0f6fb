package typedstore_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/leakcheck"
	"github.com/typedstore/typedstore/internal/redistest"
)

// TestCluster runs the store on a real Redis Cluster of three masters with
// one replica each, started once for all its subtests. The subtests that
// change the topology (resharding, failover) run last and leave the cluster
// healthy for the next.
func TestCluster(t *testing.T) {
	redistest.Heavy(t)
	leakcheck.Check(t)
	c := redistest.StartCluster(t, 3, 1)
	t.Run("SlotMatchesServer", func(t *testing.T) { testSlotMatchesServer(t, c) })
	t.Run("StateMachine", func(t *testing.T) { testClusterStateMachine(t, c) })
	t.Run("SessionsSpreadOverEveryMasterAndAreIteratedOnce", func(t *testing.T) { testClusterSpread(t, c) })
	t.Run("GlobAndHashTagPrefixesNeverCrossSlots", func(t *testing.T) { testClusterPrefixes(t, c) })
	t.Run("UpdateLosesNoIncrements", func(t *testing.T) { testClusterUpdate(t, c) })
	t.Run("ReshardingUnderLoadLosesNothing", func(t *testing.T) { testClusterResharding(t, c) })
	t.Run("FailoverUnderLoad", func(t *testing.T) { testClusterFailover(t, c) })
}

// crossSlotGuard is a go-redis hook that records every command that the
// server refused with CROSSSLOT, and every multi-key command sent whose keys
// lie in more than one slot.
type crossSlotGuard struct {
	mu  sync.Mutex
	bad []string
}

// multiKeyCommands are the multi-key commands the store could send, with
// all their arguments after the name being keys.
var multiKeyCommands = map[string]bool{"mget": true, "del": true, "unlink": true, "exists": true, "touch": true}

func (g *crossSlotGuard) inspect(cmd redis.Cmder) {
	var why string
	if err := cmd.Err(); err != nil && strings.Contains(err.Error(), "CROSSSLOT") {
		why = err.Error()
	}
	if args := cmd.Args(); multiKeyCommands[cmd.Name()] && len(args) > 2 {
		slot := redistest.Slot(fmt.Sprint(args[1]))
		for _, k := range args[2:] {
			if redistest.Slot(fmt.Sprint(k)) != slot {
				why = "keys in more than one slot"
			}
		}
	}
	if why != "" {
		g.mu.Lock()
		g.bad = append(g.bad, fmt.Sprintf("%s: %s", cmd.Name(), why))
		g.mu.Unlock()
	}
}

func (g *crossSlotGuard) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *crossSlotGuard) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		g.inspect(cmd)
		return err
	}
}

func (g *crossSlotGuard) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			g.inspect(c)
		}
		return err
	}
}

// check fails the test if any command crossed slots.
func (g *crossSlotGuard) check(t *testing.T) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.bad) > 0 {
		t.Errorf("%d commands crossed slots, first: %s", len(g.bad), g.bad[0])
	}
}

// clusterStore returns a cluster client on c with a crossSlotGuard and a
// commandLog hooked in, and a store on it under a prefix of its own followed
// by suffix.
func clusterStore(t *testing.T, c *redistest.Cluster, suffix string, opt *redis.ClusterOptions) (*typedstore.Store[session], *redis.ClusterClient, *crossSlotGuard, *commandLog) {
	t.Helper()
	ctx := context.Background()
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatalf("cluster not healthy: %v", err)
	}
	client := c.Client(t, opt)
	guard, log := &crossSlotGuard{}, &commandLog{}
	client.AddHook(guard)
	client.AddHook(log)
	s, err := typedstore.New(client, typedstore.Options[session]{
		Prefix: redistest.UniquePrefix(t) + suffix,
		TTL:    45 * time.Minute,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Clear(context.Background()) })
	return s, client, guard, log
}

func testSlotMatchesServer(t *testing.T, c *redistest.Cluster) {
	ctx := context.Background()
	keys := []string{"", "a", "sess:abc", "{app}:x", "x{}y", "{}{a}", "a{b}c{d}", "{{b}}", "foo{bar", "\x00\xff"}
	for i := range 100 {
		keys = append(keys, fmt.Sprintf("sess:%d", i))
	}
	for _, k := range keys {
		want, err := c.Nodes[0].Client.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %q: %v", k, err)
		}
		if got := redistest.Slot(k); got != int(want) {
			t.Errorf("Slot(%q) = %d; want %d", k, got, want)
		}
	}
}

// The rapid state machine of the single-server suite, through a cluster
// client: ids spread over the masters, and Len, IDs, All and Clear must
// still see exactly the model's sessions.
func testClusterStateMachine(t *testing.T, c *redistest.Cluster) {
	if err := c.WaitHealthy(context.Background()); err != nil {
		t.Fatalf("cluster not healthy: %v", err)
	}
	client := c.Client(t, nil)
	guard := &crossSlotGuard{}
	client.AddHook(guard)
	checkMachineOnServer(t, client)
	guard.check(t)
}

// countOn counts the keys matching pattern on one node, with SCAN.
func countOn(ctx context.Context, t *testing.T, n *redistest.Node, pattern string) int {
	t.Helper()
	count := 0
	var cursor uint64
	for {
		keys, next, err := n.Client.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			t.Fatalf("SCAN on %s: %v", n.Addr, err)
		}
		count += len(keys)
		if cursor = next; cursor == 0 {
			return count
		}
	}
}

// perMaster counts the store's keys on each master. The prefix must hold no
// glob characters.
func perMaster(ctx context.Context, t *testing.T, c *redistest.Cluster, prefix string) map[string]int {
	t.Helper()
	masters, err := c.Masters(ctx)
	if err != nil {
		t.Fatalf("Masters: %v", err)
	}
	out := map[string]int{}
	for _, m := range masters {
		out[m.Addr] = countOn(ctx, t, m, prefix+"*")
	}
	return out
}

// setMany writes n sessions "<tag><i>" with UserID i, from 8 goroutines,
// and returns their ids.
func setMany(ctx context.Context, t *testing.T, s *typedstore.Store[session], tag string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%05d", tag, i)
	}
	var wg sync.WaitGroup
	var failures atomic.Int64
	var first atomic.Value
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				if err := s.Set(ctx, ids[i], session{UserID: int64(i), Name: ids[i]}); err != nil {
					failures.Add(1)
					first.CompareAndSwap(nil, err)
				}
			}
		})
	}
	wg.Wait()
	if f := failures.Load(); f > 0 {
		t.Fatalf("%d of %d Sets failed, one with: %v", f, n, first.Load())
	}
	return ids
}

// checkIterations checks that IDs, All and Len see exactly the sessions
// want (by id, with UserID), each once, and returns how many each saw.
func checkIterations(t *testing.T, s *typedstore.Store[session], want map[string]int64) (nIDs, nAll, nLen int) {
	t.Helper()
	ids, err := collectIDs(t, s)
	if err != nil {
		t.Errorf("IDs: %v", err)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			t.Errorf("IDs yielded %q twice", ids[i])
		}
	}
	if wantIDs := slices.Sorted(maps.Keys(want)); !slices.Equal(ids, wantIDs) {
		t.Errorf("IDs = %d ids; want %d (missing %d, unexpected %d)", len(ids), len(wantIDs),
			len(difference(wantIDs, ids)), len(difference(ids, wantIDs)))
	}
	all, err := collectAll(t, s) // reports duplicates itself
	if err != nil {
		t.Errorf("All: %v", err)
	}
	for id, u := range want {
		if v, ok := all[id]; !ok || v.UserID != u {
			t.Errorf("All[%q] = %+v, %v; want UserID %d", id, v, ok, u)
			break
		}
	}
	if len(all) != len(want) {
		t.Errorf("All = %d sessions; want %d", len(all), len(want))
	}
	n, err := s.Len(context.Background())
	if err != nil || n != len(want) {
		t.Errorf("Len = %d, %v; want %d", n, err, len(want))
	}
	return len(ids), len(all), n
}

// difference returns the elements of a that are not in b.
func difference(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

// 10,000 sessions land on all three masters, and IDs, All, Len and Clear
// each see every one of them exactly once.
func testClusterSpread(t *testing.T, c *redistest.Cluster) {
	const n = 10000
	ctx := context.Background()
	s, _, guard, log := clusterStore(t, c, "", nil)
	begin := time.Now()
	ids := setMany(ctx, t, s, "spread-", n)
	wrote := time.Since(begin)

	counts := perMaster(ctx, t, c, s.Prefix())
	total := 0
	for addr, k := range counts {
		total += k
		if k < n/10 {
			t.Errorf("master %s holds %d of %d sessions; want a third or so", addr, k, n)
		}
	}
	if len(counts) != 3 || total != n {
		t.Errorf("masters hold %v, %d in all; want 3 masters holding %d", counts, total, n)
	}
	want := map[string]int64{}
	for i, id := range ids {
		want[id] = int64(i)
	}
	begin = time.Now()
	nIDs, nAll, nLen := checkIterations(t, s, want)
	iterated := time.Since(begin)

	begin = time.Now()
	if err := s.Clear(ctx); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	cleared := time.Since(begin)
	after := perMaster(ctx, t, c, s.Prefix())
	left := 0
	for _, k := range after {
		left += k
	}
	if n, err := s.Len(ctx); err != nil || n != 0 || left != 0 {
		t.Errorf("after Clear: Len = %d, %v, %d keys left on the masters; want 0", n, err, left)
	}
	if k := log.count("mget"); k != 0 {
		t.Errorf("sent %d MGETs on a cluster; want pipelined GETs", k)
	}
	guard.check(t)
	t.Logf("cluster: wrote %d sessions in %v; per master %v (sum %d); IDs saw %d, All %d, Len %d (in %v); Clear removed %d in %v, %d left",
		n, wrote.Round(time.Millisecond), counts, total, nIDs, nAll, nLen, iterated.Round(time.Millisecond),
		total-left, cleared.Round(time.Millisecond), left)
}

// A prefix full of glob characters, a hash-tagged prefix and both at once:
// iteration, multi-id Delete and Clear work, no command crosses slots, and
// a key that the unescaped glob would match is left alone. A hash-tagged
// prefix puts every session on one master.
func testClusterPrefixes(t *testing.T, c *redistest.Cluster) {
	ctx := context.Background()
	for _, suffix := range []string{`s[1]*?\-^:`, "{app}:", `{app}[x]*:`} {
		t.Run(suffix, func(t *testing.T) {
			s, client, guard, _ := clusterStore(t, c, suffix, nil)
			// A key outside the prefix that the pattern would match if the
			// prefix reached SCAN MATCH unescaped.
			decoy := strings.NewReplacer(`[1]`, `1`, `*`, `xx`, `?`, `y`, `\`, ``, `[x]`, `x`).Replace(s.Prefix()) + "decoy"
			if strings.HasPrefix(decoy, s.Prefix()) {
				decoy = "" // no glob characters: nothing to confuse
			} else {
				if err := client.Set(ctx, decoy, "not a session", time.Hour).Err(); err != nil {
					t.Fatal(err)
				}
				defer client.Del(ctx, decoy)
			}

			ids := setMany(ctx, t, s, "p", 300)
			want := map[string]int64{}
			for i, id := range ids {
				want[id] = int64(i)
			}
			checkIterations(t, s, want)

			if err := s.Delete(ctx, ids[:50]...); err != nil {
				t.Fatalf("Delete of 50 ids: %v", err)
			}
			for _, id := range ids[:50] {
				delete(want, id)
			}
			checkIterations(t, s, want)

			if strings.HasPrefix(suffix, "{") {
				slots := map[int]bool{}
				for _, id := range ids {
					slots[redistest.Slot(s.Prefix()+id)] = true
				}
				if len(slots) != 1 {
					t.Errorf("a hash-tagged prefix put sessions in %d slots; want 1", len(slots))
				}
			}
			if err := s.Clear(ctx); err != nil {
				t.Fatalf("Clear: %v", err)
			}
			if n, err := s.Len(ctx); err != nil || n != 0 {
				t.Errorf("after Clear: Len = %d, %v; want 0", n, err)
			}
			if decoy != "" {
				if n, err := client.Exists(ctx, decoy).Result(); err != nil || n != 1 {
					t.Errorf("Clear removed the decoy %q: EXISTS = %d, %v", decoy, n, err)
				}
			}
			guard.check(t)
		})
	}
}

// Concurrent Updates of sessions on different masters lose no increment:
// the compare-and-set script runs on the master of its one key.
func testClusterUpdate(t *testing.T, c *redistest.Cluster) {
	const workers, rounds = 8, 25
	ctx := context.Background()
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatalf("cluster not healthy: %v", err)
	}
	client := c.Client(t, nil)
	guard := &crossSlotGuard{}
	client.AddHook(guard)
	s, err := typedstore.New(client, typedstore.Options[session]{
		Prefix: redistest.UniquePrefix(t), TTL: 45 * time.Minute, UpdateAttempts: 100 * workers,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Clear(context.Background()) })
	ids := setMany(ctx, t, s, "counter-", 6)
	masters := map[string]bool{}
	for _, id := range ids {
		if err := s.Set(ctx, id, session{}); err != nil {
			t.Fatal(err)
		}
		m, err := c.MasterOf(ctx, s.Prefix()+id)
		if err != nil {
			t.Fatal(err)
		}
		masters[m.Addr] = true
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				for _, id := range ids {
					if err := s.Update(ctx, id, func(v *session) error { v.UserID++; return nil }); err != nil {
						t.Errorf("Update(%q): %v", id, err)
					}
				}
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		if v, err := s.Get(ctx, id); err != nil || v.UserID != workers*rounds {
			t.Errorf("Get(%q) = %d, %v; want %d increments", id, v.UserID, err, workers*rounds)
		}
	}
	guard.check(t)
	t.Logf("Update: %d sessions on %d masters, %d concurrent increments each, all counted", len(ids), len(masters), workers*rounds)
}

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

// errKind shortens an error to its kind, for counting.
func errKind(err error) string {
	msg := err.Error()
	for _, k := range []string{"connection refused", "CLUSTERDOWN", "TRYAGAIN", "MOVED", "ASK", "EOF", "i/o timeout",
		"connection reset", "deadline exceeded", "LOADING", "READONLY", "wrong value", "not found"} {
		if strings.Contains(msg, k) {
			return k
		}
	}
	return msg
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

// writeLoad writes new sessions, and reads each back, from four goroutines
// while a master fails, and records when writes to the keys that the
// failover affects failed and when they came back. Every write is to a new
// id, so that a write acknowledged and then lost in the failover is not
// hidden by a later one.
type writeLoad struct {
	s        *typedstore.Store[session]
	affected func(id string) bool
	stop     chan struct{}
	wg       sync.WaitGroup
	acked    [][]string // per worker: the ids of the acknowledged writes

	mu                          sync.Mutex
	killedAt, settledAt         time.Time
	firstErr, lastErr           time.Time // start, end of failed writes to affected keys
	otherFirstErr, otherLastErr time.Time // the same, for other keys
	firstOK                     time.Time // end of the first acknowledged write to an affected key started after the kill
	recovered                   chan struct{}
	writes, failed, otherFailed int
	reads, readsFailed          int
	failedSettled               []string // calls started after settledAt that failed
	errKinds                    map[string]int
}

// startWriteLoad starts the load on s, whose prefix must hold no session,
// until stopAndWait.
func startWriteLoad(s *typedstore.Store[session], affected func(string) bool) *writeLoad {
	l := &writeLoad{s: s, affected: affected, stop: make(chan struct{}),
		recovered: make(chan struct{}), errKinds: map[string]int{}, acked: make([][]string, 4)}
	for w := range 4 {
		l.wg.Go(func() {
			for seq := 0; ; seq++ {
				select {
				case <-l.stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%07d", w, seq)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				start := time.Now()
				err := s.Set(ctx, id, session{UserID: int64(seq), Name: id})
				end := time.Now()
				var rerr error
				if err == nil {
					l.acked[w] = append(l.acked[w], id)
					_, rerr = s.Get(ctx, id)
				}
				cancel()
				l.record(id, start, end, err, rerr)
			}
		})
	}
	return l
}

func (l *writeLoad) record(id string, start, end time.Time, err, rerr error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	if err == nil {
		l.reads++
	}
	if rerr != nil {
		l.readsFailed++
		l.errKinds["Get: "+errKind(rerr)]++
	}
	if err != nil {
		l.errKinds["Set: "+errKind(err)]++
	}
	if !l.settledAt.IsZero() && start.After(l.settledAt) {
		for _, e := range []error{err, rerr} {
			if e != nil && len(l.failedSettled) < 10 {
				l.failedSettled = append(l.failedSettled, fmt.Sprintf("%q: %v", id, e))
			}
		}
	}
	hit := l.affected(id)
	switch {
	case err != nil && hit:
		l.failed++
		if l.firstErr.IsZero() {
			l.firstErr = start
		}
		l.lastErr = end
	case err != nil:
		l.otherFailed++
		if l.otherFirstErr.IsZero() {
			l.otherFirstErr = start
		}
		l.otherLastErr = end
	case hit && !l.killedAt.IsZero() && start.After(l.killedAt) && l.firstOK.IsZero():
		l.firstOK = end
		close(l.recovered)
	}
}

// killed records the moment the master died, or the failover began.
func (l *writeLoad) killed() {
	l.mu.Lock()
	l.killedAt = time.Now()
	l.mu.Unlock()
}

// settled records the moment from which every call must succeed.
func (l *writeLoad) settled() {
	l.mu.Lock()
	l.settledAt = time.Now()
	l.mu.Unlock()
}

// waitRecovered waits until a write to an affected key, started after the
// kill, is acknowledged, and returns the window: the time from the kill to
// that acknowledgement.
func (l *writeLoad) waitRecovered(timeout time.Duration) (time.Duration, bool) {
	select {
	case <-l.recovered:
	case <-time.After(timeout):
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.firstOK.Sub(l.killedAt), true
}

func (l *writeLoad) stopAndWait() {
	close(l.stop)
	l.wg.Wait()
}

// lost returns how many writes were acknowledged and are now missing, among
// the affected keys and among the others, and how many were acknowledged.
func (l *writeLoad) lost(t *testing.T) (affected, other, acked int) {
	t.Helper()
	seq, errf := l.s.IDs(context.Background())
	have := map[string]bool{}
	for id := range seq {
		have[id] = true
	}
	if err := errf(); err != nil {
		t.Fatalf("IDs after the failover: %v", err)
	}
	for _, ids := range l.acked {
		for _, id := range ids {
			acked++
			switch {
			case have[id]:
			case l.affected(id):
				affected++
			default:
				other++
			}
		}
	}
	return affected, other, acked
}

func (l *writeLoad) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	since := func(x time.Time) string {
		if x.IsZero() {
			return "never"
		}
		return "+" + x.Sub(l.killedAt).Round(time.Millisecond).String()
	}
	var kinds []string
	for _, k := range slices.Sorted(maps.Keys(l.errKinds)) {
		kinds = append(kinds, fmt.Sprintf("%s ×%d", k, l.errKinds[k]))
	}
	if len(kinds) == 0 {
		kinds = []string{"none"}
	}
	return fmt.Sprintf("failed writes to the failed master's keys from %s to %s, to other keys from %s to %s; "+
		"%d writes (%d failed on the failed master's keys, %d on others), %d reads (%d failed); errors: %s",
		since(l.firstErr), since(l.lastErr), since(l.otherFirstErr), since(l.otherLastErr),
		l.writes, l.failed, l.otherFailed, l.reads, l.readsFailed, strings.Join(kinds, ", "))
}

// A master is killed during a load of Sets and Gets. Its replica takes
// over, and the same client and store work again without a restart; the
// test measures how long the keys of the killed master could not be
// written, and how many acknowledged writes the failover dropped.
func testClusterFailover(t *testing.T, c *redistest.Cluster) {
	ctx := context.Background()
	// go-redis learns of a new master from a MOVED reply or a reload of
	// the topology. A dead master sends no MOVED, and the client reloads
	// its topology on its own only when it is older than
	// ClusterStateReloadInterval (60 s by default): the store asks it to
	// reload after a connection error, so a client with the default
	// options recovers as soon as the replica has taken over.
	const reload = time.Second // margin for the reload after the failover
	s, client, guard, _ := clusterStore(t, c, "", nil)
	loadStore, err := typedstore.New(client, typedstore.Options[session]{Prefix: redistest.UniquePrefix(t), TTL: 45 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer loadStore.Clear(ctx)
	stable := setMany(ctx, t, s, "stable-", 2000)
	if err := c.WaitReplicated(ctx); err != nil {
		t.Fatal(err)
	}
	masters, err := c.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	victim := masters[0]
	slotMap, err := c.SlotMap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	load := startWriteLoad(loadStore, func(id string) bool { return slotMap[redistest.Slot(loadStore.Prefix()+id)] == victim })
	time.Sleep(200 * time.Millisecond) // some load before the kill
	c.Kill(victim)
	load.killed()
	begin := time.Now()
	// An iteration that cannot reach a master fails; it does not return the
	// other masters' sessions as if they were all.
	lenCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if n, err := s.Len(lenCtx); err == nil {
		t.Errorf("Len with a master down = %d, nil; want an error", n)
	}
	cancel()

	window, ok := load.waitRecovered(30 * time.Second)
	if !ok {
		load.stopAndWait()
		t.Fatalf("no write to the killed master's keys succeeded within 30s of the kill: %v", load)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Errorf("after failover: %v", err)
	}
	healthy := time.Since(begin)
	// Once every node agrees on the new master, the client's next reload
	// of the topology sees it too; from then on nothing may fail.
	time.Sleep(reload + 300*time.Millisecond)
	load.settled()
	time.Sleep(300 * time.Millisecond)
	load.stopAndWait()
	if len(load.failedSettled) > 0 {
		t.Errorf("calls failed after the failover had settled: %q", load.failedSettled)
	}
	// Asynchronous replication may drop the last writes that the killed
	// master acknowledged; none on the other masters.
	dropped, droppedOther, acked := load.lost(t)
	if droppedOther > 0 {
		t.Errorf("%d acknowledged writes to the other masters' keys were lost", droppedOther)
	}

	// The sessions written and replicated before the kill all survived, and
	// the store, on the same client, works for them and iterates over them.
	want := map[string]int64{}
	for i, id := range stable {
		want[id] = int64(i)
	}
	checkIterations(t, s, want)
	for _, id := range stable {
		if err := s.Touch(ctx, id, session{}); err != nil {
			t.Fatalf("Touch(%q) after the failover: %v", id, err)
		}
	}
	guard.check(t)
	t.Logf("cluster failover: killed master %s under load; first write to its keys acknowledged %v after the kill (the window); all nodes agreed after %v; %d of %d acknowledged writes dropped; %v",
		victim.Addr, window.Round(time.Millisecond), healthy.Round(time.Millisecond), dropped, acked, load)

	// The killed master comes back as a replica of its successor, and the
	// cluster is whole again.
	c.Restart(t, victim)
	if err := c.WaitHealthy(ctx); err != nil {
		t.Errorf("after restarting %s: %v", victim.Addr, err)
	}
}

// TestRing runs the store on a *redis.Ring of two plain redis-servers: the
// state machine, and 2,000 sessions that land on both shards and that IDs,
// All, Len and Clear each see exactly once.
func TestRing(t *testing.T) {
	redistest.Heavy(t)
	leakcheck.Check(t)
	shards := map[string]*redistest.Server{"a": redistest.Start(t), "b": redistest.Start(t)}
	addrs := map[string]string{}
	for name, s := range shards {
		addrs[name] = s.Addr
	}
	ring := redis.NewRing(&redis.RingOptions{Addrs: addrs})
	t.Cleanup(func() { ring.Close() })
	ctx := context.Background()
	if err := ring.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() }); err != nil {
		t.Fatalf("PING the shards: %v", err)
	}

	t.Run("StateMachine", func(t *testing.T) {
		checkMachineOnServer(t, ring)
	})

	t.Run("SessionsSpreadOverBothShardsAndAreIteratedOnce", func(t *testing.T) {
		const n = 2000
		log := &commandLog{}
		ring.AddHook(log)
		s, err := typedstore.New(ring, typedstore.Options[session]{Prefix: redistest.UniquePrefix(t), TTL: 45 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		ids := setMany(ctx, t, s, "ring-", n)
		perShard := func() map[string]int {
			out := map[string]int{}
			for name, srv := range shards {
				c := redis.NewClient(&redis.Options{Addr: srv.Addr})
				count := 0
				iter := c.Scan(ctx, 0, s.Prefix()+"*", 1000).Iterator()
				for iter.Next(ctx) {
					count++
				}
				if err := iter.Err(); err != nil {
					t.Fatalf("SCAN shard %s: %v", name, err)
				}
				c.Close()
				out[name] = count
			}
			return out
		}
		counts := perShard()
		if counts["a"] < n/10 || counts["b"] < n/10 || counts["a"]+counts["b"] != n {
			t.Errorf("shards hold %v; want both a share of %d", counts, n)
		}
		want := map[string]int64{}
		for i, id := range ids {
			want[id] = int64(i)
		}
		nIDs, nAll, nLen := checkIterations(t, s, want)
		if err := s.Delete(ctx, ids[:100]...); err != nil {
			t.Fatalf("Delete of 100 ids: %v", err)
		}
		if err := s.Clear(ctx); err != nil {
			t.Fatalf("Clear: %v", err)
		}
		after := perShard()
		if n, err := s.Len(ctx); err != nil || n != 0 || after["a"]+after["b"] != 0 {
			t.Errorf("after Clear: Len = %d, %v, shards hold %v; want 0", n, err, after)
		}
		if k := log.count("mget"); k != 0 {
			t.Errorf("sent %d MGETs on a ring; want pipelined GETs", k)
		}
		t.Logf("ring: wrote %d sessions; per shard %v; IDs saw %d, All %d, Len %d; Clear left %v", n, counts, nIDs, nAll, nLen, after)
	})
}
