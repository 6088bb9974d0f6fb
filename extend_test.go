package typedstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/leakcheck"
	"github.com/typedstore/typedstore/internal/redistest"
)

func diffCalls(before, after map[string]int) map[string]int {
	d := map[string]int{}
	for name, n := range after {
		if n != before[name] {
			d[name] = n - before[name]
		}
	}
	return d
}

func TestGetAndExtend(t *testing.T) {
	ctx := context.Background()
	t.Run("one GETEX on redis-server", func(t *testing.T) {
		srv := redistest.Start(t)
		client := redis.NewClient(&redis.Options{Addr: srv.Addr})
		t.Cleanup(func() { client.Close() })
		s, err := typedstore.New(client, typedstore.Options[session]{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ctx, "k", expiring(4, time.Minute)); err != nil {
			t.Fatal(err)
		}
		before := redistest.CommandCalls(t, client)
		got, err := s.GetAndExtend(ctx, "k", time.Hour)
		calls := diffCalls(before, redistest.CommandCalls(t, client))
		if err != nil || got.UserID != 4 {
			t.Fatalf("GetAndExtend = %+v, %v; want user 4", got, err)
		}
		if ttl := client.PTTL(ctx, "sess:k").Val(); ttl < 59*time.Minute {
			t.Errorf("PTTL = %v; want the hour it was extended to", ttl)
		}
		delete(calls, "info")
		if fmt.Sprint(calls) != "map[getex:1]" {
			t.Errorf("commands sent = %v; want one GETEX", calls)
		}
		if _, err := s.GetAndExtend(ctx, "missing", time.Hour); !errors.Is(err, typedstore.ErrNotFound) {
			t.Errorf("GetAndExtend of a missing session = %v; want ErrNotFound", err)
		}
		if client.Exists(ctx, "sess:missing").Val() != 0 {
			t.Error("GetAndExtend created a session")
		}
	})
	t.Run("GET and PEXPIRE where GETEX is unknown", func(t *testing.T) {
		mr, _, s := newMini(t, typedstore.Options[session]{}) // miniredis has no GETEX
		if err := s.Set(ctx, "k", expiring(4, time.Minute)); err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second call goes straight to the fallback
			got, err := s.GetAndExtend(ctx, "k", time.Hour)
			if err != nil || got.UserID != 4 {
				t.Fatalf("GetAndExtend = %+v, %v; want user 4", got, err)
			}
			if ttl := mr.TTL("sess:k"); ttl != time.Hour {
				t.Errorf("TTL = %v; want 1h", ttl)
			}
		}
		if _, err := s.GetAndExtend(ctx, "missing", time.Hour); !errors.Is(err, typedstore.ErrNotFound) {
			t.Errorf("GetAndExtend of a missing session = %v; want ErrNotFound", err)
		}
		mr.Set("sess:bad", "{")
		if _, err := s.GetAndExtend(ctx, "bad", time.Hour); !errors.Is(err, typedstore.ErrCorrupt) {
			t.Errorf("GetAndExtend of a corrupt session = %v; want ErrCorrupt", err)
		}
	})
	t.Run("plain Get under DisableTouch", func(t *testing.T) {
		mr, _, s := newMini(t, typedstore.Options[session]{DisableTouch: true})
		if err := s.Set(ctx, "k", expiring(4, time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetAndExtend(ctx, "k", time.Hour); err != nil {
			t.Fatal(err)
		}
		if ttl := mr.TTL("sess:k"); ttl > time.Minute {
			t.Errorf("TTL = %v; want it unchanged under DisableTouch", ttl)
		}
	})
}

func TestTouchSlack(t *testing.T) {
	ctx := context.Background()
	for name, newClient := range map[string]func(t *testing.T) (*redis.Client, func(time.Duration)){
		"miniredis": func(t *testing.T) (*redis.Client, func(time.Duration)) {
			mr, c, _ := newMini(t, typedstore.Options[session]{})
			return c, mr.FastForward
		},
		"redis-server": func(t *testing.T) (*redis.Client, func(time.Duration)) {
			c := redis.NewClient(&redis.Options{Addr: redistest.Start(t).Addr})
			t.Cleanup(func() { c.Close() })
			return c, nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			client, fastForward := newClient(t)
			s, err := typedstore.New(client, typedstore.Options[session]{TTL: time.Hour, TouchSlack: 10 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Set(ctx, "k", session{}); err != nil {
				t.Fatal(err)
			}
			// Just written: the touch leaves the expiry alone.
			client.PExpire(ctx, "sess:k", 55*time.Minute)
			if err := s.Touch(ctx, "k", session{}); err != nil {
				t.Fatal(err)
			}
			if ttl := client.PTTL(ctx, "sess:k").Val(); ttl > 55*time.Minute {
				t.Errorf("PTTL after a touch within the slack = %v; want it left at 55m", ttl)
			}
			// More than the slack used up: the touch extends.
			if fastForward != nil {
				fastForward(6 * time.Minute)
			} else {
				client.PExpire(ctx, "sess:k", 49*time.Minute)
			}
			if err := s.Touch(ctx, "k", session{}); err != nil {
				t.Fatal(err)
			}
			if ttl := client.PTTL(ctx, "sess:k").Val(); ttl < 59*time.Minute {
				t.Errorf("PTTL after a touch past the slack = %v; want 1h", ttl)
			}
			if err := s.Touch(ctx, "missing", session{}); !errors.Is(err, typedstore.ErrNotFound) {
				t.Errorf("Touch of a missing session = %v; want ErrNotFound", err)
			}
			if client.Exists(ctx, "sess:missing").Val() != 0 {
				t.Error("Touch created a session")
			}
		})
	}
}

func pipelinedStore(t *testing.T, addr string) (*redis.Client, *typedstore.Store[session]) {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, ReadTimeout: time.Second})
	t.Cleanup(func() { client.Close() })
	s, err := typedstore.New(client, typedstore.Options[session]{}) // pipelined by default
	if err != nil {
		t.Fatal(err)
	}
	return client, s
}

// Pipelined, each caller still sees its own writes in order, errors reach
// the right caller, and contexts are honoured.
func TestPipelining(t *testing.T) {
	leakcheck.Check(t)
	ctx := context.Background()
	srv := redistest.Start(t)
	client, s := pipelinedStore(t, srv.Addr)

	const workers, rounds = 64, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			id := fmt.Sprint("w", w)
			for i := range rounds {
				if err := s.Set(ctx, id, session{UserID: int64(i)}); err != nil {
					errs <- err
					return
				}
				got, err := s.Get(ctx, id)
				if err != nil || got.UserID != int64(i) {
					errs <- fmt.Errorf("%s round %d: Get = %d, %v; want %d", id, i, got.UserID, err, i)
					return
				}
				if err := s.Touch(ctx, id, session{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// An error reaches its own caller only.
	client.HSet(ctx, "sess:hash", "f", "v")
	var ok, corrupt int
	var mu sync.Mutex
	for w := range 32 {
		wg.Go(func() {
			id := "w1"
			if w%2 == 0 {
				id = "hash"
			}
			_, err := s.Get(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && id == "w1":
				ok++
			case errors.Is(err, typedstore.ErrCorrupt) && id == "hash":
				corrupt++
			default:
				t.Errorf("Get(%q) = %v", id, err)
			}
		})
	}
	wg.Wait()
	if ok != 16 || corrupt != 16 {
		t.Errorf("got %d ok and %d corrupt; want 16 and 16", ok, corrupt)
	}

	// A cancelled context fails without a command; a paused server holds a
	// call no longer than its deadline.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Get(cctx, "w1"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context = %v; want context.Canceled", err)
	}
	if err := syscall.Kill(srv.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	start := time.Now()
	_, err := s.Get(dctx, "w1")
	elapsed := time.Since(start)
	cancel()
	// Nor does it hold calls queued behind the writes in flight, each with
	// a deadline of its own, past theirs.
	var paused sync.WaitGroup
	for i := range 6 {
		paused.Go(func() {
			d := time.Duration(50*(i+1)) * time.Millisecond
			qctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			start := time.Now()
			_, err := s.Get(qctx, "w1")
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("concurrent Get on a paused server = %v; want context.DeadlineExceeded", err)
			}
			if waited := time.Since(start); waited > d+2*time.Second { // a hang, not a performance bound
				t.Errorf("concurrent Get with a %v deadline on a paused server returned after %v", d, waited)
			}
		})
	}
	paused.Wait()
	syscall.Kill(srv.Pid(), syscall.SIGCONT)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get on a paused server = %v; want context.DeadlineExceeded", err)
	}
	if elapsed > 2*time.Second { // a hang, not a performance bound
		t.Errorf("Get on a paused server returned after %v; want about its 100ms deadline", elapsed)
	}
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err = s.Get(ctx, "w1"); err == nil {
			break
		}
	}
	if err != nil {
		t.Errorf("Get after the server resumed: %v", err)
	}
}
