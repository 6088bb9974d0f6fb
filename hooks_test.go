package typedstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/redistest"
)

// hookLog records what a store's hooks receive, as lines such as
// "start get", "loaded get hit" and "end get ok", in the order they come.
type hookLog struct {
	mu      sync.Mutex
	lines   []string
	events  []typedstore.Event
	results []typedstore.Result
}

// hooks returns Hooks that record into l.
func (l *hookLog) hooks() typedstore.Hooks {
	return typedstore.Hooks{
		Start: func(ctx context.Context, op typedstore.Op) context.Context {
			l.add("start " + op.String())
			return context.WithValue(ctx, hookCtxKey{}, op)
		},
		End: func(ctx context.Context, op typedstore.Op, r typedstore.Result) {
			if got, _ := ctx.Value(hookCtxKey{}).(typedstore.Op); got != op {
				l.add(fmt.Sprintf("end %v: context of %v, not the one Start returned", op, got))
			}
			l.mu.Lock()
			l.results = append(l.results, r)
			l.mu.Unlock()
			l.add("end " + op.String() + " " + outcome(r.Err))
		},
		Event: func(ctx context.Context, e typedstore.Event) {
			if got, _ := ctx.Value(hookCtxKey{}).(typedstore.Op); got != e.Op && e.Kind != typedstore.EventExpired {
				l.add(fmt.Sprintf("event %v: context of %v, not the one Start returned", e.Op, got))
			}
			l.mu.Lock()
			l.events = append(l.events, e)
			l.mu.Unlock()
			l.add(eventLine(e))
		},
	}
}

type hookCtxKey struct{}

func (l *hookLog) add(line string) {
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
}

// take returns the lines recorded since the last take, and forgets them.
func (l *hookLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines, l.events, l.results = nil, nil, nil
	return out
}

// eventLine is the line of e: kind, operation, then what it carries.
func eventLine(e typedstore.Event) string {
	line := e.Kind.String() + " " + e.Op.String()
	if e.Kind == typedstore.EventLoaded {
		line += map[bool]string{true: " hit", false: " miss"}[e.Hit]
	}
	if e.Count != 1 {
		line += " n=" + strconv.Itoa(e.Count)
	}
	if e.Owner != "" {
		line += " owner=" + e.Owner
	}
	return line
}

// outcome names the class of an operation's error.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, typedstore.ErrNotFound):
		return "not found"
	case errors.Is(err, typedstore.ErrExists):
		return "exists"
	case errors.Is(err, typedstore.ErrConflict):
		return "conflict"
	case errors.Is(err, typedstore.ErrCorrupt):
		return "corrupt"
	}
	return "error: " + err.Error()
}

// hookOwner makes the owner of a session its user, for the tests of hooks.
func hookOwner(v session) string {
	if v.UserID == 0 {
		return ""
	}
	return strconv.FormatInt(v.UserID, 10)
}

// hookCase is one event on one path: setup runs unobserved, act is
// observed, and want is what the hooks must have received, in order.
type hookCase struct {
	name string
	// opts, when set, changes the store's options.
	opts  func(*typedstore.Options[session])
	setup func(ctx context.Context, t *testing.T, s *typedstore.Store[session], raw redis.UniversalClient, key func(string) string)
	act   func(ctx context.Context, s *typedstore.Store[session], raw redis.UniversalClient, key func(string) string)
	want  []string
}

// gone is a session whose cookie expired a second ago: its time to live is
// negative, so writing it deletes it.
var gone = expiring(0, -time.Second)

