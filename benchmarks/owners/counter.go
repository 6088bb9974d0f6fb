package main

import (
	"context"
	"net"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore/benchmarks/internal/harness"
)

// counter is a go-redis hook that counts the round trips a client makes (a
// command, or a pipeline of them) and the commands it sends, by name. The
// connection set-up commands (HELLO, CLIENT SETINFO, …) are left out, as
// from the server's counts. It allocates nothing per command for the names
// it knows beforehand.
type counter struct {
	trips atomic.Int64
	known map[string]*atomic.Int64 // read-only after newCounter
	mu    sync.Mutex
	other map[string]int64
}

// knownNames are the commands the benchmark's calls send.
var knownNames = []string{
	"get", "getex", "set", "pexpire", "evalsha", "eval", "mget", "scan",
	"zscan", "unlink", "del", "zadd", "type",
}

func newCounter() *counter {
	c := &counter{known: map[string]*atomic.Int64{}, other: map[string]int64{}}
	for _, n := range knownNames {
		c.known[n] = new(atomic.Int64)
	}
	return c
}

func (c *counter) count(name string) {
	if n, ok := c.known[name]; ok {
		n.Add(1)
		return
	}
	c.mu.Lock()
	c.other[name]++
	c.mu.Unlock()
}

func (c *counter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return next(ctx, network, addr)
	}
}

func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); !harness.AdminCommand(name) {
			c.trips.Add(1)
			c.count(name)
		}
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		counted := false
		for _, cmd := range cmds {
			if name := cmd.Name(); !harness.AdminCommand(name) {
				c.count(name)
				counted = true
			}
		}
		if counted {
			c.trips.Add(1)
		}
		return next(ctx, cmds)
	}
}

// tally is a snapshot of a counter.
type tally struct {
	trips int64
	sent  map[string]int64
}

func (c *counter) snapshot() tally {
	t := tally{trips: c.trips.Load(), sent: map[string]int64{}}
	for name, n := range c.known {
		if v := n.Load(); v > 0 {
			t.sent[name] = v
		}
	}
	c.mu.Lock()
	for name, n := range c.other {
		t.sent[name] += n
	}
	c.mu.Unlock()
	return t
}

// since returns t - before.
func (t tally) since(before tally) tally {
	return tally{trips: t.trips - before.trips, sent: harness.DiffCalls(before.sent, t.sent)}
}

// hookedClient returns a client of the private server that counts with c.
func hookedClient(addr string, c *counter) *redis.Client {
	client := redis.NewClient(&redis.Options{Addr: addr})
	client.AddHook(c)
	return client
}
