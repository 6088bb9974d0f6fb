package typedstore

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore/internal/nodes"
)

// isSingleServer reports whether client talks to one server (or a Sentinel
// group's master), where one multi-key command may carry keys of any slot.
// A cluster or a ring spreads keys over nodes, so its multi-key reads and
// deletes go out as pipelines of single-key commands, which the client
// routes to the node that owns each key.
func isSingleServer(client redis.UniversalClient) bool {
	_, ok := client.(*redis.Client)
	return ok
}

// hasClientSideCache reports whether client has go-redis's client-side
// cache, which a single server's client may have.
func hasClientSideCache(client redis.UniversalClient) bool {
	c, ok := client.(*redis.Client)
	return ok && (c.Options().ClientSideCacheConfig != nil || c.Options().ClientSideCache != nil)
}

// del deletes keys and returns how many existed: in one UNLINK where a
// multi-key command is allowed, else as a pipeline of single-key UNLINKs
// routed by the client.
func (s *Store[T]) del(ctx context.Context, keys []string) (int, error) {
	switch {
	case len(keys) == 0:
		return 0, nil
	case len(keys) == 1:
		cmd := redis.NewIntCmd(ctx, "unlink", keys[0])
		if err := s.do(ctx, cmd); err != nil {
			return 0, err
		}
		return int(cmd.Val()), nil
	case s.multiKey:
		n, err := s.client.Unlink(ctx, keys...).Result()
		return int(n), err
	}
	cmds := make([]*redis.IntCmd, len(keys))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Unlink(ctx, k)
		}
		return nil
	})
	n := 0
	for _, c := range cmds {
		n += int(c.Val())
	}
	return n, err
}

// nodes returns the clients to scan: every master of a cluster, every live
// shard of a ring, or the client itself.
func (s *Store[T]) nodes(ctx context.Context) ([]redis.Cmdable, error) {
	masters, err := nodes.Masters(ctx, s.client)
	if err != nil {
		return nil, s.wrapErr(ctx, "list nodes", err)
	}
	if masters == nil {
		return []redis.Cmdable{s.client}, nil
	}
	out := make([]redis.Cmdable, len(masters))
	for i, n := range masters {
		out[i] = n
	}
	return out, nil
}

// maxScanPasses bounds how many times scanKeys scans a cluster whose slots
// move while it scans.
const maxScanPasses = 5

// topology returns, for a cluster, each master's own view of its id, config
// epoch and slots, including slots being migrated or imported ("[…]"), so
// that two equal results with no "[" mean that no key moved between masters
// in between. For a single server or a ring it returns "".
func (s *Store[T]) topology(ctx context.Context, masters []redis.Cmdable) (string, error) {
	if _, ok := s.client.(*redis.ClusterClient); !ok {
		return "", nil
	}
	t, err := nodes.Slots(ctx, masters)
	return t, s.wrapErr(ctx, "cluster nodes", err)
}

// reloadOnNetError asks a cluster client to reload its slot map after an
// error that is not a reply from Redis (a refused or broken connection) nor
// the context's. A master that died sends no MOVED reply, and go-redis
// (v9.22 and later) otherwise goes on routing its slots to the dead address
// until its slot map is ClusterStateReloadInterval old, 60 s by default
// (redis/go-redis#3979). The reload is asynchronous and go-redis runs at
// most one at a time, so a burst of errors costs one CLUSTER SLOTS.
func (s *Store[T]) reloadOnNetError(err error) {
	c, ok := s.client.(*redis.ClusterClient)
	if !ok || err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		return
	}
	c.ReloadState(context.Background())
}
