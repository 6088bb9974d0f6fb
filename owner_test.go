package typedstore_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/clock"
	"github.com/typedstore/typedstore/internal/redistest"
)

// byName is the Owner of the owner tests: a session belongs to its Name.
func byName(v session) string { return v.Name }

// ownedStore returns a store on client whose sessions belong to their Name,
// under a prefix of its own, cleared when the test ends.
func ownedStore(t *testing.T, client redis.UniversalClient, opts typedstore.Options[session]) *typedstore.Store[session] {
	t.Helper()
	opts.Owner = byName
	if opts.Prefix == "" {
		opts.Prefix = redistest.UniquePrefix(t) + "s:"
	}
	if opts.TTL == 0 {
		opts.TTL = time.Hour
	}
	s, err := typedstore.New(client, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Clear(context.Background()) })
	return s
}

// owned returns the ids of owner's sessions, sorted, through OwnedBy, and
// checks that CountOwned agrees.
func owned(t *testing.T, s *typedstore.Store[session], owner string) []string {
	t.Helper()
	ctx := context.Background()
	seq, errf := s.OwnedBy(ctx, owner)
	var ids []string
	for id, v := range seq {
		if v.Name != owner {
			t.Errorf("OwnedBy(%q) yielded %q owned by %q", owner, id, v.Name)
		}
		ids = append(ids, id)
	}
	if err := errf(); err != nil {
		t.Fatalf("OwnedBy(%q): %v", owner, err)
	}
	if n, err := s.CountOwned(ctx, owner); err != nil || n != len(ids) {
		t.Errorf("CountOwned(%q) = %d, %v; want %d", owner, n, err, len(ids))
	}
	slices.Sort(ids)
	return ids
}

// indexEntries returns the members of owner's index as Redis holds them,
// sorted, with no pruning.
func indexEntries(t *testing.T, client redis.UniversalClient, s *typedstore.Store[session], owner string) []string {
	t.Helper()
	ids, err := client.ZRange(context.Background(), "owner:"+s.Prefix()+owner, 0, -1).Result()
	if err != nil {
		t.Fatalf("ZRANGE of %q's index: %v", owner, err)
	}
	slices.Sort(ids)
	return ids
}

func mustSet(t *testing.T, s *typedstore.Store[session], id, owner string) {
	t.Helper()
	if err := s.Set(context.Background(), id, session{Name: owner, UserID: 1}); err != nil {
		t.Fatalf("Set(%q) for %q: %v", id, owner, err)
	}
}

func TestSessionsOfAnOwner(t *testing.T) {
	for name, newClient := range bothServers() {
		t.Run(name, func(t *testing.T) {
			client := newClient(t)
			s := ownedStore(t, client, typedstore.Options[session]{})
			ctx := context.Background()
			for _, id := range []string{"a1", "a2", "a3"} {
				mustSet(t, s, id, "alice")
			}
			mustSet(t, s, "b1", "bob")
			mustSet(t, s, "anon1", "")
			if err := s.Create(ctx, "a4", session{Name: "alice"}); err != nil {
				t.Fatal(err)
			}
			if got, want := owned(t, s, "alice"), []string{"a1", "a2", "a3", "a4"}; !slices.Equal(got, want) {
				t.Fatalf("alice's sessions = %q; want %q", got, want)
			}
			if got, want := owned(t, s, "bob"), []string{"b1"}; !slices.Equal(got, want) {
				t.Fatalf("bob's sessions = %q; want %q", got, want)
			}
			if got := owned(t, s, "carol"); len(got) != 0 {
				t.Fatalf("carol's sessions = %q; want none", got)
			}

			n, err := s.DeleteOwned(ctx, "alice", "a2")
			if err != nil || n != 3 {
				t.Fatalf("DeleteOwned(alice, keep a2) = %d, %v; want 3, nil", n, err)
			}
			for _, id := range []string{"a1", "a3", "a4"} {
				if _, err := s.Get(ctx, id); !errors.Is(err, typedstore.ErrNotFound) {
					t.Errorf("Get(%q) after DeleteOwned = %v; want ErrNotFound", id, err)
				}
			}
			for _, id := range []string{"a2", "b1", "anon1"} {
				if _, err := s.Get(ctx, id); err != nil {
					t.Errorf("Get(%q) after DeleteOwned = %v; want it kept", id, err)
				}
			}
			if got, want := indexEntries(t, client, s, "alice"), []string{"a2"}; !slices.Equal(got, want) {
				t.Errorf("alice's index after DeleteOwned = %q; want %q", got, want)
			}
			if n, err := s.DeleteOwned(ctx, "alice"); err != nil || n != 1 {
				t.Fatalf("DeleteOwned(alice) = %d, %v; want 1, nil", n, err)
			}
			if n, err := s.DeleteOwned(ctx, "alice"); err != nil || n != 0 {
				t.Fatalf("DeleteOwned(alice) again = %d, %v; want 0, nil", n, err)
			}
		})
	}
}