// hookCases is the table of event and test that docs/observability.md
// points to: every event of the store, on every path that causes it.
var hookCases = []hookCase{
	{
		name: "created by Create",
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Create(ctx, "a", session{})
		},
		want: []string{"start create", "created create", "end create ok"},
	},
	{
		name:  "none when Create finds a session",
		setup: set("a", session{}),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Create(ctx, "a", session{})
		},
		want: []string{"start create", "end create exists"},
	},
	{
		name:  "loaded by Get: a hit",
		setup: set("a", session{}),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Get(ctx, "a")
		},
		want: []string{"start get", "loaded get hit", "end get ok"},
	},
	{
		name: "loaded by Get: a miss",
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Get(ctx, "a")
		},
		want: []string{"start get", "loaded get miss", "end get not found"},
	},
	{
		name:  "loaded by GetAndExtend",
		setup: set("a", session{}),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.GetAndExtend(ctx, "a", time.Hour)
		},
		want: []string{"start get_and_extend", "loaded get_and_extend hit", "end get_and_extend ok"},
	},
	{
		name: "saved by Set",
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Set(ctx, "a", session{})
		},
		want: []string{"start set", "saved set", "end set ok"},
	},
	{
		name:  "saved by Replace",
		setup: set("a", session{}),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Replace(ctx, "a", session{})
		},
		want: []string{"start replace", "saved replace", "end replace ok"},
	},
	{
		name: "none when Replace finds no session",
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Replace(ctx, "a", session{})
		},
		want: []string{"start replace", "end replace not found"},
	},
	{
		name:  "saved by Update, owner known",
		setup: set("a", session{}),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Update(ctx, "a", func(v *session) error { v.UserID = 7; return nil })
		},
		want: []string{"start update", "saved update owner=7", "end update ok"},
	},
	{
		name:  "touched by Touch",
		setup: set("a", session{}),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Touch(ctx, "a", session{})
		},
		want: []string{"start touch", "touched touch", "end touch ok"},
	},
	{
		name:  "touched by a Touch that TouchSlack spares the write",
		opts:  func(o *typedstore.Options[session]) { o.TouchSlack = time.Minute },
		setup: set("a", session{}),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Touch(ctx, "a", session{})
		},
		want: []string{"start touch", "touched touch", "end touch ok"},
	},
	{
		name: "corrupt, then loaded, when OnDecodeError repairs",
		opts: func(o *typedstore.Options[session]) {
			o.OnDecodeError = func([]byte, error) (session, typedstore.DecodeAction) { return session{}, typedstore.DecodeRepair }
		},
		setup: raw("a", "{not json"),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Get(ctx, "a")
		},
		want: []string{"start get", "corrupt get", "loaded get hit", "end get ok"},
	},
	{
		name: "none when Touch finds no session",
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Touch(ctx, "a", session{})
		},
		want: []string{"start touch", "end touch not found"},
	},
	{
		name:  "deleted by Delete, counted",
		setup: both(set("a", session{}), set("b", session{})),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Delete(ctx, "a", "b", "never")
		},
		want: []string{"start delete", "deleted delete n=2", "end delete ok"},
	},
	{
		name: "none when Delete finds nothing",
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Delete(ctx, "a")
		},
		want: []string{"start delete", "end delete ok"},
	},
	{
		name:  "deleted by Set of an expired value",
		setup: set("a", session{}),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Set(ctx, "a", gone)
		},
		want: []string{"start set", "deleted set", "end set ok"},
	},
	{
		name:  "deleted by Touch of an expired value",
		setup: set("a", session{}),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Touch(ctx, "a", gone)
		},
		want: []string{"start touch", "deleted touch", "end touch ok"},
	},
	{
		name:  "deleted by Update to an expired value",
		setup: set("a", session{}),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Update(ctx, "a", func(v *session) error { *v = gone; return nil })
		},
		want: []string{"start update", "deleted update", "end update ok"},
	},
	{
		name:  "deleted by Clear, counted",
		setup: both(set("a", session{}), set("b", session{}), set("c", session{UserID: 7})),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Clear(ctx)
		},
		want: []string{"start clear", "deleted clear n=3", "end clear ok"},
	},
	{
		name:  "evicted by a Create over MaxPerOwner, after the create",
		setup: both(set("a", session{UserID: 7}), set("b", session{UserID: 7})),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Create(ctx, "c", session{UserID: 7})
		},
		want: []string{"start create", "created create owner=7", "evicted create owner=7", "end create ok"},
	},
	{
		name:  "evicted by an Update over MaxPerOwner",
		setup: both(set("a", session{UserID: 7}), set("b", session{UserID: 7}), set("c", session{})),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Update(ctx, "c", func(v *session) error { v.UserID = 7; return nil })
		},
		want: []string{"start update", "saved update owner=7", "evicted update owner=7", "end update ok"},
	},
	{
		name:  "revoked by DeleteOwned, counted",
		setup: both(set("a", session{UserID: 7}), set("b", session{UserID: 7}), set("c", session{UserID: 8})),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.DeleteOwned(ctx, "7")
		},
		want: []string{"start delete_owned", "revoked delete_owned n=2 owner=7", "end delete_owned ok"},
	},
	{
		name:  "corrupt in Get",
		setup: raw("a", "{not json"),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Get(ctx, "a")
		},
		want: []string{"start get", "corrupt get", "end get corrupt"},
	},
	{
		name: "corrupt in GetAndExtend: a key of another type",
		setup: func(ctx context.Context, t *testing.T, _ *typedstore.Store[session], c redis.UniversalClient, key func(string) string) {
			if err := c.HSet(ctx, key("a"), "f", "v").Err(); err != nil {
				t.Fatal(err)
			}
		},
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.GetAndExtend(ctx, "a", time.Hour)
		},
		want: []string{"start get_and_extend", "corrupt get_and_extend", "end get_and_extend corrupt"},
	},
	{
		name:  "corrupt in Update",
		setup: raw("a", "[]"),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Update(ctx, "a", func(*session) error { return nil })
		},
		want: []string{"start update", "corrupt update", "end update corrupt"},
	},
	{
		name:  "corrupt in All, which goes on",
		setup: both(raw("a", "{not json"), set("b", session{})),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			seq, _ := s.All(ctx)
			for range seq {
			}
		},
		want: []string{"start all", "corrupt all", "end all corrupt"},
	},
	{
		name:  "corrupt in OwnedBy",
		setup: both(set("a", session{UserID: 7}), raw("a", `{"userId":"seven"}`)),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			seq, _ := s.OwnedBy(ctx, "7")
			for range seq {
			}
		},
		want: []string{"start owned_by", "corrupt owned_by", "end owned_by corrupt"},
	},
	{
		name:  "corrupt in Migrate",
		setup: raw("a", "{not json"),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			s.Migrate(ctx, typedstore.MigrateOptions{})
		},
		want: []string{"start migrate", "corrupt migrate", "end migrate ok"},
	},
	{
		name:  "conflict when every attempt of Update meets a change",
		setup: set("a", session{}),
		act: func(ctx context.Context, s *typedstore.Store[session], c redis.UniversalClient, key func(string) string) {
			n := 0
			s.Update(ctx, "a", func(v *session) error {
				n++ // another writer changes the session between read and write
				return c.Set(ctx, key("a"), fmt.Sprintf(`{"name":"%d"}`, n), time.Hour).Err()
			})
		},
		want: []string{"start update", "conflict update n=3", "end update conflict"},
	},
	{
		name:  "none from iterations and counts that find sessions",
		setup: both(set("a", session{UserID: 7}), set("b", session{})),
		act: func(ctx context.Context, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
			ids, _ := s.IDs(ctx)
			for range ids {
			}
			s.Len(ctx)
			s.EstimateLen(ctx)
			s.CountOwned(ctx, "7")
		},
		want: []string{"start ids", "end ids ok", "start len", "end len ok", "start estimate_len", "end estimate_len ok", "start count_owned", "end count_owned ok"},
	},
}

