package typedstore_test

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/redistest"
)

// session is the session type of most tests: an express-session cookie and
// some data.
type session struct {
	typedstore.Cookie `json:"cookie"`
	UserID            int64    `json:"userId"`
	Name              string   `json:"name,omitempty"`
	Cart              []string `json:"cart,omitempty"`
}

// expiring returns a session whose cookie expires after d.
func expiring(userID int64, d time.Duration) session {
	exp := time.Now().Add(d).UTC().Truncate(time.Millisecond)
	maxAge := d.Milliseconds()
	return session{
		Cookie: typedstore.Cookie{OriginalMaxAge: &maxAge, ExpiresAt: &exp, HTTPOnly: true, Path: "/"},
		UserID: userID,
	}
}

// newMini returns a miniredis server, a client on it and a store with opts,
// all closed when the test ends.
func newMini[T any](t *testing.T, opts typedstore.Options[T]) (*miniredis.Miniredis, *redis.Client, *typedstore.Store[T]) {
	t.Helper()
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	s, err := typedstore.New(client, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return mr, client, s
}

// collectIDs ranges over IDs and returns the sorted ids and the error.
func collectIDs[T any](t *testing.T, s *typedstore.Store[T]) ([]string, error) {
	t.Helper()
	seq, errf := s.IDs(context.Background())
	var ids []string
	for id := range seq {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, errf()
}

// collectAll ranges over All and returns the sessions by id and the error.
func collectAll[T any](t *testing.T, s *typedstore.Store[T]) (map[string]T, error) {
	t.Helper()
	seq, errf := s.All(context.Background())
	got := map[string]T{}
	for id, v := range seq {
		if _, dup := got[id]; dup {
			t.Errorf("All yielded %q twice", id)
		}
		got[id] = v
	}
	return got, errf()
}

// commandLog is a go-redis hook that records the names of the commands a
// client sends.
type commandLog struct {
	mu         sync.Mutex
	names      []string
	roundTrips int // single commands and pipelines sent
}

func (l *commandLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (l *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.mu.Lock()
		l.names = append(l.names, cmd.Name())
		l.roundTrips++
		l.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (l *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		l.mu.Lock()
		for _, c := range cmds {
			l.names = append(l.names, c.Name())
		}
		l.roundTrips++
		l.mu.Unlock()
		return next(ctx, cmds)
	}
}

// count returns how many commands named name were sent.
func (l *commandLog) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.names {
		if c == name {
			n++
		}
	}
	return n
}

// silentServer accepts connections and never answers: a Redis that hangs.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().String()
}

// closedAddr returns a loopback address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// commandHook runs before or after each command with the given name, sent
// alone or in a pipeline.
type commandHook struct {
	name          string
	before, after func(redis.Cmder)
}

func beforeCommand(name string, f func()) *commandHook {
	return &commandHook{name: name, before: func(redis.Cmder) { f() }}
}

func afterCommand(name string, f func(redis.Cmder)) *commandHook {
	return &commandHook{name: name, after: f}
}

func (h *commandHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *commandHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == h.name && h.before != nil {
			h.before(cmd)
		}
		err := next(ctx, cmd)
		if cmd.Name() == h.name && h.after != nil {
			h.after(cmd)
		}
		return err
	}
}

func (h *commandHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if cmd.Name() == h.name && h.before != nil {
				h.before(cmd)
			}
		}
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if cmd.Name() == h.name && h.after != nil {
				h.after(cmd)
			}
		}
		return err
	}
}

// bothServers returns constructors of a client on miniredis and on a real
// redis-server (see redistest.Client), for tests that run on each.
func bothServers() map[string]func(*testing.T) redis.UniversalClient {
	return map[string]func(*testing.T) redis.UniversalClient{
		"miniredis": func(t *testing.T) redis.UniversalClient {
			_, c, _ := newMini(t, typedstore.Options[session]{})
			return c
		},
		"redis-server": func(t *testing.T) redis.UniversalClient { return redistest.Client(t) },
	}
}
