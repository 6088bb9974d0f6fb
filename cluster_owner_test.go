package typedstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/redistest"
)

// The owner machine through a cluster client: sessions and their owners'
// indexes lie in different slots, on different masters, and no command
// crosses slots.
func testClusterOwnerMachine(t *testing.T, c *redistest.Cluster) {
	if err := c.WaitHealthy(context.Background()); err != nil {
		t.Fatalf("cluster not healthy: %v", err)
	}
	client := c.Client(t, nil)
	guard := &crossSlotGuard{}
	client.AddHook(guard)
	checkOwnerMachine(t, client, nil)
	guard.check(t)
}

// DeleteOwned while slots move between masters, with their sessions and
// indexes, and while new sessions are written: every session each owner
// had before is gone when its DeleteOwned returns, the sessions of others
// are intact, and the indexes agree with the sessions afterwards.
func testClusterDeleteOwnedDuringResharding(t *testing.T, c *redistest.Cluster) {
	ctx := context.Background()
	_, client, guard, _ := clusterStore(t, c, "", nil)
	s := ownedStore(t, client, typedstore.Options[session]{})
	const owners, each = 300, 4
	writeOwned(t, s, owners*each, owners) // s<i> belongs to user<i % owners>
	mustSet(t, s, "keeper", "somebody else")

	masters, err := c.Masters(ctx)
	if err != nil || len(masters) != 3 {
		t.Fatalf("Masters = %v, %v", masters, err)
	}
	moved := make(chan error, 1)
	go func() {
		var errs []error
		for round := range 3 {
			from, to := masters[round], masters[(round+1)%3]
			slots, err := c.SlotsOf(ctx, from)
			if err == nil {
				_, err = c.MigrateSlots(ctx, from, to, slots[:min(300, len(slots))])
			}
			errs = append(errs, err)
		}
		moved <- errors.Join(errs...)
	}()

	deleted, rounds, resharding := 0, 0, true
	for resharding || rounds < owners {
		select {
		case err := <-moved:
			if err != nil {
				t.Fatalf("MigrateSlots: %v", err)
			}
			resharding = false
		default:
		}
		owner := fmt.Sprint("user", rounds%owners)
		if rounds < owners {
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			n, err := s.DeleteOwned(dctx, owner)
			cancel()
			if err != nil {
				t.Fatalf("DeleteOwned(%s) during resharding: %v", owner, err)
			}
			deleted += n
			for j := range each {
				id := fmt.Sprint("s", rounds%owners+j*owners)
				if _, err := s.Get(ctx, id); !errors.Is(err, typedstore.ErrNotFound) {
					t.Fatalf("%s of %s after DeleteOwned returned: %v; want ErrNotFound", id, owner, err)
				}
			}
		}
		// New logins go on meanwhile.
		if err := s.Create(ctx, fmt.Sprint("new", rounds), session{Name: owner}); err != nil {
			t.Fatalf("Create during resharding: %v", err)
		}
		rounds++
	}
	if deleted != owners*each {
		t.Errorf("DeleteOwned deleted %d sessions; want %d", deleted, owners*each)
	}
	if _, err := s.Get(ctx, "keeper"); err != nil {
		t.Errorf("another owner's session: %v", err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatalf("after resharding: %v", err)
	}
	checkIndexesAgree(t, client, s, "user0", "user1", "user7", "somebody else")
	guard.check(t)
	t.Logf("%d DeleteOwned and %d logins during resharding; %d sessions deleted", owners, rounds, deleted)
}

// On a cluster a write of an owned session sends its SET and then the index
// script, one after the other (the two keys live on different masters,
// where a pipeline gives no order): two round trips.
func testClusterOwnedWriteRoundTrips(t *testing.T, c *redistest.Cluster) {
	_, client, guard, log := clusterStore(t, c, "", nil)
	s := ownedStore(t, client, typedstore.Options[session]{})
	mustSet(t, s, "warm-up", "alice")
	before := log.roundTrips
	mustSet(t, s, "x", "alice")
	if n := log.roundTrips - before; n != 2 {
		t.Errorf("an owned write took %d round trips; want 2", n)
	}
	guard.check(t)
}