// A session moves between indexes with its owner: log in, switch user, log
// out. Each write touches only the new owner's index; the old one drops the
// entry when it is next read.
func TestSessionMovesBetweenOwners(t *testing.T) {
	for name, newClient := range bothServers() {
		t.Run(name, func(t *testing.T) {
			client := newClient(t)
			s := ownedStore(t, client, typedstore.Options[session]{})
			ctx := context.Background()
			mustSet(t, s, "x", "")
			if got := indexEntries(t, client, s, ""); len(got) != 0 {
				t.Fatalf("an anonymous session is indexed: %q", got)
			}
			mustSet(t, s, "x", "alice") // log in
			if got := owned(t, s, "alice"); !slices.Equal(got, []string{"x"}) {
				t.Fatalf("after login, alice's sessions = %q", got)
			}
			if err := s.Replace(ctx, "x", session{Name: "bob"}); err != nil { // switch user
				t.Fatal(err)
			}
			if got := owned(t, s, "alice"); len(got) != 0 {
				t.Fatalf("after the switch, alice's sessions = %q; want none", got)
			}
			if got := indexEntries(t, client, s, "alice"); len(got) != 0 {
				t.Fatalf("after listing, alice's index still holds %q", got)
			}
			if n, err := s.DeleteOwned(ctx, "alice"); err != nil || n != 0 {
				t.Fatalf("DeleteOwned(alice) of a session that is bob's now = %d, %v; want 0", n, err)
			}
			if got := owned(t, s, "bob"); !slices.Equal(got, []string{"x"}) {
				t.Fatalf("bob's sessions = %q", got)
			}
			err := s.Update(ctx, "x", func(v *session) error { v.Name = ""; return nil }) // log out
			if err != nil {
				t.Fatal(err)
			}
			if got := owned(t, s, "bob"); len(got) != 0 {
				t.Fatalf("after logout, bob's sessions = %q", got)
			}
			// Delete by id needs no owner: the entry goes at the next read.
			mustSet(t, s, "y", "carol")
			if err := s.Delete(ctx, "y"); err != nil {
				t.Fatal(err)
			}
			if got := owned(t, s, "carol"); len(got) != 0 {
				t.Fatalf("after Delete, carol's sessions = %q", got)
			}
			if got := indexEntries(t, client, s, "carol"); len(got) != 0 {
				t.Fatalf("after listing, carol's index still holds %q", got)
			}
		})
	}
}