func set(id string, v session) func(context.Context, *testing.T, *typedstore.Store[session], redis.UniversalClient, func(string) string) {
	return func(ctx context.Context, t *testing.T, s *typedstore.Store[session], _ redis.UniversalClient, _ func(string) string) {
		if err := s.Set(ctx, id, v); err != nil {
			t.Fatal(err)
		}
	}
}

func raw(id, value string) func(context.Context, *testing.T, *typedstore.Store[session], redis.UniversalClient, func(string) string) {
	return func(ctx context.Context, t *testing.T, _ *typedstore.Store[session], c redis.UniversalClient, key func(string) string) {
		if err := c.Set(ctx, key(id), value, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

func both(fs ...func(context.Context, *testing.T, *typedstore.Store[session], redis.UniversalClient, func(string) string)) func(context.Context, *testing.T, *typedstore.Store[session], redis.UniversalClient, func(string) string) {
	return func(ctx context.Context, t *testing.T, s *typedstore.Store[session], c redis.UniversalClient, key func(string) string) {
		for _, f := range fs {
			f(ctx, t, s, c, key)
		}
	}
}

// testHookEvents runs hookCases on client: each event, once, in order,
// with the context that Start returned.
func testHookEvents(t *testing.T, client redis.UniversalClient) {
	for _, tc := range hookCases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			log := &hookLog{}
			prefix := redistest.UniquePrefix(t)
			opts := typedstore.Options[session]{
				Prefix:         prefix,
				TTL:            time.Hour,
				Owner:          hookOwner,
				MaxPerOwner:    2,
				UpdateAttempts: 3,
				Hooks:          log.hooks(),
			}
			if tc.opts != nil {
				tc.opts(&opts)
			}
			s, err := typedstore.New(client, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx := context.Background()
				s.Clear(ctx)
				client.Del(ctx, typedstore.DefaultOwnerPrefix+prefix+"7")
				client.Del(ctx, typedstore.DefaultOwnerPrefix+prefix+"8")
			})
			key := func(id string) string { return prefix + id }
			if tc.setup != nil {
				tc.setup(ctx, t, s, client, key)
			}
			log.take()
			tc.act(ctx, s, client, key)
			if got := log.take(); !slices.Equal(got, tc.want) {
				t.Errorf("hooks received\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
		})
	}
}

func TestHooksReportEachEventOnce(t *testing.T) {
	for name, server := range bothServers() {
		t.Run(name, func(t *testing.T) { testHookEvents(t, server(t)) })
	}
}

func TestHooksResults(t *testing.T) {
	log := &hookLog{}
	_, client, s := newMini(t, typedstore.Options[session]{TTL: time.Hour, UpdateAttempts: 3, Hooks: log.hooks()})
	ctx := context.Background()
	if err := s.Set(ctx, "a", session{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	stored, _ := client.Get(ctx, "sess:a").Bytes()
	s.Get(ctx, "a")
	s.Update(ctx, "a", func(v *session) error { v.Name = "bob"; return nil })
	s.Set(ctx, "b", session{})
	s.Delete(ctx, "a", "b")
	log.mu.Lock()
	defer log.mu.Unlock()
	want := []struct {
		bytes, sessions, attempts int
	}{
		{len(stored), 0, 0},                             // set
		{len(stored), 0, 0},                             // get
		{len(stored) - len("alice") + len("bob"), 0, 1}, // update
		{-1, 0, 0}, // set b
		{0, 2, 0},  // delete
	}
	if len(log.results) != len(want) {
		t.Fatalf("End called %d times; want %d", len(log.results), len(want))
	}
	for i, w := range want {
		r := log.results[i]
		if (w.bytes >= 0 && r.Bytes != w.bytes) || r.Sessions != w.sessions || r.Attempts != w.attempts {
			t.Errorf("result %d: Bytes %d, Sessions %d, Attempts %d; want %d, %d, %d", i, r.Bytes, r.Sessions, r.Attempts, w.bytes, w.sessions, w.attempts)
		}
		if r.Duration <= 0 {
			t.Errorf("result %d: Duration %v; want > 0", i, r.Duration)
		}
	}
	if got, want := log.events[0].Bytes, len(stored); got != want {
		t.Errorf("saved event: Bytes %d; want %d", got, want)
	}
}

// TestHooksNeverReceiveTheID checks everything the hooks receive, on the
// paths where an id is at hand (a corrupt session carries it in its
// error), for the whole id.
func TestHooksNeverReceiveTheID(t *testing.T) {
	log := &hookLog{}
	mr, _, s := newMini(t, typedstore.Options[session]{TTL: time.Hour, Owner: hookOwner, MaxPerOwner: 1, Hooks: log.hooks()})
	ctx := context.Background()
	s.Create(ctx, secretID, session{UserID: 1})
	s.Get(ctx, secretID)
	s.Touch(ctx, secretID, session{UserID: 1})
	s.Update(ctx, secretID, func(v *session) error { v.Name = "x"; return nil })
	s.Create(ctx, secretID+"2", session{UserID: 1}) // evicts the first
	s.Delete(ctx, secretID+"2")
	mr.Set("sess:"+secretID, "{corrupt")
	s.Get(ctx, secretID)
	seq, _ := s.All(ctx)
	for range seq {
	}
	s.Update(ctx, secretID, func(*session) error { return nil })
	log.mu.Lock()
	defer log.mu.Unlock()
	var corrupt int
	for _, e := range log.events {
		if e.Kind == typedstore.EventCorrupt {
			corrupt++
		}
		if s := fmt.Sprintf("%+v %#v %v", e, e, e.Err); strings.Contains(s, secretID[:12]) {
			t.Errorf("an event holds the id: %s", s)
		}
	}
	for _, r := range log.results {
		var ce *typedstore.CorruptError
		if errors.As(r.Err, &ce) {
			t.Errorf("End received a *CorruptError, which holds the id: %v", r.Err)
		}
		if s := fmt.Sprintf("%+v %#v %v", r, r, r.Err); strings.Contains(s, secretID[:12]) {
			t.Errorf("a result holds the id: %s", s)
		}
	}
	if corrupt != 3 {
		t.Errorf("%d corrupt events; want 3 (Get, All, Update)", corrupt)
	}
	if r := log.results[len(log.results)-1]; !errors.Is(r.Err, typedstore.ErrCorrupt) || !strings.Contains(r.Err.Error(), "corrupt session") {
		t.Errorf("End of a corrupt Update: %v; want an error wrapping ErrCorrupt, with the store's message", r.Err)
	}
}

func TestHooksContextReachesRedis(t *testing.T) {
	log := &hookLog{}
	_, client, s := newMini(t, typedstore.Options[session]{TTL: time.Hour, Hooks: log.hooks()})
	var mu sync.Mutex
	var missing []string
	client.AddHook(ctxCheck(func(ctx context.Context, name string) {
		if _, ok := ctx.Value(hookCtxKey{}).(typedstore.Op); !ok {
			mu.Lock()
			missing = append(missing, name)
			mu.Unlock()
		}
	}))
	ctx := context.Background()
	s.Set(ctx, "a", session{})
	s.GetAndExtend(ctx, "a", time.Minute)
	s.Update(ctx, "a", func(*session) error { return nil })
	seq, _ := s.All(ctx)
	for range seq {
	}
	if len(missing) > 0 {
		t.Errorf("commands sent without the context that Start returned: %v", missing)
	}
}

// ctxCheck is a go-redis hook that passes f the context of every command.
type ctxCheck func(ctx context.Context, name string)

func (f ctxCheck) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f ctxCheck) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		f(ctx, cmd.Name())
		return next(ctx, cmd)
	}
}
func (f ctxCheck) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			f(ctx, c.Name())
		}
		return next(ctx, cmds)
	}
}

