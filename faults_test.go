package typedstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/leakcheck"
	"github.com/typedstore/typedstore/internal/redistest"
)

// faultClient returns a client with short timeouts that honours context
// deadlines, as a service that cares about faults would configure it.
func faultClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:                  addr,
		DialTimeout:           200 * time.Millisecond,
		ReadTimeout:           500 * time.Millisecond,
		WriteTimeout:          500 * time.Millisecond,
		ContextTimeoutEnabled: true,
		PoolSize:              16,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// A redis-server killed and restarted under a load of Set and Get: no panic,
// no leaked goroutine, every call ends by its deadline, the store works again
// soon after the restart, and with appendfsync always no acknowledged Set is
// lost.
func TestServerRestartUnderLoad(t *testing.T) {
	redistest.Heavy(t)
	leakcheck.Check(t)
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	client := faultClient(t, srv.Addr)
	s, err := typedstore.New(client, typedstore.Options[session]{})
	if err != nil {
		t.Fatal(err)
	}

	const (
		workers  = 8
		deadline = 300 * time.Millisecond
		slack    = 2 * time.Second // scheduling on a loaded machine, not a performance bound
	)
	var (
		acked     sync.Map // id -> user id of every Set that returned nil
		nAcked    atomic.Int64
		nFailed   atomic.Int64
		overtime  atomic.Int64
		restarted atomic.Int64 // UnixNano when the server was back
		recovered atomic.Int64 // UnixNano of the first successful Set after that
		stop      = make(chan struct{})
		wg        sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				start := time.Now()
				err := s.Set(ctx, id, session{UserID: int64(i)})
				if err == nil {
					_, err = s.Get(ctx, id)
				}
				cancel()
				if time.Since(start) > 2*deadline+slack { // two calls, each bound by the deadline
					overtime.Add(1)
				}
				if err != nil {
					nFailed.Add(1)
					time.Sleep(5 * time.Millisecond) // don't spin while the server is down
					continue
				}
				acked.Store(id, int64(i))
				nAcked.Add(1)
				if r := restarted.Load(); r != 0 && start.UnixNano() >= r {
					recovered.CompareAndSwap(0, time.Now().UnixNano())
				}
			}
		})
	}

	// waitFor waits, polling, until cond holds, for at most d.
	waitFor := func(d time.Duration, cond func() bool) {
		for deadline := time.Now().Add(d); !cond() && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(10*time.Second, func() bool { return nAcked.Load() >= 10*workers }) // load before the fault
	before := nAcked.Load()
	srv.Stop() // SIGKILL
	// The load sees the fault: as many calls as workers fail, each at its
	// deadline at the latest.
	waitFor(10*time.Second, func() bool { return nFailed.Load() >= workers })
	failedWhileDown := nFailed.Load()
	srv.Restart(t)
	restarted.Store(time.Now().UnixNano())
	waitFor(5*time.Second, func() bool { return recovered.Load() != 0 })
	after := nAcked.Load()
	waitFor(10*time.Second, func() bool { return nAcked.Load() >= after+10*workers }) // load after the fault
	close(stop)
	wg.Wait()

	if recovered.Load() == 0 {
		t.Fatal("no Set succeeded within 5s of the restart")
	}
	window := time.Duration(recovered.Load() - restarted.Load())
	t.Logf("acknowledged Sets: %d before the kill, %d in all; failed calls: %d (%d while down); back %v after the restart",
		before, nAcked.Load(), nFailed.Load(), failedWhileDown, window)
	if window > time.Second {
		t.Errorf("store worked again %v after the restart; want within 1s", window)
	}
	if failedWhileDown == 0 {
		t.Error("no call failed while the server was down: the test did not see the fault")
	}
	if n := overtime.Load(); n > 0 {
		t.Errorf("%d calls ran past their deadline", n)
	}

	// Every acknowledged Set survived the SIGKILL.
	lost := 0
	found := 0
	acked.Range(func(k, v any) bool {
		got, err := s.Get(context.Background(), k.(string))
		if err != nil || got.UserID != v.(int64) {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged session %s: Get = %+v, %v; want user %d", k, got, err, v)
			}
		} else {
			found++
		}
		return true
	})
	t.Logf("acknowledged sessions found after the restart: %d of %d", found, found+lost)
}