func TestMaxPerOwner(t *testing.T) {
	for name, newClient := range bothServers() {
		t.Run(name, func(t *testing.T) {
			client := newClient(t)
			s := ownedStore(t, client, typedstore.Options[session]{MaxPerOwner: 3})
			ctx := context.Background()
			// Each later session expires later: with one time to live for
			// all, the later written, the more recently active.
			for i := range 5 {
				v := expiring(1, time.Hour+time.Duration(i)*time.Minute)
				v.Name = "alice"
				if err := s.Set(ctx, fmt.Sprint("a", i), v); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := owned(t, s, "alice"), []string{"a2", "a3", "a4"}; !slices.Equal(got, want) {
				t.Fatalf("alice's sessions = %q; want the 3 most recent %q", got, want)
			}
			for _, id := range []string{"a0", "a1"} {
				if _, err := s.Get(ctx, id); !errors.Is(err, typedstore.ErrNotFound) {
					t.Errorf("Get(%q) = %v; want it evicted", id, err)
				}
			}
			// Entries whose sessions are gone, or are someone else's now, do
			// not count: no live session is evicted for them.
			if err := s.Delete(ctx, "a2"); err != nil {
				t.Fatal(err)
			}
			mustSet(t, s, "a3", "bob")
			mustSet(t, s, "a5", "alice")
			mustSet(t, s, "a6", "alice")
			if got, want := owned(t, s, "alice"), []string{"a4", "a5", "a6"}; !slices.Equal(got, want) {
				t.Fatalf("alice's sessions = %q; want %q", got, want)
			}
			if got := owned(t, s, "bob"); !slices.Equal(got, []string{"a3"}) {
				t.Fatalf("bob's session was evicted for alice: %q", got)
			}
			// Rewriting a session already counted evicts nothing.
			mustSet(t, s, "a4", "alice")
			if got := owned(t, s, "alice"); len(got) != 3 {
				t.Fatalf("alice's sessions after a rewrite = %q; want 3", got)
			}
		})
	}
}

// The cap deletes the session closest to expiring even when a load
// extended it without writing the index, whose entry then still holds the
// earlier expiry.
// frozenMini returns a client on a miniredis whose time, and the store's
// clock, move only when advance says.
func frozenMini(t *testing.T) (client *redis.Client, advance func(time.Duration)) {
	mr := miniredis.RunT(t)
	client = redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	fake := clock.NewFake(time.Now())
	clock.Set(t, fake.Now)
	return client, func(d time.Duration) { fake.Advance(d); mr.FastForward(d) }
}

func TestMaxPerOwnerEvictsClosestToExpiring(t *testing.T) {
	for _, extend := range []string{"GetAndExtend", "Touch"} {
		t.Run(extend, func(t *testing.T) {
			client, advance := frozenMini(t)
			const ttl = 100 * time.Minute // index slack: 25 minutes
			s := ownedStore(t, client, typedstore.Options[session]{TTL: ttl, MaxPerOwner: 2})
			ctx := context.Background()
			mustSet(t, s, "a", "alice") // expires at 100
			advance(10 * time.Minute)
			mustSet(t, s, "b", "alice") // expires at 110
			advance(10 * time.Minute)
			var err error // a now expires at 120, its entry still covers it
			if extend == "Touch" {
				err = s.Touch(ctx, "a", session{Name: "alice"})
			} else {
				_, err = s.GetAndExtend(ctx, "a", ttl)
			}
			if err != nil {
				t.Fatal(err)
			}
			mustSet(t, s, "c", "alice")
			if got, want := owned(t, s, "alice"), []string{"a", "c"}; !slices.Equal(got, want) {
				t.Fatalf("alice's sessions = %q; want %q: b expired first", got, want)
			}
		})
	}
}

func TestOwnerBadInput(t *testing.T) {
	_, client, plain := newMini(t, typedstore.Options[session]{})
	ctx := context.Background()
	s := ownedStore(t, client, typedstore.Options[session]{})

	long := strings.Repeat("x", typedstore.MaxOwnerLen+1)
	if err := s.Set(ctx, "id", session{Name: long}); !errors.Is(err, typedstore.ErrInvalidOwner) {
		t.Errorf("Set with an owner of %d bytes = %v; want ErrInvalidOwner", len(long), err)
	}
	if err := s.Create(ctx, "id", session{Name: long}); !errors.Is(err, typedstore.ErrInvalidOwner) {
		t.Errorf("Create with an owner of %d bytes = %v; want ErrInvalidOwner", len(long), err)
	}
	if _, err := s.Get(ctx, "id"); !errors.Is(err, typedstore.ErrNotFound) {
		t.Errorf("a write refused for its owner stored the session: Get = %v", err)
	}
	for _, owner := range []string{"", long} {
		if _, err := s.DeleteOwned(ctx, owner); !errors.Is(err, typedstore.ErrInvalidOwner) {
			t.Errorf("DeleteOwned(%d bytes) = %v; want ErrInvalidOwner", len(owner), err)
		}
		if _, err := s.CountOwned(ctx, owner); !errors.Is(err, typedstore.ErrInvalidOwner) {
			t.Errorf("CountOwned(%d bytes) = %v; want ErrInvalidOwner", len(owner), err)
		}
	}
	if _, err := plain.DeleteOwned(ctx, "alice"); !errors.Is(err, typedstore.ErrNoOwnerIndex) {
		t.Errorf("DeleteOwned on a store without Owner = %v; want ErrNoOwnerIndex", err)
	}
	seq, errf := plain.OwnedBy(ctx, "alice")
	for range seq {
		t.Error("OwnedBy on a store without Owner yielded a session")
	}
	if err := errf(); !errors.Is(err, typedstore.ErrNoOwnerIndex) {
		t.Errorf("OwnedBy on a store without Owner = %v; want ErrNoOwnerIndex", err)
	}

	// Owners are bytes: glob characters, NUL and look-alikes stay apart.
	owners := []string{"a*", "a?", "a", "ab", "[a]", "a\x00b", "a\x00", " ", "ü"}
	for i, o := range owners {
		mustSet(t, s, fmt.Sprint("o", i), o)
	}
	for i, o := range owners {
		if got := owned(t, s, o); !slices.Equal(got, []string{fmt.Sprint("o", i)}) {
			t.Errorf("sessions of %q = %q; want [o%d]", o, got, i)
		}
	}
	if n, err := s.DeleteOwned(ctx, "a*"); err != nil || n != 1 {
		t.Errorf("DeleteOwned(%q) = %d, %v; want 1", "a*", n, err)
	}
	if got := owned(t, s, "ab"); len(got) != 1 {
		t.Errorf("DeleteOwned(%q) touched the sessions of %q", "a*", "ab")
	}

	// An index key of another type: writes still succeed, reads report it.
	if err := client.Set(ctx, "owner:"+s.Prefix()+"mallory", "not a set", 0).Err(); err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "m1", "mallory")
	if _, err := s.Get(ctx, "m1"); err != nil {
		t.Errorf("a session of an owner whose index is broken was not written: %v", err)
	}
	if _, err := s.CountOwned(ctx, "mallory"); !errors.Is(err, typedstore.ErrCorrupt) {
		t.Errorf("CountOwned with an index key of another type = %v; want ErrCorrupt", err)
	}
	if _, err := s.DeleteOwned(ctx, "mallory"); !errors.Is(err, typedstore.ErrCorrupt) {
		t.Errorf("DeleteOwned with an index key of another type = %v; want ErrCorrupt", err)
	}
}