// TestHookPanics: a panicking hook panics the call, after the change it
// reports, and the store goes on working.
func TestHookPanics(t *testing.T) {
	boom := true
	mr, _, s := newMini(t, typedstore.Options[session]{TTL: time.Hour, Hooks: typedstore.Hooks{
		Event: func(_ context.Context, e typedstore.Event) {
			if boom && e.Kind == typedstore.EventCreated {
				panic("hook failed")
			}
		},
	}})
	ctx := context.Background()
	func() {
		defer func() {
			if r := recover(); r != "hook failed" {
				t.Errorf("recovered %v; want the hook's panic", r)
			}
		}()
		s.Create(ctx, "a", session{Name: "kept"})
		t.Error("Create returned; want the hook's panic")
	}()
	if !mr.Exists("sess:a") {
		t.Error("the session that the panicking hook reported is not stored")
	}
	boom = false
	if err := s.Create(ctx, "b", session{}); err != nil {
		t.Errorf("Create after the panic: %v", err)
	}
	if v, err := s.Get(ctx, "a"); err != nil || v.Name != "kept" {
		t.Errorf("Get after the panic = %+v, %v", v, err)
	}
}

// TestHooksStartAndEndAllocateNothing: Start and End add no allocation to
// a Get (see BenchmarkHooks for the times), and a store without hooks
// none at all.
func TestHooksStartAndEndAllocateNothing(t *testing.T) {
	ctx := context.Background()
	get := func(h typedstore.Hooks) float64 {
		_, _, s := newMini(t, typedstore.Options[session]{TTL: time.Hour, Hooks: h})
		if err := s.Set(ctx, "a", session{Name: "alice"}); err != nil {
			t.Fatal(err)
		}
		return testing.AllocsPerRun(200, func() { s.Get(ctx, "a") })
	}
	none := get(typedstore.Hooks{})
	noop := get(typedstore.Hooks{
		Start: func(ctx context.Context, _ typedstore.Op) context.Context { return ctx },
		End:   func(context.Context, typedstore.Op, typedstore.Result) {},
	})
	if noop != none {
		t.Errorf("Get allocates %v times with no-op Start and End; want %v, as with no hooks", noop, none)
	}
}

