package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// gated is a Sender on a real client that counts plain commands and
// pipelines, and holds every plain command until its gate opens.
type gated struct {
	*redis.Client
	hold      atomic.Bool   // plain commands wait for gate
	gate      chan struct{} // closed to let them through
	entered   chan string   // the key of each plain command held at the gate
	processed atomic.Int64
	pipelines atomic.Int64
	sizes     chan int // the commands of each pipeline
	onExec    func(ctx context.Context)
	holdPipe  atomic.Bool   // pipelines wait for pipeGate
	pipeGate  chan struct{} // closed to let them through
	inPipe    chan struct{} // a token for each pipeline held at pipeGate
}

func newGated(t *testing.T) (*gated, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { c.Close() })
	return &gated{Client: c, gate: make(chan struct{}), entered: make(chan string, 1024), sizes: make(chan int, 1024),
		pipeGate: make(chan struct{}), inPipe: make(chan struct{}, 1024)}, mr
}

func (g *gated) Process(ctx context.Context, cmd redis.Cmder) error {
	g.processed.Add(1)
	if g.hold.Load() {
		g.entered <- fmt.Sprint(cmd.Args()[1])
		<-g.gate
	}
	return g.Client.Process(ctx, cmd)
}

func (g *gated) Pipeline() redis.Pipeliner {
	return &countedPipe{Pipeliner: g.Client.Pipeline(), g: g}
}

type countedPipe struct {
	redis.Pipeliner
	g *gated
}

func (p *countedPipe) Exec(ctx context.Context) ([]redis.Cmder, error) {
	p.g.pipelines.Add(1)
	p.g.sizes <- p.Len()
	if p.g.onExec != nil {
		p.g.onExec(ctx)
	}
	if p.g.holdPipe.Load() {
		p.g.inPipe <- struct{}{}
		<-p.g.pipeGate
	}
	return p.Pipeliner.Exec(ctx)
}

// waitQueued waits until n commands are queued.
func waitQueued(t *testing.T, c *Coalescer, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c.mu.Lock()
		got := len(c.queue)
		c.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d commands queued; want %d", got, n)
		}
		time.Sleep(time.Millisecond) // polling a condition, not timing
	}
}

// waitIdle waits until c has no write in flight and nothing queued, as it
// must soon after every call returned: the goroutine that sent the last
// write frees its slot after it wakes the callers.
func waitIdle(t *testing.T, c *Coalescer) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c.mu.Lock()
		inflight, queued := c.inflight, len(c.queue)
		c.mu.Unlock()
		if inflight == 0 && queued == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes in flight, %d queued, 10s after every call returned; want 0 and 0", inflight, queued)
		}
		time.Sleep(time.Millisecond) // polling a condition, not timing
	}
}