// A server that stops answering (SIGSTOP) does not hold a call past its
// deadline, and the store works again when the server resumes.
func TestPausedServerHonoursDeadlines(t *testing.T) {
	redistest.Heavy(t)
	leakcheck.Check(t)
	srv := redistest.Start(t)
	client := faultClient(t, srv.Addr)
	s, err := typedstore.New(client, typedstore.Options[session]{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Set(ctx, "k", session{UserID: 1}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(srv.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			syscall.Kill(srv.Pid(), syscall.SIGCONT)
			resumed = true
		}
	}
	t.Cleanup(resume)

	const deadline = 100 * time.Millisecond
	for name, call := range map[string]func(context.Context) error{
		"Get":    func(ctx context.Context) error { _, err := s.Get(ctx, "k"); return err },
		"Set":    func(ctx context.Context) error { return s.Set(ctx, "k", session{UserID: 1}) }, // the same value: it may still run once the server resumes
		"Touch":  func(ctx context.Context) error { return s.Touch(ctx, "k", session{}) },
		"Update": func(ctx context.Context) error { return s.Update(ctx, "k", func(*session) error { return nil }) },
		"Len":    func(ctx context.Context) error { _, err := s.Len(ctx); return err },
	} {
		cctx, cancel := context.WithTimeout(ctx, deadline)
		start := time.Now()
		err := call(cctx)
		elapsed := time.Since(start)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a paused server = %v; want context.DeadlineExceeded", name, err)
		}
		if elapsed > deadline+2*time.Second {
			t.Errorf("%s returned %v after a %v deadline", name, elapsed, deadline)
		}
	}
	resume()
	var got session
	for wait := time.Now().Add(3 * time.Second); time.Now().Before(wait); time.Sleep(10 * time.Millisecond) {
		if got, err = s.Get(ctx, "k"); err == nil {
			break
		}
	}
	if err != nil || got.UserID != 1 {
		t.Errorf("Get after the server resumed = %+v, %v; want user 1", got, err)
	}
}

// With maxmemory reached and the noeviction policy, Set fails with Redis's
// OOM error, clearly wrapped, and the sessions written before are intact.
func TestMaxMemoryNoEviction(t *testing.T) {
	srv := redistest.Start(t, "--maxmemory", "3mb", "--maxmemory-policy", "noeviction")
	client := faultClient(t, srv.Addr)
	s, err := typedstore.New(client, typedstore.Options[session]{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pad := strings.Repeat("x", 1000)
	written := 0
	var setErr error
	for i := range 100_000 {
		if setErr = s.Set(ctx, fmt.Sprint(i), session{UserID: int64(i), Name: pad}); setErr != nil {
			break
		}
		written++
	}
	if setErr == nil {
		t.Fatalf("wrote %d sessions without reaching maxmemory", written)
	}
	var rerr redis.Error
	if !errors.As(setErr, &rerr) || !strings.Contains(setErr.Error(), "OOM") || !strings.HasPrefix(setErr.Error(), "typedstore: set: ") {
		t.Errorf("Set at maxmemory = %v; want Redis's OOM error wrapped by typedstore", setErr)
	}
	for i := range written {
		got, err := s.Get(ctx, fmt.Sprint(i))
		if err != nil || got.UserID != int64(i) || got.Name != pad {
			t.Fatalf("session %d after OOM: %+v, %v; want it intact", i, got.UserID, err)
		}
	}
	t.Logf("%d sessions written and intact before Set failed with: %v", written, setErr)
}

// Keys under the prefix that hold a hash or a list: Get reports them as
// corrupt (wrapping Redis's WRONGTYPE error), All reports them and goes on,
// Len counts them and Clear removes them; nothing panics.
func TestKeysOfAnotherType(t *testing.T) {
	ctx := context.Background()
	for name, newClient := range bothServers() {
		t.Run(name, func(t *testing.T) {
			client := newClient(t)
			prefix := redistest.UniquePrefix(t)
			s, err := typedstore.New(client, typedstore.Options[session]{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Clear(ctx) })
			if err := s.Set(ctx, "good", session{UserID: 1}); err != nil {
				t.Fatal(err)
			}
			client.HSet(ctx, prefix+"hash", "f", "v")
			client.RPush(ctx, prefix+"list", "a", "b")

			for _, id := range []string{"hash", "list"} {
				_, err := s.Get(ctx, id)
				var ce *typedstore.CorruptError
				if !errors.As(err, &ce) || ce.ID != id || !strings.Contains(err.Error(), "WRONGTYPE") {
					t.Errorf("Get(%q) = %v; want a *CorruptError with WRONGTYPE", id, err)
				}
				if err := s.Update(ctx, id, func(*session) error { return nil }); !errors.Is(err, typedstore.ErrCorrupt) {
					t.Errorf("Update(%q) = %v; want ErrCorrupt", id, err)
				}
			}
			got, err := collectAll(t, s)
			if len(got) != 1 || got["good"].UserID != 1 {
				t.Errorf("All yielded %v; want only the good session", got)
			}
			if !errors.Is(err, typedstore.ErrCorrupt) || !strings.Contains(err.Error(), "holds a hash") || !strings.Contains(err.Error(), "holds a list") {
				t.Errorf("All error = %v; want both keys of another type reported", err)
			}
			if n, err := s.Len(ctx); n != 3 || err != nil {
				t.Errorf("Len = %d, %v; want 3 (every key under the prefix)", n, err)
			}
			if err := s.Clear(ctx); err != nil {
				t.Fatal(err)
			}
			if n, _ := client.Exists(ctx, prefix+"hash", prefix+"list", prefix+"good").Result(); n != 0 {
				t.Errorf("%d keys left after Clear; want 0", n)
			}
		})
	}
}

func TestHostileValues(t *testing.T) {
	ctx := context.Background()
	mr, _, s := newMini(t, typedstore.Options[session]{MaxSize: 64 << 10})

	// A 64 KiB id is rejected before anything is sent.
	if err := s.Set(ctx, strings.Repeat("i", 64<<10), session{}); !errors.Is(err, typedstore.ErrInvalidID) {
		t.Errorf("Set with a 64 KiB id = %v; want ErrInvalidID", err)
	}

	// A session that encodes to more than MaxSize is not written.
	huge := session{Name: strings.Repeat("h", 100<<10)}
	if err := s.Set(ctx, "huge", huge); !errors.Is(err, typedstore.ErrTooLarge) {
		t.Errorf("Set of a 100 KiB session = %v; want ErrTooLarge", err)
	}
	for name, write := range map[string]func() error{
		"Create":  func() error { return s.Create(ctx, "huge", huge) },
		"Replace": func() error { return s.Replace(ctx, "huge", huge) },
	} {
		if err := write(); !errors.Is(err, typedstore.ErrTooLarge) {
			t.Errorf("%s of a 100 KiB session = %v; want ErrTooLarge", name, err)
		}
	}
	if mr.Exists("sess:huge") {
		t.Error("an oversized session was written")
	}

	// A stored value over MaxSize is reported, not decoded, and kept.
	big := `{"name":"` + strings.Repeat("b", 70<<10) + `"}`
	mr.Set("sess:big", big)
	if _, err := s.Get(ctx, "big"); !errors.Is(err, typedstore.ErrTooLarge) || !errors.Is(err, typedstore.ErrCorrupt) {
		t.Errorf("Get of a 70 KiB value = %v; want ErrCorrupt and ErrTooLarge", err)
	}
	if v, _ := mr.Get("sess:big"); v != big {
		t.Error("oversized stored value was changed")
	}

	// Another struct's JSON with conflicting field types is corrupt; one
	// with unrelated fields decodes to a zero session, as JSON ignores
	// unknown fields.
	mr.Set("sess:other", `{"userId":{"nested":true},"cookie":"string"}`)
	if _, err := s.Get(ctx, "other"); !errors.Is(err, typedstore.ErrCorrupt) {
		t.Errorf("Get of a conflicting struct's JSON = %v; want ErrCorrupt", err)
	}
	mr.Set("sess:unrelated", `{"sku":"A-1","qty":3}`)
	if got, err := s.Get(ctx, "unrelated"); err != nil || got.UserID != 0 {
		t.Errorf("Get of an unrelated struct's JSON = %+v, %v; want a zero session", got, err)
	}
}

// The prefix escaping against a real server's glob: hostile prefixes next to
// look-alike keys of other apps; only the store's own keys are read or
// deleted.
func TestHostilePrefixesOnRedis(t *testing.T) {
	ctx := context.Background()
	client := redistest.Client(t)
	base := redistest.UniquePrefix(t)
	for _, suffix := range []string{"app[1]:", "a*:", "a?:", `a\:`, "[^x]-:", "\x00\n:"} {
		prefix := base + suffix
		s, err := typedstore.New(client, typedstore.Options[session]{Prefix: prefix, ScanCount: 3})
		if err != nil {
			t.Fatal(err)
		}
		var others []string
		for _, other := range []string{"app1:x", "appa:x", "a:x", "ab:x", `a\x`, "q-:x", "x:x", "a\x00\n:"} {
			if k := base + other; !strings.HasPrefix(k, prefix) {
				others = append(others, k)
				client.Set(ctx, k, "other app", time.Minute)
			}
		}
		for _, id := range []string{"one", "two", "*", "[x]"} {
			if err := s.Set(ctx, id, session{Name: id}); err != nil {
				t.Fatal(err)
			}
		}
		ids, err := collectIDs(t, s)
		if err != nil || strings.Join(ids, ",") != "*,[x],one,two" {
			t.Errorf("prefix %q: IDs = %q, %v; want [* [x] one two]", suffix, ids, err)
		}
		if err := s.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		if n, _ := client.Exists(ctx, others...).Result(); n != int64(len(others)) {
			t.Errorf("prefix %q: Clear deleted %d keys of other apps", suffix, int64(len(others))-n)
		}
		client.Del(ctx, others...)
	}
}
