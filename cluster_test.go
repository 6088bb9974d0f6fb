package typedstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
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
	t.Run("OwnerMachine", func(t *testing.T) { testClusterOwnerMachine(t, c) })
	t.Run("OwnedWriteRoundTrips", func(t *testing.T) { testClusterOwnedWriteRoundTrips(t, c) })
	t.Run("DeleteOwnedDuringResharding", func(t *testing.T) { testClusterDeleteOwnedDuringResharding(t, c) })
	t.Run("MigrateEveryMaster", func(t *testing.T) { testClusterMigrate(t, c) })
	t.Run("HooksReportEachEventOnce", func(t *testing.T) { testHookEvents(t, c.Client(t, nil)) })
	t.Run("EstimateLen", func(t *testing.T) { testEstimateLen(t, c.Client(t, nil)) })
	t.Run("WatchExpired", func(t *testing.T) { testWatchExpiredCluster(t, c) })
	t.Run("FailoverUnderLoad", func(t *testing.T) { testClusterFailover(t, c) })
}

// testClusterMigrate runs testMigrate on the cluster, whose sessions lie on
// every master.
func testClusterMigrate(t *testing.T, c *redistest.Cluster) {
	_, client, guard, _ := clusterStore(t, c, "", nil)
	prefix := redistest.UniquePrefix(t)
	testMigrate(t, client, prefix)
	if counts := perMaster(context.Background(), t, c, prefix); len(counts) != 3 {
		t.Errorf("sessions on %d masters (%v); want all 3", len(counts), counts)
	}
	guard.check(t)
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
