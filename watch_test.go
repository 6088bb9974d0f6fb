package typedstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/leakcheck"
	"github.com/typedstore/typedstore/internal/redistest"
)

// expiredChannel is where a server publishes the expiries of database 0.
const expiredChannel = "__keyevent@0__:expired"

// watched starts WatchExpired on s in a goroutine and returns the channel
// of its events and a function that stops it and returns its error.
func watched(t *testing.T, client redis.UniversalClient, prefix string) (*typedstore.Store[session], <-chan typedstore.Event, func() error) {
	t.Helper()
	events := make(chan typedstore.Event, 1000)
	s, err := typedstore.New(client, typedstore.Options[session]{Prefix: prefix, Hooks: typedstore.Hooks{
		Event: func(_ context.Context, e typedstore.Event) { events <- e },
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.WatchExpired(ctx) }()
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(10 * time.Second):
				stopErr = errors.New("WatchExpired did not return within 10 s of its context's end")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { stop() })
	return s, events, stop
}

// waitSubscribed waits until every client has a subscriber on the
// expired channel, and fails the test if that takes longer than within.
func waitSubscribed(t *testing.T, within time.Duration, clients ...*redis.Client) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, c := range clients {
		for {
			n, err := c.PubSubNumSub(context.Background(), expiredChannel).Result()
			if err == nil && n[expiredChannel] > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no subscriber on %s after %v (err %v)", c.Options().Addr, within, err)
			}
			time.Sleep(10 * time.Millisecond) // polling a condition, with a deadline
		}
	}
}

// expiries collects the hints of n EventExpired from events, failing the
// test after within.
func expiries(t *testing.T, events <-chan typedstore.Event, n int, within time.Duration) []string {
	t.Helper()
	var got []string
	timeout := time.After(within)
	for len(got) < n {
		select {
		case e := <-events:
			if e.Kind != typedstore.EventExpired {
				t.Errorf("event %v; want only expiries", e.Kind)
				continue
			}
			got = append(got, e.Session)
		case <-timeout:
			t.Fatalf("%d expiries reported within %v; want %d: %q", len(got), within, n, got)
		}
	}
	return got
}

func TestWatchExpired(t *testing.T) {
	leakcheck.Check(t)
	srv := redistest.Start(t, "--notify-keyspace-events", "Ex")
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { client.Close() })
	ctx := context.Background()
	prefix := redistest.UniquePrefix(t)
	_, events, stop := watched(t, client, prefix)
	waitSubscribed(t, 10*time.Second, client)
	for i := range 3 {
		client.Set(ctx, fmt.Sprintf("%ssession-number-%d", prefix, i), "{}", 50*time.Millisecond)
	}
	client.Set(ctx, "other:key", "x", 50*time.Millisecond) // not a session: not reported
	got := expiries(t, events, 3, 10*time.Second)
	for _, hint := range got {
		if !strings.HasSuffix(hint, "…\"") || strings.Contains(hint, "session-number") {
			t.Errorf("hint %s; want a hint of the id, never the id", hint)
		}
	}
	if err := stop(); err != nil {
		t.Errorf("WatchExpired returned %v after its context ended; want nil", err)
	}
	select {
	case e := <-events:
		t.Errorf("an event after the expiries of the sessions: %+v", e)
	default:
	}
}

func TestWatchExpiredRefuses(t *testing.T) {
	ctx := context.Background()
	t.Run("no Event hook", func(t *testing.T) {
		_, client, s := newMini(t, typedstore.Options[session]{})
		_ = client
		if err := s.WatchExpired(ctx); err == nil || !strings.Contains(err.Error(), "Hooks.Event") {
			t.Errorf("WatchExpired without an Event hook: %v; want an error naming Hooks.Event", err)
		}
	})
	t.Run("notifications off", func(t *testing.T) {
		srv := redistest.Start(t) // notify-keyspace-events "" by default
		client := redis.NewClient(&redis.Options{Addr: srv.Addr})
		t.Cleanup(func() { client.Close() })
		s, err := typedstore.New(client, typedstore.Options[session]{Hooks: typedstore.Hooks{Event: func(context.Context, typedstore.Event) {}}})
		if err != nil {
			t.Fatal(err)
		}
		err = s.WatchExpired(ctx)
		if !errors.Is(err, typedstore.ErrNotificationsOff) || !strings.Contains(err.Error(), "notify-keyspace-events") {
			t.Errorf("WatchExpired on a server without notifications: %v; want ErrNotificationsOff, saying what to set", err)
		}
		if flags := client.ConfigGet(ctx, "notify-keyspace-events").Val()["notify-keyspace-events"]; flags != "" {
			t.Errorf("the server's notify-keyspace-events is now %q: WatchExpired must not change it", flags)
		}
	})
}