// TestHooksEndAfterAPanicInTheCaller: a panic in a function of the
// caller's (a loop's body, Update's fn, Migrate's Progress) still ends the
// operation, once, as it goes up.
func TestHooksEndAfterAPanicInTheCaller(t *testing.T) {
	log := &hookLog{}
	_, _, s := newMini(t, typedstore.Options[session]{TTL: time.Hour, Owner: hookOwner, Hooks: log.hooks()})
	ctx := context.Background()
	s.Set(ctx, "a", session{UserID: 7})
	ids, _ := s.IDs(ctx)
	all, _ := s.All(ctx)
	owned, _ := s.OwnedBy(ctx, "7")
	for _, tc := range []struct {
		op   string
		call func()
	}{
		{"ids", func() {
			for range ids {
				panic("body")
			}
		}},
		{"all", func() {
			for range all {
				panic("body")
			}
		}},
		{"owned_by", func() {
			for range owned {
				panic("body")
			}
		}},
		{"update", func() { s.Update(ctx, "a", func(*session) error { panic("fn") }) }},
		{"migrate", func() {
			s.Migrate(ctx, typedstore.MigrateOptions{Progress: func(typedstore.MigrateReport) { panic("progress") }})
		}},
	} {
		log.take()
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.op)
				}
			}()
			tc.call()
		}()
		got := log.take()
		if len(got) < 2 || got[0] != "start "+tc.op || !strings.HasPrefix(got[len(got)-1], "end "+tc.op+" error: ") || !strings.Contains(got[len(got)-1], "panic") {
			t.Errorf("%s: hooks received %q; want a start and, last, one end whose error says a panic ended it", tc.op, got)
		}
		if n := strings.Count(strings.Join(got, "\n"), "end "); n != 1 {
			t.Errorf("%s: %d ends; want 1", tc.op, n)
		}
	}
}