// One caller at a time sends plain commands, on its own goroutine: no
// pipeline, nothing queued.
func TestOneCallerSendsPlainCommands(t *testing.T) {
	g, mr := newGated(t)
	c := New(g, 2)
	ctx := context.Background()
	for i := range 100 {
		if err := c.Do(ctx, redis.NewStatusCmd(ctx, "set", fmt.Sprint("k", i), i)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := g.processed.Load(), int64(100); got != want {
		t.Errorf("plain commands = %d; want %d", got, want)
	}
	if got := g.pipelines.Load(); got != 0 {
		t.Errorf("pipelines = %d; want 0", got)
	}
	if got := mr.DB(0).Keys(); len(got) != 100 {
		t.Errorf("%d keys stored; want 100", len(got))
	}
}

// While the limit of writes is in flight, commands queue; when a write
// ends, all of them go out in one pipeline, and each caller gets its own
// reply or error.
func TestQueuedCommandsShareOnePipeline(t *testing.T) {
	for _, limit := range []int{1, 2, 3} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			g, mr := newGated(t)
			mr.Set("k", "v")
			mr.HSet("h", "f", "v")
			g.hold.Store(true)
			c := New(g, limit)
			ctx := context.Background()
			var wg sync.WaitGroup
			for range limit { // these take every write slot, and wait at the gate
				wg.Go(func() {
					if err := c.Do(ctx, redis.NewStringCmd(ctx, "get", "k")); err != nil {
						t.Error(err)
					}
				})
				<-g.entered
			}
			const queued = 30
			type result struct {
				i   int
				val string
				err error
			}
			results := make(chan result, queued)
			for i := range queued {
				wg.Go(func() {
					key := []string{"k", "missing", "h"}[i%3]
					cmd := redis.NewStringCmd(ctx, "get", key)
					err := c.Do(ctx, cmd)
					results <- result{i, cmd.Val(), err}
				})
			}
			waitQueued(t, c, queued)
			held := g.processed.Load()
			g.hold.Store(false)
			close(g.gate)
			wg.Wait()
			close(results)
			for r := range results {
				switch i := r.i; {
				case i%3 == 0 && (r.err != nil || r.val != "v"):
					t.Errorf("GET k = %q, %v; want \"v\"", r.val, r.err)
				case i%3 == 1 && !errors.Is(r.err, redis.Nil):
					t.Errorf("GET missing = %q, %v; want redis.Nil", r.val, r.err)
				case i%3 == 2 && (r.err == nil || !containsWrongType(r.err)):
					t.Errorf("GET h = %q, %v; want WRONGTYPE", r.val, r.err)
				}
			}
			close(g.sizes)
			plain := int(g.processed.Load() - held) // leaders that found no one behind them
			writes, total := plain, plain
			for size := range g.sizes {
				total += size
				writes++
			}
			if total != queued || writes > limit {
				t.Errorf("%d writes carried %d queued commands; want at most %d carrying %d", writes, total, limit, queued)
			}
		})
	}
}

func containsWrongType(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.HasPrefix(rerr.Error(), "WRONGTYPE")
}

// holdOneWrite starts a write of the key "first" on c, the only one its
// limit of 1 lets in flight, and returns once it is held at g's gate.
func holdOneWrite(t *testing.T, g *gated, c *Coalescer, wg *sync.WaitGroup) {
	t.Helper()
	g.hold.Store(true)
	ctx := context.Background()
	wg.Go(func() {
		if err := c.Do(ctx, redis.NewStatusCmd(ctx, "set", "first", "1")); err != nil {
			t.Error(err)
		}
	})
	<-g.entered
}

// A caller that stops waiting while its command is queued gets its
// context's error at once, and its command is left out of the write.
func TestAbandonedCommandIsNotSent(t *testing.T) {
	g, mr := newGated(t)
	c := New(g, 1)
	ctx := context.Background()
	var wg sync.WaitGroup
	holdOneWrite(t, g, c, &wg)
	cctx, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error)
	go func() { gaveUp <- c.Do(cctx, redis.NewStatusCmd(cctx, "set", "abandoned", "1")) }()
	waitQueued(t, c, 1)
	wg.Go(func() {
		if err := c.Do(ctx, redis.NewStatusCmd(ctx, "set", "after", "1")); err != nil {
			t.Error(err)
		}
	})
	waitQueued(t, c, 2)
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Errorf("Do after its context was cancelled = %v; want context.Canceled", err)
	}
	g.hold.Store(false)
	close(g.gate)
	wg.Wait()
	if mr.Exists("abandoned") {
		t.Error("the command of a caller that stopped waiting before its write was sent")
	}
	if !mr.Exists("first") || !mr.Exists("after") {
		t.Errorf("keys %v; want first and after", mr.DB(0).Keys())
	}
	waitIdle(t, c)
}

