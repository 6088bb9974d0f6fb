// Package pipeline coalesces the single commands of concurrent callers into
// pipelines, adapting to the load: a command sent while few others are in
// flight goes out at once, on the caller's goroutine, as a plain call
// would; one sent while the limit of writes is in flight waits, with every
// other command that arrives meanwhile, for the next write, which carries
// them all as one pipeline. So one caller pays nothing, and many callers
// share round trips and system calls, as node-redis shares its one
// connection.
package pipeline

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sender is the part of a go-redis client a Coalescer uses: every
// redis.UniversalClient is one.
type Sender interface {
	Process(ctx context.Context, cmd redis.Cmder) error
	Pipeline() redis.Pipeliner
}

// A Coalescer sends commands through its Sender, at most limit writes at a
// time. Its zero value is not usable: call New.
type Coalescer struct {
	client Sender
	limit  int

	mu       sync.Mutex
	inflight int     // writes under way, direct or pipelined; at most limit
	queue    []*call // commands waiting for the next write; empty while inflight < limit
	spare    []*call // a drained queue's array, for the next one
}

// New returns a Coalescer that has at most limit writes in flight (at
// least 1).
func New(client Sender, limit int) *Coalescer {
	return &Coalescer{client: client, limit: max(limit, 1)}
}

// Limit returns how many writes c has in flight before commands queue.
func (c *Coalescer) Limit() int { return c.limit }

// A call is one queued command and its caller's wake-up.
type call struct {
	ctx   context.Context
	cmd   redis.Cmder
	state atomic.Int32
	ready chan struct{} // one token, once the command has its reply
}

// The states of a call. Each move is a compare-and-swap, so that a caller
// giving up and its command being sent or answered never both win.
const (
	waiting   int32 = iota // queued
	sending                // in a write that is under way
	answered               // its command has its reply
	abandoned              // its caller stopped waiting; whoever holds it recycles it
)

var calls = sync.Pool{New: func() any { return &call{ready: make(chan struct{}, 1)} }}

// Do sends cmd and waits for its reply, no longer than ctx allows, and
// returns cmd's error.
//
// While fewer than the limit of writes are in flight, cmd goes out at once
// as a plain command, on the caller's goroutine and under ctx. Otherwise it
// is queued, and when a write ends, a goroutine of the Coalescer's own
// takes over its slot and sends the whole queue as one pipeline, and the
// next queue after that, while one forms behind each write: the caller
// whose write ended returns at once, the queued ones wake once, answered,
// and the Coalescer's goroutine runs only while there is a queue.
//
// A queued command whose caller gives up before its write begins is left
// out of it. One whose caller gives up during the write may still run, as
// a plain command whose deadline passes while it waits for its reply may:
// later, even, than a command the caller sends next. When Do returns ctx's
// error, the write may still fill in cmd, so the caller must not read it.
func (c *Coalescer) Do(ctx context.Context, cmd redis.Cmder) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	if c.inflight < c.limit {
		c.inflight++
		c.mu.Unlock()
		defer c.next() // even if a hook panics
		return c.client.Process(ctx, cmd)
	}
	k := calls.Get().(*call)
	k.ctx, k.cmd = ctx, cmd
	k.state.Store(waiting)
	c.queue = append(c.queue, k)
	c.mu.Unlock()

	select {
	case <-k.ready:
	case <-ctx.Done():
		if k.state.CompareAndSwap(waiting, abandoned) || k.state.CompareAndSwap(sending, abandoned) {
			return ctx.Err()
		}
		<-k.ready // answered meanwhile: its token is on the way
	}
	recycle(k)
	return cmd.Err()
}

// next ends a write. While commands are queued, it sends them, as one
// pipeline per write, on a goroutine that keeps the write slot, so that
// the caller whose write ended returns at once; when none are, it frees
// the slot.
func (c *Coalescer) next() {
	if batch := c.take(); batch != nil {
		go c.drain(batch)
	}
}

// take returns the queue, its calls marked as sending and those abandoned
// dropped, or frees the write slot and returns nil when none is left.
func (c *Coalescer) take() []*call {
	c.mu.Lock()
	defer c.mu.Unlock()
	batch := c.queue
	c.queue, c.spare = c.spare, nil
	kept := batch[:0]
	for _, k := range batch {
		if k.state.CompareAndSwap(waiting, sending) {
			kept = append(kept, k)
		} else { // abandoned before its write began
			recycle(k)
		}
	}
	clear(batch[len(kept):])
	if len(kept) == 0 {
		c.spare = batch[:0]
		c.inflight--
		return nil
	}
	return kept
}

// drain sends batch, then every queue that forms meanwhile, until none
// has.
func (c *Coalescer) drain(batch []*call) {
	for batch != nil {
		c.send(batch)
		c.mu.Lock()
		if c.spare == nil {
			c.spare = batch[:0]
		}
		c.mu.Unlock()
		batch = c.take()
	}
}

// send writes batch as one pipeline and wakes the callers still waiting.
// The pipeline runs under the values of the first caller's context (its
// trace, say) and the latest of the callers' deadlines, none if one has
// none: each caller still gives up at its own.
func (c *Coalescer) send(batch []*call) {
	ctx := context.WithoutCancel(batch[0].ctx)
	if last, ok := latestDeadline(batch); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, last)
		defer cancel()
	}
	func() {
		defer func() {
			// A hook that panics fails the batch instead of the process:
			// there is no caller on this goroutine to hand the panic to.
			if r := recover(); r != nil {
				err := fmt.Errorf("pipeline: panic while sending: %v", r)
				for _, k := range batch {
					k.cmd.SetErr(err)
				}
			}
		}()
		pipe := c.client.Pipeline()
		for _, k := range batch {
			_ = pipe.Process(ctx, k.cmd)
		}
		// Each command carries its own error, which its caller returns.
		_, _ = pipe.Exec(ctx)
	}()
	for i, k := range batch {
		batch[i] = nil
		if k.state.CompareAndSwap(sending, answered) {
			k.ready <- struct{}{}
		} else { // its caller gave up during the write
			recycle(k)
		}
	}
}

// latestDeadline returns the latest deadline of the calls' contexts, and
// false when one of them has none.
func latestDeadline(batch []*call) (time.Time, bool) {
	var last time.Time
	for _, k := range batch {
		d, ok := k.ctx.Deadline()
		if !ok {
			return time.Time{}, false
		}
		if d.After(last) {
			last = d
		}
	}
	return last, true
}

// recycle returns k to the pool, holding nothing of its caller's.
func recycle(k *call) {
	k.ctx, k.cmd = nil, nil
	calls.Put(k)
}
