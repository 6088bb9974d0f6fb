package typedstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/leakcheck"
	"github.com/typedstore/typedstore/internal/redistest"
)

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
