package typedstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/leakcheck"
	"github.com/typedstore/typedstore/internal/redistest"
)

// With go-redis's client-side cache on (RESP3), a Get of an unchanged session
// is served from memory, and a write by another client invalidates it.
func TestClientSideCache(t *testing.T) {
	leakcheck.Check(t)
	ctx := context.Background()
	srv := redistest.Start(t)
	cached := redis.NewClient(&redis.Options{
		Addr:                  srv.Addr,
		Protocol:              3,
		ClientSideCacheConfig: &redis.ClientSideCacheConfig{MaxEntries: 1000},
	})
	t.Cleanup(func() { cached.Close() })
	other := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { other.Close() })

	// One write in flight at a time, so that concurrent Gets queue often.
	s, err := typedstore.New(cached, typedstore.Options[session]{PipelineWrites: 1})
	if err != nil {
		t.Fatal(err)
	}
	writer, err := typedstore.New(other, typedstore.Options[session]{})
	if err != nil {
		t.Fatal(err)
	}
	if err := writer.Set(ctx, "k", session{UserID: 1}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "k"); err != nil || got.UserID != 1 {
		t.Fatalf("first Get = %+v, %v; want user 1", got, err)
	}
	before := redistest.CommandCalls(t, other)["get"]
	for range 100 {
		if got, err := s.Get(ctx, "k"); err != nil || got.UserID != 1 {
			t.Fatalf("cached Get = %+v, %v; want user 1", got, err)
		}
	}
	if n := redistest.CommandCalls(t, other)["get"] - before; n != 0 {
		t.Errorf("100 Gets of an unchanged session sent %d GETs to the server; want 0 (served from the cache)", n)
	}
	// So are concurrent Gets, which the store would otherwise pipeline,
	// and go-redis does not look up pipelined commands in its cache.
	var wg sync.WaitGroup
	for range 128 {
		wg.Go(func() {
			for range 100 {
				if got, err := s.Get(ctx, "k"); err != nil || got.UserID != 1 {
					t.Errorf("concurrent cached Get = %+v, %v; want user 1", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := redistest.CommandCalls(t, other)["get"] - before; n != 0 {
		t.Errorf("12,800 concurrent Gets of an unchanged session sent %d GETs to the server; want 0 (served from the cache)", n)
	}

	// Another client changes the session: the next Gets see the change once
	// the invalidation has arrived (go-redis drains it within milliseconds).
	if err := writer.Set(ctx, "k", session{UserID: 2}); err != nil {
		t.Fatal(err)
	}
	var got session
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if got, err = s.Get(ctx, "k"); err == nil && got.UserID == 2 {
			break
		}
	}
	if got.UserID != 2 {
		t.Errorf("Get after another client's Set = %+v, %v; want user 2", got, err)
	}
	if err := writer.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err = s.Get(ctx, "k"); err != nil {
			break
		}
	}
	if !errors.Is(err, typedstore.ErrNotFound) {
		t.Errorf("Get after another client's Delete = %v; want ErrNotFound", err)
	}
}
