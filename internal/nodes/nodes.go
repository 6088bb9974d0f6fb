// Package nodes finds the servers that hold a go-redis client's keys, for
// the walks over every key (SCAN) of the store and of the command-line
// tool.
package nodes

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Masters returns a client on every master of a cluster or every live shard
// of a ring, sorted by address, and nil for any other client, which holds
// every key itself.
func Masters(ctx context.Context, c redis.UniversalClient) ([]*redis.Client, error) {
	var (
		mu    sync.Mutex
		found []*redis.Client
	)
	collect := func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		found = append(found, c)
		mu.Unlock()
		return nil
	}
	var err error
	switch c := c.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, collect)
	case *redis.Ring:
		err = c.ForEachShard(ctx, collect)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(found, func(a, b *redis.Client) int { return strings.Compare(a.Options().Addr, b.Options().Addr) })
	return found, nil
}

// Slots returns each cluster master's own view of its id, flags, config
// epoch and slots, including slots being migrated or imported ("[…]"), so
// that two equal results with no "[" mean that no key moved between
// masters in between.
func Slots(ctx context.Context, masters []redis.Cmdable) (string, error) {
	var b strings.Builder
	for _, n := range masters {
		out, err := n.ClusterNodes(ctx).Result()
		if err != nil {
			return "", err
		}
		for line := range strings.SplitSeq(out, "\n") {
			f := strings.Fields(line)
			if len(f) >= 8 && strings.Contains(f[2], "myself") {
				// id, flags, config epoch, slots; not the ping times.
				b.WriteString(strings.Join(append([]string{f[0], f[2], f[6]}, f[8:]...), " "))
				b.WriteByte('\n')
			}
		}
	}
	return b.String(), nil
}
