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
	"sync"
	"sync/atomic"

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

// A call is one queued command and its caller's wake-up.
type call struct {
	cmd   redis.Cmder
	state atomic.Int32
	ready chan struct{} // one token: done, or made the leader
}

// The states of a call. A call leaves waiting exactly once, by a
// compare-and-swap, so that its caller giving up and its command being
// answered (or its caller being made the leader) never both happen.
const (
	waiting   int32 = iota
	leading         // its caller sends the queue, itself included
	answered        // its command has its reply
	abandoned       // its caller stopped waiting; whoever holds it recycles it
)

var calls = sync.Pool{New: func() any { return &call{ready: make(chan struct{}, 1)} }}

// Do sends cmd and waits for its reply, no longer than ctx allows; it
// returns cmd's error. A command whose caller stopped waiting after it was
// queued is left out of the pipeline unless that was already on its way.
//
// The caller that finds the limit of writes in flight queues its command.
// When a write ends, its caller takes the first caller waiting off the
// queue and hands it the write, which sends its command with the rest of
// the queue (every command that arrived meanwhile) as one pipeline: the
// work of sending moves among the callers, and no goroutine of the
// Coalescer's own runs.
func (c *Coalescer) Do(ctx context.Context, cmd redis.Cmder) error {
	c.mu.Lock()
	if c.inflight < c.limit {
		c.inflight++
		c.mu.Unlock()
		err := c.client.Process(ctx, cmd)
		c.next()
		return err
	}
	k := calls.Get().(*call)
	k.cmd = cmd
	k.state.Store(waiting)
	c.queue = append(c.queue, k)
	c.mu.Unlock()

	select {
	case <-k.ready:
	case <-ctx.Done():
		if k.state.CompareAndSwap(waiting, abandoned) {
			return ctx.Err()
		}
		<-k.ready // answered or made the leader meanwhile: its token is on the way
	}
	if k.state.Load() == leading {
		c.lead(ctx, k)
	}
	k.cmd = nil
	calls.Put(k)
	return cmd.Err()
}

// lead sends me with every command queued behind it as one pipeline (or me
// alone as a plain command), wakes the callers it answered, and passes the
// write slot on.
func (c *Coalescer) lead(ctx context.Context, me *call) {
	c.mu.Lock()
	batch := c.queue
	c.queue, c.spare = c.spare, nil
	c.mu.Unlock()

	// The write is made for every caller in it, so no one caller's
	// deadline or cancellation may cut it short; the values of ctx (a
	// trace, say) are kept.
	ctx = context.WithoutCancel(ctx)
	if len(batch) == 0 {
		_ = c.client.Process(ctx, me.cmd)
	} else {
		pipe := c.client.Pipeline()
		_ = pipe.Process(ctx, me.cmd)
		for _, k := range batch {
			if k.state.Load() != abandoned {
				_ = pipe.Process(ctx, k.cmd)
			}
		}
		// Each command carries its own error, which its caller returns.
		_, _ = pipe.Exec(ctx)
	}
	for i, k := range batch {
		batch[i] = nil
		if k.state.CompareAndSwap(waiting, answered) {
			k.ready <- struct{}{}
		} else { // abandoned
			k.cmd = nil
			calls.Put(k)
		}
	}
	c.mu.Lock()
	if c.spare == nil {
		c.spare = batch[:0]
	}
	c.mu.Unlock()
	c.next()
}

// next ends a write: it takes the first caller still waiting off the queue
// and makes it the leader of the next write, which keeps the slot, or
// frees the slot when no one waits.
func (c *Coalescer) next() {
	c.mu.Lock()
	for len(c.queue) > 0 {
		k := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		if k.state.CompareAndSwap(waiting, leading) {
			c.mu.Unlock()
			k.ready <- struct{}{}
			return
		}
		// Abandoned before it was sent: drop it.
		k.cmd = nil
		calls.Put(k)
	}
	c.inflight--
	c.mu.Unlock()
}
