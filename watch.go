package typedstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotificationsOff is wrapped by the error of [Store.WatchExpired] when a
// server says that it does not publish expired-key notifications.
var ErrNotificationsOff = errors.New("typedstore: the server does not publish expired-key events: set notify-keyspace-events to include E and x (CONFIG SET notify-keyspace-events Ex, or the parameter group of a managed Redis)")

// WatchRefresh is how often [Store.WatchExpired] lists the masters of a
// cluster or the shards of a ring again, to subscribe to new ones.
const WatchRefresh = 5 * time.Second

// WatchExpired reports each session that Redis expires to
// [Hooks.Event], as an [EventExpired], until ctx is done, and then returns
// nil. Run it in a goroutine of its own. It subscribes to the
// expired-key events (__keyevent@<db>__:expired) of the server, or of
// every master of a cluster or every shard of a ring, and lists those
// every [WatchRefresh] to subscribe to the masters a failover or a
// resharding brings; Event is then called from one goroutine per server,
// and a panic in it ends the watch and goes up through WatchExpired, in
// the caller's goroutine.
//
// The events are best effort, as Redis's are, and nothing in the store
// needs them: Redis publishes an expiry when it reclaims the key, which
// can be later than the key's expiry; it sends nothing to a redis.UniversalClient
// that is not connected (a watcher starting, reconnecting, or between a
// failover and the next refresh), and nothing is kept for later. Use them
// for metrics and audit trails, never to release something that must be
// released.
//
// Redis publishes no such events unless notify-keyspace-events includes E
// and x (or A). WatchExpired never changes a server's configuration: it
// reads it with CONFIG GET and returns an error wrapping
// [ErrNotificationsOff] when a server has them off. Where CONFIG is
// blocked (many managed services rename or forbid it), it cannot tell, and
// subscribes anyway: set the option in the service's settings, or it
// reports nothing. It returns an error at once when no Event hook is set,
// and when the first listing of the servers, or a first subscription,
// fails (a server cannot be reached, say), unless ctx is done by then.
func (s *Store[T]) WatchExpired(ctx context.Context) error {
	if s.hooks == nil || s.hooks.Event == nil {
		return errors.New("typedstore: watch expired: Options.Hooks.Event is not set: there is nothing to report expiries to")
	}
	w := &watcher[T]{s: s, subs: map[string]context.CancelFunc{}, panicked: make(chan any, 1)}
	defer w.stop()
	servers, err := w.servers(ctx)
	if err == nil {
		for _, c := range servers {
			if err = w.subscribe(ctx, c); err != nil {
				break
			}
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil // ended before it began
		}
		return err
	}
	var refresh <-chan time.Time
	if len(servers) != 1 || servers[0] != s.client {
		t := time.NewTicker(WatchRefresh)
		defer t.Stop()
		refresh = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case v := <-w.panicked:
			w.stop()
			panic(v) // the Event hook's, carried over to the caller
		case <-refresh:
		}
		servers, err := w.servers(ctx)
		if err != nil {
			continue // the cluster is in trouble; keep the subscriptions, try again later
		}
		live := map[string]bool{}
		for _, c := range servers {
			live[addrOf(c)] = true
			if err := w.subscribe(ctx, c); err != nil && errors.Is(err, ErrNotificationsOff) {
				return err
			}
		}
		w.drop(live)
	}
}

// watcher holds WatchExpired's subscriptions, one per server address.
type watcher[T any] struct {
	s    *Store[T]
	mu   sync.Mutex
	subs map[string]context.CancelFunc
	wg   sync.WaitGroup
	// panicked carries a panic of the Event hook from a subscription's
	// goroutine to WatchExpired's.
	panicked chan any
}

// servers returns the clients to subscribe on: every master or shard, or
// the store's client itself (a single server, or a Sentinel group's
// master, which go-redis follows through failovers).
func (w *watcher[T]) servers(ctx context.Context) ([]redis.UniversalClient, error) {
	nodes, err := w.s.nodes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]redis.UniversalClient, 0, len(nodes))
	for _, n := range nodes {
		if c, ok := n.(redis.UniversalClient); ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// addrOf names a server's client.
func addrOf(c redis.UniversalClient) string {
	if rc, ok := c.(*redis.Client); ok {
		return rc.Options().Addr
	}
	return fmt.Sprintf("%p", c)
}

// subscribe starts reporting the expiries of c's server, unless it already
// does.
func (w *watcher[T]) subscribe(ctx context.Context, c redis.UniversalClient) error {
	addr := addrOf(c)
	w.mu.Lock()
	_, ok := w.subs[addr]
	w.mu.Unlock()
	if ok {
		return nil
	}
	if err := notificationsOn(ctx, c); err != nil {
		return fmt.Errorf("typedstore: watch expired: %s: %w", addr, err)
	}
	db := 0
	if rc, ok := c.(*redis.Client); ok {
		db = rc.Options().DB
	}
	channel := fmt.Sprintf("__keyevent@%d__:expired", db)
	sub := c.Subscribe(ctx, channel)
	if _, err := sub.Receive(ctx); err != nil { // the subscription's confirmation
		sub.Close()
		return w.s.wrapErr(ctx, "watch expired: subscribe", err)
	}
	sctx, cancel := context.WithCancel(ctx)
	w.mu.Lock()
	w.subs[addr] = cancel
	w.mu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer sub.Close()
		defer func() {
			if v := recover(); v != nil {
				select {
				case w.panicked <- v:
				default: // another subscription's panic is on its way
				}
			}
		}()
		ch := sub.Channel()
		p := probe{h: w.s.hooks}
		for {
			select {
			case <-sctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				if id, ok := strings.CutPrefix(m.Payload, w.s.opts.Prefix); ok && id != "" {
					p.event(sctx, id, Event{Kind: EventExpired})
				}
			}
		}
	}()
	return nil
}

// drop ends the subscriptions to servers that are no longer in live.
func (w *watcher[T]) drop(live map[string]bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for addr, cancel := range w.subs {
		if !live[addr] {
			cancel()
			delete(w.subs, addr)
		}
	}
}

// stop ends every subscription and waits for their goroutines.
func (w *watcher[T]) stop() {
	w.drop(nil)
	w.wg.Wait()
}

// notificationsOn returns an error wrapping ErrNotificationsOff when the
// server says it publishes no expired-key events, and nil when it publishes
// them or will not say (CONFIG blocked).
func notificationsOn(ctx context.Context, c redis.Cmdable) error {
	cfg, err := c.ConfigGet(ctx, "notify-keyspace-events").Result()
	if err != nil {
		var reply redis.Error
		if errors.As(err, &reply) {
			return nil // CONFIG renamed or forbidden: the server will not say
		}
		return err
	}
	flags := cfg["notify-keyspace-events"]
	if strings.Contains(flags, "E") && (strings.Contains(flags, "x") || strings.Contains(flags, "A")) {
		return nil
	}
	return fmt.Errorf("%w (it has %q)", ErrNotificationsOff, flags)
}
