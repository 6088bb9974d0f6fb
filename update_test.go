package typedstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/redistest"
)

// counter is a session with a counter in it.
type counter struct {
	N int `json:"n"`
}

// barrier lets n goroutines wait for each other, round after round.
type barrier struct {
	mu      sync.Mutex
	cond    *sync.Cond
	n, seen int
	round   int
}

func newBarrier(n int) *barrier {
	b := &barrier{n: n}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *barrier) wait() {
	b.mu.Lock()
	defer b.mu.Unlock()
	round := b.round
	b.seen++
	if b.seen == b.n {
		b.seen = 0
		b.round++
		b.cond.Broadcast()
		return
	}
	for round == b.round {
		b.cond.Wait()
	}
}

// incrementConcurrently has workers goroutines each add 1 to the counter
// rounds times, all reading in step: in each round every worker reads before
// any writes, the worst case for lost updates. With atomic false it uses Get
// then Set; with atomic true, Update. It returns the final count.
func incrementConcurrently(t *testing.T, s *typedstore.Store[counter], workers, rounds int, atomic bool) int {
	t.Helper()
	ctx := context.Background()
	if err := s.Set(ctx, "c", counter{}); err != nil {
		t.Fatal(err)
	}
	b := newBarrier(workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range rounds {
				if !atomic {
					v, err := s.Get(ctx, "c")
					if err != nil {
						errs <- err
						return
					}
					b.wait()
					v.N++
					if err := s.Set(ctx, "c", v); err != nil {
						errs <- err
						return
					}
					b.wait()
					continue
				}
				first := true
				err := s.Update(ctx, "c", func(v *counter) error {
					if first { // every worker has read before any writes
						first = false
						b.wait()
					}
					v.N++
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("increment: %v", err)
	}
	v, err := s.Get(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	return v.N
}

func TestUpdateLosesNoIncrements(t *testing.T) {
	const workers, rounds = 8, 25
	for name, newClient := range bothServers() {
		t.Run(name, func(t *testing.T) {
			client := newClient(t)
			opts := typedstore.Options[counter]{Prefix: redistest.UniquePrefix(t), UpdateAttempts: 100 * workers}
			s, err := typedstore.New(client, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Clear(context.Background()) })

			// Get then Set loses updates: the test can see them.
			if got := incrementConcurrently(t, s, workers, rounds, false); got >= workers*rounds {
				t.Errorf("Get+Set: count = %d; want fewer than %d (lost updates)", got, workers*rounds)
			} else {
				t.Logf("Get+Set: %d increments attempted, %d counted", workers*rounds, got)
			}
			// Update loses none.
			if got := incrementConcurrently(t, s, workers, rounds, true); got != workers*rounds {
				t.Errorf("Update: count = %d; want %d", got, workers*rounds)
			} else {
				t.Logf("Update: %d increments attempted, %d counted", workers*rounds, got)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	ctx := context.Background()
	t.Run("applies fn and keeps the TTL rules", func(t *testing.T) {
		mr, _, s := newMini(t, typedstore.Options[session]{})
		if err := s.Set(ctx, "k", expiring(1, time.Minute)); err != nil {
			t.Fatal(err)
		}
		err := s.Update(ctx, "k", func(v *session) error {
			v.Name = "updated"
			exp := time.Now().Add(time.Hour)
			v.ExpiresAt = &exp
			return nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if got, _ := s.Get(ctx, "k"); got.Name != "updated" || got.UserID != 1 {
			t.Errorf("after Update: %+v; want name updated, user 1", got)
		}
		if ttl := mr.TTL("sess:k"); ttl < 59*time.Minute {
			t.Errorf("TTL after Update = %v; want the new cookie's hour", ttl)
		}
	})
	t.Run("missing session", func(t *testing.T) {
		mr, _, s := newMini(t, typedstore.Options[session]{})
		called := false
		err := s.Update(ctx, "nope", func(*session) error { called = true; return nil })
		if !errors.Is(err, typedstore.ErrNotFound) || called || mr.Exists("sess:nope") {
			t.Errorf("Update of a missing session = %v (fn called: %v); want ErrNotFound, fn not called, nothing created", err, called)
		}
	})
	t.Run("fn error writes nothing", func(t *testing.T) {
		mr, _, s := newMini(t, typedstore.Options[session]{})
		if err := s.Set(ctx, "k", session{Name: "before"}); err != nil {
			t.Fatal(err)
		}
		before, _ := mr.Get("sess:k")
		errBoom := errors.New("boom")
		err := s.Update(ctx, "k", func(v *session) error { v.Name = "after"; return errBoom })
		if !errors.Is(err, errBoom) {
			t.Errorf("Update = %v; want fn's error", err)
		}
		if after, _ := mr.Get("sess:k"); after != before {
			t.Errorf("stored %q after a failed fn; want %q", after, before)
		}
	})
	t.Run("corrupt value is left alone", func(t *testing.T) {
		mr, _, s := newMini(t, typedstore.Options[session]{})
		mr.Set("sess:k", "{not json")
		err := s.Update(ctx, "k", func(*session) error { return nil })
		if !errors.Is(err, typedstore.ErrCorrupt) {
			t.Errorf("Update = %v; want ErrCorrupt", err)
		}
		if v, _ := mr.Get("sess:k"); v != "{not json" {
			t.Errorf("corrupt value overwritten with %q", v)
		}
	})
	t.Run("expired cookie deletes", func(t *testing.T) {
		mr, _, s := newMini(t, typedstore.Options[session]{})
		if err := s.Set(ctx, "k", expiring(1, time.Hour)); err != nil {
			t.Fatal(err)
		}
		err := s.Update(ctx, "k", func(v *session) error {
			past := time.Now().Add(-time.Second)
			v.ExpiresAt = &past
			return nil
		})
		if err != nil || mr.Exists("sess:k") {
			t.Errorf("Update to a past expiry = %v, exists %v; want nil and deleted", err, mr.Exists("sess:k"))
		}
	})
	t.Run("DisableTTL writes no expiry", func(t *testing.T) {
		mr, _, s := newMini(t, typedstore.Options[session]{DisableTTL: true})
		mr.Set("sess:k", `{"userId":1}`)
		mr.SetTTL("sess:k", time.Minute)
		if err := s.Update(ctx, "k", func(v *session) error { v.UserID = 2; return nil }); err != nil {
			t.Fatal(err)
		}
		if ttl := mr.TTL("sess:k"); ttl != 0 {
			t.Errorf("TTL = %v; want none under DisableTTL", ttl)
		}
	})
	t.Run("conflict on every attempt", func(t *testing.T) {
		mr, client, s := newMini(t, typedstore.Options[counter]{UpdateAttempts: 3})
		if err := s.Set(ctx, "k", counter{N: 1}); err != nil {
			t.Fatal(err)
		}
		// Another writer changes the session between each read and write.
		n := 100
		client.AddHook(beforeCommand("evalsha", func() {
			n++
			mr.Set("sess:k", fmt.Sprintf(`{"n":%d}`, n))
		}))
		calls := 0
		err := s.Update(ctx, "k", func(v *counter) error { calls++; v.N = -1; return nil })
		if !errors.Is(err, typedstore.ErrConflict) || !strings.HasPrefix(err.Error(), "typedstore: update: ") {
			t.Errorf("Update = %v; want ErrConflict from update", err)
		}
		if calls != 3 {
			t.Errorf("fn called %d times; want 3 (UpdateAttempts)", calls)
		}
		if v, _ := mr.Get("sess:k"); v != `{"n":103}` {
			t.Errorf("stored %q; want the other writer's last value", v)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		_, _, s := newMini(t, typedstore.Options[counter]{})
		if err := s.Set(ctx, "k", counter{}); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Update(cctx, "k", func(*counter) error { return nil }); !errors.Is(err, context.Canceled) {
			t.Errorf("Update = %v; want context.Canceled", err)
		}
	})
}