// TestWatchExpiredWithoutConfig: where CONFIG is blocked, as on many
// managed services, the watcher cannot check the setting and subscribes
// anyway.
func TestWatchExpiredWithoutConfig(t *testing.T) {
	leakcheck.Check(t)
	srv := redistest.Start(t, "--notify-keyspace-events", "Ex", "--rename-command", "CONFIG", "")
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { client.Close() })
	prefix := redistest.UniquePrefix(t)
	_, events, _ := watched(t, client, prefix)
	waitSubscribed(t, 10*time.Second, client)
	client.Set(context.Background(), prefix+"a-session-id", "{}", 20*time.Millisecond)
	expiries(t, events, 1, 10*time.Second)
}

// testWatchExpiredCluster: every master is watched, and the master that a
// failover promotes is subscribed to at the next refresh.
func testWatchExpiredCluster(t *testing.T, c *redistest.Cluster) {
	ctx := context.Background()
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes {
		if err := n.Client.ConfigSet(ctx, "notify-keyspace-events", "Ex").Err(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Client.ConfigSet(context.Background(), "notify-keyspace-events", "") })
	}
	client := c.Client(t, nil)
	prefix := redistest.UniquePrefix(t)
	_, events, _ := watched(t, client, prefix)
	masters, err := c.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clients := func(ns []*redistest.Node) []*redis.Client {
		var out []*redis.Client
		for _, n := range ns {
			out = append(out, n.Client)
		}
		return out
	}
	waitSubscribed(t, 10*time.Second, clients(masters)...)
	// Enough sessions that every master holds some.
	per := map[string]int{}
	for i := range 30 {
		key := fmt.Sprintf("%s%d", prefix, i)
		m, err := c.MasterOf(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		per[m.Addr]++
		client.Set(ctx, key, "{}", 50*time.Millisecond)
	}
	if len(per) != len(masters) {
		t.Fatalf("sessions on %d masters of %d", len(per), len(masters))
	}
	expiries(t, events, 30, 20*time.Second)

	// A failover: a replica takes over its master's slots.
	var promoted *redistest.Node
	for _, n := range c.Nodes {
		if info := n.Client.Info(ctx, "replication").Val(); n.Live() && strings.Contains(info, "role:slave") {
			promoted = n
			break
		}
	}
	if promoted == nil {
		t.Fatal("no replica to promote")
	}
	if err := promoted.Client.Do(ctx, "cluster", "failover").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(promoted.Client.Info(ctx, "replication").Val(), "role:master") {
		if time.Now().After(deadline) {
			t.Fatal("the replica was not promoted within 30 s")
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, with a deadline
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, typedstore.WatchRefresh+10*time.Second, promoted.Client)
	var key string
	for i := 0; key == ""; i++ {
		k := fmt.Sprintf("%safter-%d", prefix, i)
		if m, err := c.MasterOf(ctx, k); err == nil && m == promoted {
			key = k
		}
	}
	client.Set(ctx, key, "{}", 50*time.Millisecond)
	expiries(t, events, 1, 20*time.Second)
}

// TestWatchExpiredDoneContext: a context done before the watch begins
// ends it with nil, as any end of the context does.
func TestWatchExpiredDoneContext(t *testing.T) {
	_, _, s := newMini(t, typedstore.Options[session]{Hooks: typedstore.Hooks{Event: func(context.Context, typedstore.Event) {}}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.WatchExpired(ctx); err != nil {
		t.Errorf("WatchExpired(done context) = %v; want nil", err)
	}
}

// TestWatchExpiredPanicReachesCaller: a panic in Event, called from the
// watch's own goroutine, goes up through WatchExpired in the caller's.
func TestWatchExpiredPanicReachesCaller(t *testing.T) {
	leakcheck.Check(t)
	srv := redistest.Start(t, "--notify-keyspace-events", "Ex")
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { client.Close() })
	prefix := redistest.UniquePrefix(t)
	s, err := typedstore.New(client, typedstore.Options[session]{Prefix: prefix, Hooks: typedstore.Hooks{
		Event: func(context.Context, typedstore.Event) { panic("hook failed") },
	}})
	if err != nil {
		t.Fatal(err)
	}
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		s.WatchExpired(context.Background())
	}()
	waitSubscribed(t, 10*time.Second, client)
	client.Set(context.Background(), prefix+"a-session", "{}", 10*time.Millisecond)
	select {
	case v := <-recovered:
		if v != "hook failed" {
			t.Errorf("recovered %v; want the hook's panic", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no panic reached WatchExpired's caller within 10 s")
	}
}