// A caller whose context ends while its command is in a write returns at
// once, with its context's error; the others in the write get their
// replies, and its own command may still run, as documented.
func TestCallerGivesUpDuringItsWrite(t *testing.T) {
	g, mr := newGated(t)
	c := New(g, 1)
	ctx := context.Background()
	var wg sync.WaitGroup
	holdOneWrite(t, g, c, &wg)
	gctx, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error)
	go func() { gaveUp <- c.Do(gctx, redis.NewStatusCmd(gctx, "set", "gave-up", "1")) }()
	waitQueued(t, c, 1)
	const others = 10
	for i := range others {
		wg.Go(func() {
			if err := c.Do(ctx, redis.NewStatusCmd(ctx, "set", fmt.Sprint("other", i), "1")); err != nil {
				t.Errorf("other %d: %v", i, err)
			}
		})
	}
	waitQueued(t, c, 1+others)
	g.holdPipe.Store(true)
	g.hold.Store(false)
	close(g.gate)
	<-g.inPipe // the queue's write has begun, and is held
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Errorf("Do whose context ended during its write = %v; want context.Canceled", err)
	}
	close(g.pipeGate)
	wg.Wait()
	for i := range others {
		if !mr.Exists(fmt.Sprint("other", i)) {
			t.Errorf("other%d was not written", i)
		}
	}
	if !mr.Exists("gave-up") {
		t.Error("the command whose caller gave up during its write did not run; the write was already under way")
	}
}

// Under many callers with random cancellations, every call returns, each
// with its own reply, and the Coalescer ends empty (run with -race).
func TestManyCallers(t *testing.T) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	for _, limit := range []int{1, 2, 8} {
		c := New(client, limit)
		var wg sync.WaitGroup
		for w := range 64 {
			wg.Go(func() {
				key := fmt.Sprint("w", w)
				var last int64 // the last count an INCR answered
				for i := range 50 {
					ctx, cancel := context.Background(), context.CancelFunc(func() {})
					if (w+i)%7 == 0 {
						ctx, cancel = context.WithTimeout(ctx, time.Duration(i%3)*time.Microsecond)
					}
					incr := redis.NewIntCmd(ctx, "incr", key)
					err := c.Do(ctx, incr)
					cancel()
					switch {
					case err == nil && incr.Val() <= last:
						t.Errorf("INCR %s = %d after %d; want more", key, incr.Val(), last)
						return
					case err == nil:
						last = incr.Val()
					case !errors.Is(err, context.DeadlineExceeded):
						t.Errorf("INCR %s: %v", key, err)
						return
					}
					get := redis.NewIntCmd(context.Background(), "get", key)
					err = c.Do(context.Background(), get)
					if errors.Is(err, redis.Nil) && last == 0 {
						continue // every INCR so far was abandoned
					}
					if err != nil || get.Val() < last {
						t.Errorf("GET %s = %d, %v; want at least %d", key, get.Val(), err, last)
						return
					}
				}
			})
		}
		wg.Wait()
		waitIdle(t, c)
	}
}

// A queue's pipeline goes out with the values of its first caller's
// context (its trace, say), and the latest of the callers' deadlines, or
// none when one of them has none.
func TestBatchContext(t *testing.T) {
	type key struct{}
	for _, tc := range []struct {
		name         string
		secondExpiry time.Duration // 0: no deadline
		wantDeadline bool
	}{
		{"every caller has a deadline", 2 * time.Hour, true},
		{"one caller has none", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := newGated(t)
			c := New(g, 1)
			var gotValue atomic.Value
			var gotDeadline atomic.Value
			g.onExec = func(ctx context.Context) {
				gotValue.Store(fmt.Sprint(ctx.Value(key{})))
				d, ok := ctx.Deadline()
				gotDeadline.Store([2]any{d, ok})
			}
			ctx := context.Background()
			var wg sync.WaitGroup
			holdOneWrite(t, g, c, &wg)
			first, cancel := context.WithTimeout(context.WithValue(ctx, key{}, "first's"), time.Hour)
			defer cancel()
			wg.Go(func() { _ = c.Do(first, redis.NewStatusCmd(first, "set", "a", "1")) })
			waitQueued(t, c, 1)
			second := ctx
			var want time.Time
			if tc.secondExpiry > 0 {
				var cancel context.CancelFunc
				second, cancel = context.WithTimeout(ctx, tc.secondExpiry)
				defer cancel()
				want, _ = second.Deadline()
			}
			wg.Go(func() { _ = c.Do(second, redis.NewStatusCmd(second, "set", "b", "1")) })
			waitQueued(t, c, 2)
			g.hold.Store(false)
			close(g.gate)
			wg.Wait()
			if gotValue.Load() != "first's" {
				t.Errorf("the pipeline's context carried %v; want the first caller's value", gotValue.Load())
			}
			d := gotDeadline.Load().([2]any)
			if d[1].(bool) != tc.wantDeadline || (tc.wantDeadline && !d[0].(time.Time).Equal(want)) {
				t.Errorf("the pipeline's deadline = %v (%v); want %v (%v)", d[0], d[1], want, tc.wantDeadline)
			}
		})
	}
}