func TestNewValidatesOwnerOptions(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: closedAddr(t)})
	t.Cleanup(func() { client.Close() })
	for name, opts := range map[string]typedstore.Options[session]{
		"negative MaxPerOwner":        {Owner: byName, MaxPerOwner: -1},
		"MaxPerOwner without Owner":   {MaxPerOwner: 3},
		"OwnerPrefix without Owner":   {OwnerPrefix: "o:"},
		"OwnerPrefix inside Prefix":   {Owner: byName, Prefix: "app:", OwnerPrefix: "app:owners:"},
		"Prefix inside OwnerPrefix":   {Owner: byName, Prefix: "o:sess:", OwnerPrefix: "o:"},
		"same Prefix and OwnerPrefix": {Owner: byName, Prefix: "x:", OwnerPrefix: "x:"},
		"Prefix inside default":       {Owner: byName, Prefix: "own"},
	} {
		if _, err := typedstore.New(client, opts); err == nil {
			t.Errorf("New with %s: no error", name)
		}
	}
}

// Every index key expires with its owner's last session: no index is left
// behind, and nothing needs keyspace notifications to clean up. The quick
// run has 500 owners on miniredis; the heavy one 10,000 on miniredis and on
// a real server, with real time passing.
func TestOwnerIndexesExpire(t *testing.T) {
	owners := 500
	if os.Getenv(redistest.HeavyEnv) == "1" && !testing.Short() {
		owners = 10_000
	}
	t.Run("miniredis", func(t *testing.T) {
		mr, client, _ := newMini(t, typedstore.Options[session]{})
		const ttl = 10 * time.Minute
		s := ownedStore(t, client, typedstore.Options[session]{Prefix: "sess:", TTL: ttl})
		writeOwned(t, s, 2*owners, owners)
		mustSet(t, s, "anon", "")
		if n := len(mr.Keys()); n != 2*owners+1+owners {
			t.Fatalf("%d keys; want %d sessions and %d indexes", n, 2*owners+1, owners)
		}
		mr.FastForward(ttl)
		if n := len(mr.Keys()); n != owners {
			t.Fatalf("%d keys when the sessions expire; want the %d indexes, for their slack", n, owners)
		}
		mr.FastForward(indexSlack(ttl))
		if keys := mr.Keys(); len(keys) != 0 {
			t.Fatalf("%d keys left after every session expired, such as %q", len(keys), keys[0])
		}
	})
	t.Run("redis-server", func(t *testing.T) {
		redistest.Heavy(t)
		client := redistest.Client(t)
		const ttl = 5 * time.Second // longer than the writes take
		s := ownedStore(t, client, typedstore.Options[session]{TTL: ttl})
		begin := time.Now()
		writeOwned(t, s, owners, owners)
		ctx := context.Background()
		match := "*" + strings.TrimSuffix(s.Prefix(), "s:") + "*" // the sessions and the indexes
		left := func() int {
			n := 0
			iter := client.Scan(ctx, 0, match, 1000).Iterator()
			for iter.Next(ctx) {
				n++
			}
			if err := iter.Err(); err != nil {
				t.Fatal(err)
			}
			return n
		}
		// Every session and index is there, unless the writes took so
		// long (a loaded machine) that the first ones may have expired.
		n, wrote := left(), time.Since(begin)
		switch {
		case wrote < ttl-2*time.Second && n != 2*owners:
			t.Fatalf("%d keys; want %d sessions and %d indexes", n, owners, owners)
		case n == 0:
			t.Fatalf("no keys after writing %d sessions", owners)
		}
		// Redis removes expired keys in the background; SCAN skips those
		// whose time has passed. Wait for the count to reach 0.
		deadline := begin.Add(wrote + ttl + indexSlack(ttl) + 30*time.Second)
		t.Logf("%d sessions written in %v; waiting for %d keys to expire", owners, wrote.Round(time.Millisecond), n)
		for n := left(); n != 0; n = left() {
			if time.Now().After(deadline) {
				t.Fatalf("%d keys left %v after the last session expired", n, 30*time.Second+indexSlack(ttl))
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// writeOwned writes n sessions, "s0" to "s<n-1>", spread over owners
// owners "user0"…, from 8 goroutines.
func writeOwned(t *testing.T, s *typedstore.Store[session], n, owners int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				if err := s.Set(context.Background(), fmt.Sprint("s", i), session{Name: fmt.Sprint("user", i%owners)}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

func indexSlack(ttl time.Duration) time.Duration { return min(ttl/4, time.Hour) }

// Loads and touches that extend a session keep its index entry ahead of
// it: a session kept alive by reads alone stays in its owner's index.
func TestExtendedSessionStaysIndexed(t *testing.T) {
	for _, extend := range []string{"GetAndExtend", "Touch"} {
		t.Run(extend, func(t *testing.T) {
			client, advance := frozenMini(t)
			log := &commandLog{}
			client.AddHook(log)
			const ttl = time.Hour
			s := ownedStore(t, client, typedstore.Options[session]{TTL: ttl})
			ctx := context.Background()
			mustSet(t, s, "x", "alice")
			evals := log.count("evalsha")
			for range 10 { // 10 × 50 min: over eight times the time to live
				advance(30 * time.Minute)
				var err error
				if extend == "Touch" {
					err = s.Touch(ctx, "x", session{Name: "alice"})
				} else {
					_, err = s.GetAndExtend(ctx, "x", ttl)
				}
				if err != nil {
					t.Fatalf("%s 50 minutes after the last: %v", extend, err)
				}
				advance(20 * time.Minute)
				if got := owned(t, s, "alice"); !slices.Equal(got, []string{"x"}) {
					t.Fatalf("a session extended by reads dropped out of its index: %q", got)
				}
			}
			// One index write per extension here, since each comes after
			// the slack has run out; fewer when they come more often.
			if n := log.count("evalsha") - evals; n > 10+20 {
				t.Errorf("%d scripts for 10 extensions and 20 listings", n)
			}
		})
	}
}

// Reads cost nothing in the index while its entry covers them; each write
// of an owned session costs exactly one command more.
func TestOwnerIndexCommands(t *testing.T) {
	_, client, _ := newMini(t, typedstore.Options[session]{})
	log := &commandLog{}
	client.AddHook(log)
	s := ownedStore(t, client, typedstore.Options[session]{TTL: time.Hour})
	ctx := context.Background()
	mustSet(t, s, "warm-up", "alice") // dial, and load the scripts
	if err := s.Update(ctx, "warm-up", func(*session) error { return nil }); err != nil {
		t.Fatal(err)
	}
	count := func(f func()) map[string]int {
		before := slices.Clone(log.names)
		f()
		got := map[string]int{}
		for _, c := range log.names[len(before):] {
			got[c]++
		}
		return got
	}
	// On a single server, the write and the index script go out in one
	// pipeline: one round trip.
	trips := log.roundTrips
	mustSet(t, s, "x", "alice")
	if n := log.roundTrips - trips; n != 1 {
		t.Errorf("Set of an owned session took %d round trips; want 1", n)
	}
	for _, tc := range []struct {
		name string
		do   func()
		want map[string]int
	}{
		{"Set owned", func() { mustSet(t, s, "x", "alice") }, map[string]int{"set": 1, "evalsha": 1}},
		{"Create owned", func() {
			if err := s.Create(ctx, "z", session{Name: "alice"}); err != nil {
				t.Fatal(err)
			}
		}, map[string]int{"set": 1, "evalsha": 1}},
		{"Set anonymous", func() { mustSet(t, s, "y", "") }, map[string]int{"set": 1}},
		{"GetAndExtend ×5", func() {
			for range 5 {
				if _, err := s.GetAndExtend(ctx, "x", time.Hour); err != nil {
					t.Fatal(err)
				}
			}
		}, map[string]int{"getex": 5}},
		{"Touch ×5", func() {
			for range 5 {
				if err := s.Touch(ctx, "x", session{Name: "alice"}); err != nil {
					t.Fatal(err)
				}
			}
		}, map[string]int{"pexpire": 5}},
		{"Get", func() { s.Get(ctx, "x") }, map[string]int{"get": 1}},
		{"Update owned", func() {
			if err := s.Update(ctx, "x", func(v *session) error { v.UserID++; return nil }); err != nil {
				t.Fatal(err)
			}
		}, map[string]int{"get": 1, "evalsha": 2}},
	} {
		if got := count(tc.do); !maps.Equal(got, tc.want) {
			t.Errorf("%s sent %v; want %v", tc.name, got, tc.want)
		}
	}
}

// The guarantee of DeleteOwned: once it returns, none of the owner's
// sessions that were indexed when it began can be loaded, and requests that
// loaded them before, and go on saving them through Replace, Update and
// Touch, cannot bring them back. Sessions created while it runs may
// survive, and are then in the index.
func TestDeleteOwnedGuarantee(t *testing.T) {
	for name, newClient := range bothServers() {
		t.Run(name, func(t *testing.T) {
			client := newClient(t)
			s := ownedStore(t, client, typedstore.Options[session]{})
			ctx := context.Background()
			const before = 20
			for i := range before {
				mustSet(t, s, fmt.Sprint("old", i), "alice")
			}
			mustSet(t, s, "bob1", "bob")
			stop, busy := make(chan struct{}), make(chan struct{})
			var once sync.Once
			var wg sync.WaitGroup
			var saves atomic.Int64
			var created [4]int
			for w := range 4 {
				wg.Go(func() { // requests that loaded alice's sessions before
					// A writer that stops on an error lets the test go on
					// to report it.
					defer once.Do(func() { close(busy) })
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						id := fmt.Sprint("old", (w+i)%before)
						var err error
						switch i % 3 {
						case 0:
							err = s.Replace(ctx, id, session{Name: "alice", UserID: int64(i)})
						case 1:
							err = s.Update(ctx, id, func(v *session) error { v.UserID++; return nil })
						case 2:
							err = s.Touch(ctx, id, session{Name: "alice"})
						}
						if err == nil {
							if saves.Add(1) == 40 {
								once.Do(func() { close(busy) })
							}
						} else if !errors.Is(err, typedstore.ErrNotFound) {
							t.Errorf("saving %s: %v", id, err)
							return
						}
						// New logins go on meanwhile.
						if err := s.Create(ctx, fmt.Sprint("new", w, "-", i), session{Name: "alice"}); err != nil {
							t.Errorf("Create: %v", err)
							return
						}
						created[w]++
					}
				})
			}
			<-busy // the writers are saving old sessions
			n, err := s.DeleteOwned(ctx, "alice")
			if err != nil {
				t.Fatalf("DeleteOwned: %v", err)
			}
			// Every old session is gone now, whatever the writers do next.
			for i := range before {
				if _, err := s.Get(ctx, fmt.Sprint("old", i)); !errors.Is(err, typedstore.ErrNotFound) {
					t.Errorf("old%d after DeleteOwned returned: %v; want ErrNotFound", i, err)
				}
			}
			for range 10 { // the writers keep trying for a while
				runtime.Gosched()
				for i := range before {
					if _, err := s.Get(ctx, fmt.Sprint("old", i)); !errors.Is(err, typedstore.ErrNotFound) {
						t.Fatalf("old%d came back: %v", i, err)
					}
				}
			}
			close(stop)
			wg.Wait()
			if _, err := s.Get(ctx, "bob1"); err != nil {
				t.Errorf("bob's session: %v", err)
			}
			survivors := owned(t, s, "alice")
			for _, id := range survivors {
				if !strings.HasPrefix(id, "new") {
					t.Errorf("survivor %q is not a session created during DeleteOwned", id)
				}
			}
			checkIndexesAgree(t, client, s, "alice", "bob")
			total := 0
			for w := range 4 {
				total += created[w]
			}
			t.Logf("DeleteOwned deleted %d; %d saves of old sessions succeeded, each before DeleteOwned deleted its session; %d sessions created by the writers, %d survive, all indexed",
				n, saves.Load(), total, len(survivors))
		})
	}
}

// Goroutines log in, switch user, log out, extend and update sessions of a
// few owners while DeleteOwned runs again and again. Afterwards, once a
// listing has pruned them, every index holds exactly the live sessions of
// its owner.
func TestDeleteOwnedUnderConcurrentLogins(t *testing.T) {
	for name, newClient := range bothServers() {
		t.Run(name, func(t *testing.T) {
			client := newClient(t)
			s := ownedStore(t, client, typedstore.Options[session]{MaxPerOwner: 6})
			ctx := context.Background()
			owners := []string{"alice", "bob", "carol"}
			const workers, rounds = 6, 150
			var ops [workers][5]int // login, switch, logout, extend, update
			var deleted [2]int
			stop := make(chan struct{})
			var wg, dg sync.WaitGroup
			for d := range 2 {
				dg.Go(func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						n, err := s.DeleteOwned(ctx, owners[(i+d)%len(owners)], fmt.Sprint("w0-", i%rounds))
						if err != nil {
							t.Errorf("DeleteOwned: %v", err)
							return
						}
						deleted[d] += n
					}
				})
			}
			for w := range workers {
				wg.Go(func() {
					for i := range rounds {
						id := fmt.Sprint("w", w, "-", i%25)
						owner := owners[(w*7+i)%len(owners)]
						var err error
						switch k := (w + i) % 5; k {
						case 0:
							err = s.Set(ctx, id, session{Name: owner})
							ops[w][k]++
						case 1:
							err = s.Replace(ctx, id, session{Name: owners[(w+i+1)%len(owners)]})
							ops[w][k]++
						case 2:
							err = s.Update(ctx, id, func(v *session) error { v.Name = ""; return nil })
							ops[w][k]++
						case 3:
							_, err = s.GetAndExtend(ctx, id, time.Hour)
							ops[w][k]++
						case 4:
							err = s.Update(ctx, id, func(v *session) error { v.UserID++; return nil })
							ops[w][k]++
						}
						if err != nil && !errors.Is(err, typedstore.ErrNotFound) {
							t.Errorf("worker %d: %v", w, err)
							return
						}
					}
				})
			}
			wg.Wait()
			close(stop)
			dg.Wait()
			checkIndexesAgree(t, client, s, owners...)
			var sum [5]int
			for w := range workers {
				for k := range 5 {
					sum[k] += ops[w][k]
				}
			}
			t.Logf("%d logins, %d switches, %d logouts, %d extends, %d updates; DeleteOwned deleted %d", sum[0], sum[1], sum[2], sum[3], sum[4], deleted[0]+deleted[1])
		})
	}
}

// checkIndexesAgree lists each owner's sessions (which prunes the index)
// and checks that each index then holds exactly the live sessions of its
// owner, as a scan of every session says.
func checkIndexesAgree(t *testing.T, client redis.UniversalClient, s *typedstore.Store[session], owners ...string) {
	t.Helper()
	all, err := collectAll(t, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range owners {
		var want []string
		for id, v := range all {
			if v.Name == o {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		if got := owned(t, s, o); !slices.Equal(got, want) {
			t.Errorf("OwnedBy(%q) = %q; a scan of every session says %q", o, got, want)
		}
		if got := indexEntries(t, client, s, o); !slices.Equal(got, want) {
			t.Errorf("after listing, %q's index = %q; want exactly %q", o, got, want)
		}
	}
}

// Under DisableTTL sessions never expire, and neither do their indexes.
func TestOwnerIndexWithoutTTL(t *testing.T) {
	for name, newClient := range bothServers() {
		t.Run(name, func(t *testing.T) {
			client := newClient(t)
			s := ownedStore(t, client, typedstore.Options[session]{DisableTTL: true})
			ctx := context.Background()
			mustSet(t, s, "x", "alice")
			mustSet(t, s, "y", "alice")
			key := "owner:" + s.Prefix() + "alice"
			if ttl, err := client.PTTL(ctx, key).Result(); err != nil || ttl != -1 {
				t.Errorf("PTTL of the index = %v, %v; want -1 (no expiry)", ttl, err)
			}
			if got := owned(t, s, "alice"); !slices.Equal(got, []string{"x", "y"}) {
				t.Errorf("alice's sessions = %q", got)
			}
			if n, err := s.DeleteOwned(ctx, "alice", "y"); err != nil || n != 1 {
				t.Errorf("DeleteOwned = %d, %v; want 1", n, err)
			}
		})
	}
}

// OwnedBy and CountOwned cost two round trips (a ZSCAN of the index and an
// MGET of the sessions), DeleteOwned four (and an UNLINK and the script
// that removes the entries), whatever else Redis holds.
func TestOwnedRoundTrips(t *testing.T) {
	_, client, _ := newMini(t, typedstore.Options[session]{})
	s := ownedStore(t, client, typedstore.Options[session]{})
	ctx := context.Background()
	// Three sessions each for 100 users; a first DeleteOwned loads the
	// script.
	writeOwned(t, s, 300, 100)
	if _, err := s.DeleteOwned(ctx, "user1"); err != nil {
		t.Fatal(err)
	}
	log := &commandLog{}
	client.AddHook(log)
	trips := func(f func()) int {
		before := log.roundTrips
		f()
		return log.roundTrips - before
	}
	if n := trips(func() { owned(t, s, "user7") }); n != 2+2 { // OwnedBy, then CountOwned
		t.Errorf("OwnedBy and CountOwned took %d round trips; want 2 each", n)
	}
	// Breaking out of OwnedBy stops all further Redis calls, even with an
	// entry to prune.
	if err := s.Delete(ctx, "s8"); err != nil { // one of user8's three
		t.Fatal(err)
	}
	evals := log.count("evalsha")
	if n := trips(func() {
		seq, errf := s.OwnedBy(ctx, "user8")
		for range seq {
			break
		}
		if err := errf(); err != nil {
			t.Fatal(err)
		}
	}); n != 3 || log.count("evalsha") != evals {
		// ZSCAN, MGET, and TYPE of the key MGET found missing (MGET
		// answers nil for a key of another type too); no script.
		t.Errorf("OwnedBy broken out of took %d round trips and %d scripts; want 3 and none", n, log.count("evalsha")-evals)
	}
	if n := trips(func() {
		if n, err := s.DeleteOwned(ctx, "user7"); err != nil || n != 3 {
			t.Fatalf("DeleteOwned = %d, %v; want 3", n, err)
		}
	}); n != 4 {
		t.Errorf("DeleteOwned took %d round trips; want 4", n)
	}
}

// An entry's score only goes up, by at least a millisecond at each write:
// a write that shortens a session's expiry leaves the entry reaching at
// least as far as before, so no writer can cut short what another promised.
func TestIndexScoreOnlyGoesUp(t *testing.T) {
	_, client, _ := newMini(t, typedstore.Options[session]{})
	s := ownedStore(t, client, typedstore.Options[session]{})
	ctx := context.Background()
	key := "owner:" + s.Prefix() + "alice"
	long, short := expiring(1, 2*time.Hour), expiring(1, time.Hour)
	long.Name, short.Name = "alice", "alice"
	if err := s.Set(ctx, "x", long); err != nil {
		t.Fatal(err)
	}
	first := client.ZScore(ctx, key, "x").Val()
	if err := s.Set(ctx, "x", short); err != nil {
		t.Fatal(err)
	}
	if got := client.ZScore(ctx, key, "x").Val(); got < first+1 {
		t.Errorf("score after a shorter write = %.0f; want at least %.0f + 1", got, first)
	}
}

// A session written again while DeleteOwned or a listing removes its
// entry keeps the entry: the removal is conditional on the score it read,
// and the write raised it.
func TestRewrittenSessionKeepsItsEntry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after string // the command after which the session is written again
		run   func(*typedstore.Store[session]) error
	}{
		{"DeleteOwned", "unlink", func(s *typedstore.Store[session]) error {
			_, err := s.DeleteOwned(context.Background(), "alice")
			return err
		}},
		{"OwnedBy", "mget", func(s *typedstore.Store[session]) error {
			seq, errf := s.OwnedBy(context.Background(), "alice")
			for range seq {
			}
			return errf()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, client, _ := newMini(t, typedstore.Options[session]{})
			s := ownedStore(t, client, typedstore.Options[session]{})
			ctx := context.Background()
			mustSet(t, s, "x", "alice")
			if tc.name == "OwnedBy" {
				// The session is gone when the listing reads it.
				if err := s.Delete(ctx, "x"); err != nil {
					t.Fatal(err)
				}
			}
			var done atomic.Bool
			client.AddHook(afterCommand(tc.after, func(redis.Cmder) {
				if !done.Swap(true) {
					mustSet(t, s, "x", "alice")
				}
			}))
			if err := tc.run(s); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, "x"); err != nil {
				t.Fatalf("the session written again: %v", err)
			}
			if got := indexEntries(t, client, s, "alice"); !slices.Equal(got, []string{"x"}) {
				t.Errorf("alice's index = %q; want the session written again, [x]", got)
			}
		})
	}
}