// TestHooksUpdateResult: Update reports what it read when it wrote
// nothing, and no attempt when it made none.
func TestHooksUpdateResult(t *testing.T) {
	log := &hookLog{}
	mr, _, s := newMini(t, typedstore.Options[session]{TTL: time.Hour, Hooks: log.hooks()})
	ctx := context.Background()
	s.Set(ctx, "a", session{Name: "alice"})
	stored, _ := mr.Get("sess:a")
	done, cancel := context.WithCancel(ctx)
	cancel()
	fail := errors.New("no")
	s.Update(ctx, "a", func(*session) error { return fail })
	s.Update(done, "a", func(*session) error { return nil })
	log.mu.Lock()
	defer log.mu.Unlock()
	if r := log.results[1]; r.Bytes != len(stored) || r.Attempts != 1 || !errors.Is(r.Err, fail) {
		t.Errorf("Update whose fn failed: Bytes %d, Attempts %d, Err %v; want %d read, 1, fn's error", r.Bytes, r.Attempts, r.Err, len(stored))
	}
	if r := log.results[2]; r.Bytes != 0 || r.Attempts != 0 || !errors.Is(r.Err, context.Canceled) {
		t.Errorf("Update with a done context: Bytes %d, Attempts %d, Err %v; want 0, 0, context.Canceled", r.Bytes, r.Attempts, r.Err)
	}
}