// A hook that panics while a queue's pipeline is sent fails the commands
// in it with an error, and the Coalescer goes on.
func TestPanicWhileSendingFailsTheBatch(t *testing.T) {
	g, _ := newGated(t)
	c := New(g, 1)
	g.onExec = func(context.Context) { panic("a hook's bug") }
	ctx := context.Background()
	var wg sync.WaitGroup
	holdOneWrite(t, g, c, &wg)
	errs := make(chan error, 2)
	for range 2 {
		wg.Go(func() { errs <- c.Do(ctx, redis.NewStatusCmd(ctx, "set", "x", "1")) })
	}
	waitQueued(t, c, 2)
	g.hold.Store(false)
	close(g.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err == nil || !strings.Contains(err.Error(), "panic while sending: a hook's bug") {
			t.Errorf("Do in a pipeline whose hook panicked = %v; want the panic as an error", err)
		}
	}
	g.onExec = nil
	if err := c.Do(ctx, redis.NewStatusCmd(ctx, "set", "after", "1")); err != nil {
		t.Errorf("Do after the panic: %v", err)
	}
}

// A panic in a plain command's Process (a hook's) reaches its caller and
// frees the write slot.
func TestPanicInAPlainCommandFreesTheSlot(t *testing.T) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	client.AddHook(panicOn("boom"))
	c := New(client, 1)
	ctx := context.Background()
	for range 3 {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Error("the hook's panic did not reach the caller")
				}
			}()
			_ = c.Do(ctx, redis.NewStringCmd(ctx, "get", "boom"))
		}()
	}
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Do(tctx, redis.NewStringCmd(tctx, "get", "other")); !errors.Is(err, redis.Nil) {
		t.Errorf("Do after three panics = %v; want redis.Nil", err)
	}
}

// panicOn is a go-redis hook that panics on a command whose first key is
// key.
type panicOn string

func (panicOn) DialHook(next redis.DialHook) redis.DialHook { return next }
func (p panicOn) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if len(cmd.Args()) > 1 && cmd.Args()[1] == string(p) {
			panic("hook")
		}
		return next(ctx, cmd)
	}
}
func (panicOn) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// nopSender answers every command at once, without a server: what is left
// of a call is the Coalescer's own cost.
type nopSender struct{ redis.Pipeliner }

func (nopSender) Process(context.Context, redis.Cmder) error { return nil }
func (n nopSender) Pipeline() redis.Pipeliner                { return n.Pipeliner }

// The cost one caller pays for the Coalescer, against a plain call, with no
// round trip to hide it (a round trip on loopback takes 30 to 80 µs).
func BenchmarkOneCaller(b *testing.B) {
	ctx := context.Background()
	cmd := redis.NewStringCmd(ctx, "get", "k")
	b.Run("plain", func(b *testing.B) {
		s := nopSender{}
		b.ReportAllocs()
		for b.Loop() {
			_ = s.Process(ctx, cmd)
		}
	})
	b.Run("coalescer", func(b *testing.B) {
		c := New(nopSender{}, 2)
		b.ReportAllocs()
		for b.Loop() {
			_ = c.Do(ctx, cmd)
		}
	})
}
