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

// A store on a Sentinel failover client (redis.NewFailoverClient) keeps
// working across two failovers under a load of Sets and Gets, without a
// restart of the client: one that an operator asks for (SENTINEL FAILOVER)
// and one after the master is killed. The sessions written and replicated
// before each failover survive it; the test measures how long writes failed
// and how many acknowledged writes the failover dropped.
func TestSentinelFailover(t *testing.T) {
	redistest.Heavy(t)
	leakcheck.Check(t)
	g := redistest.StartSentinel(t)
	ctx := context.Background()
	client := g.Client(t, nil)
	newStore := func() *typedstore.Store[session] {
		s, err := typedstore.New(client, typedstore.Options[session]{Prefix: redistest.UniquePrefix(t), TTL: 45 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Clear(context.Background()) })
		return s
	}
	s := newStore()
	stable := setMany(ctx, t, s, "stable-", 2000)
	want := map[string]int64{}
	for i, id := range stable {
		want[id] = int64(i)
	}
	everyKey := func(string) bool { return true } // one master holds them all

	for _, how := range []string{"SENTINEL FAILOVER", "kill"} {
		// Writes that reached the replica survive a failover; wait for it.
		if err := g.WaitHealthy(ctx); err != nil {
			t.Fatal(err)
		}
		master, err := g.Master(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dials := &dialLog{}
		client.AddHook(dials)
		load := startWriteLoad(newStore(), everyKey)
		if !load.waitBusy(20) { // some load before the failover
			load.stopAndWait()
			t.Fatalf("%s: the load made no progress before the failover: %v", how, load)
		}
		var promoted *redistest.Server
		if how == "kill" {
			_, err = g.KillMaster(ctx)
			load.killed()
			if err == nil {
				promoted, err = g.WaitNewMaster(ctx, master)
			}
		} else {
			load.killed()
			_, promoted, err = g.Failover(ctx)
		}
		if err != nil {
			load.stopAndWait()
			t.Fatalf("%s: %v", how, err)
		}
		agreed := time.Since(load.killedAt)
		window, ok := load.waitRecovered(30 * time.Second)
		if !ok {
			load.stopAndWait()
			t.Fatalf("%s: no write acknowledged within 30s: %v", how, load)
		}
		// Once the sentinels agree, every new connection goes to the new
		// master; go-redis's pool, after failing to dial the old one, probes
		// again once a second. Once the pool has dialed the new master and
		// every goroutine has succeeded in a call started since the
		// sentinels agreed, no call may fail.
		agreedAt := load.killedAt.Add(agreed)
		if !dials.waitDialed(agreedAt) || !load.waitWorking(agreedAt) {
			load.stopAndWait()
			t.Fatalf("%s: the store did not work again for every goroutine within %v of the failover: %v", how, loadWait, load)
		}
		load.settled()
		if !load.waitSettledCalls(100) {
			load.stopAndWait()
			t.Fatalf("%s: the load made no progress after the failover had settled: %v", how, load)
		}
		load.stopAndWait()
		if len(load.failedSettled) > 0 {
			t.Errorf("%s: calls failed after the failover had settled: %q", how, load.failedSettled)
		}
		dropped, _, acked := load.lost(t)
		checkIterations(t, s, want)
		t.Logf("sentinel, %s: %s → %s; sentinels agreed after %v; first write started after the failover began acknowledged after %v; %d of %d acknowledged writes dropped; %v",
			how, master.Addr, promoted.Addr, agreed.Round(time.Millisecond), window.Round(time.Millisecond), dropped, acked, load)

		if how != "kill" {
			// Make the old master a replica at once, as the sentinels would
			// some 10 s later, so that the next failover can start.
			if err := g.Rejoin(ctx); err != nil {
				t.Fatalf("after %s: %v", how, err)
			}
		}
	}
}

// Open reaches the master through the Sentinels that a URL with a
// master_name names.
func TestOpenThroughSentinel(t *testing.T) {
	redistest.Heavy(t)
	g := redistest.StartSentinel(t)
	u := "redis://" + g.Sentinels[0].Addr + "?master_name=" + redistest.SentinelMasterName
	for _, sn := range g.Sentinels[1:] {
		u += "&addr=" + sn.Addr
	}
	s, err := typedstore.Open(u, typedstore.Options[session]{Prefix: redistest.UniquePrefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	if err := s.Set(ctx, "x", session{UserID: 3}); err != nil {
		t.Fatalf("Set through the Sentinels: %v", err)
	}
	master, err := g.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}
	direct := redis.NewClient(&redis.Options{Addr: master.Addr})
	t.Cleanup(func() { direct.Close() })
	if n, err := direct.Exists(ctx, s.Prefix()+"x").Result(); err != nil || n != 1 {
		t.Fatalf("EXISTS on the master %s = %d, %v; want the session there", master.Addr, n, err)
	}
}
