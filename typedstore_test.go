package typedstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
)

func TestNewValidatesOptions(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: closedAddr(t)})
	defer client.Close()
	tests := []struct {
		name   string
		client redis.UniversalClient
		opts   typedstore.Options[session]
		want   string
	}{
		{"nil client", nil, typedstore.Options[session]{}, "nil redis client"},
		{"negative TTL", client, typedstore.Options[session]{TTL: -time.Second}, "negative TTL"},
		{"negative ScanCount", client, typedstore.Options[session]{ScanCount: -1}, "negative ScanCount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := typedstore.New(tt.client, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, %v; want error containing %q", s, err, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	mr, _, s := newMini(t, typedstore.Options[session]{})
	if got := s.Prefix(); got != "sess:" {
		t.Errorf("Prefix() = %q; want %q", got, "sess:")
	}
	// A session without a cookie expiry takes the default TTL of one day.
	if err := s.Set(context.Background(), "abc", session{UserID: 1}); err != nil {
		t.Fatal(err)
	}
	if !mr.Exists("sess:abc") {
		t.Fatalf("key sess:abc missing; keys = %q", mr.Keys())
	}
	if ttl := mr.TTL("sess:abc"); ttl < 86399*time.Second || ttl > 86400*time.Second {
		t.Errorf("TTL = %v; want about 86400s", ttl)
	}
}

func TestSetGetRoundTrip(t *testing.T) {
	_, _, s := newMini(t, typedstore.Options[session]{})
	ctx := context.Background()
	want := expiring(42, time.Hour)
	want.Name = "Zoë"
	want.Cart = []string{"apple", "pear"}
	if err := s.Set(ctx, "id1", want); err != nil {
		t.Fatalf("Set: %v", err)
	}
	got, err := s.Get(ctx, "id1")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.UserID != want.UserID || got.Name != want.Name || strings.Join(got.Cart, ",") != "apple,pear" ||
		!got.Expires().Equal(want.Expires()) || *got.OriginalMaxAge != *want.OriginalMaxAge {
		t.Errorf("Get = %+v; want %+v", got, want)
	}
}

func TestGetMissingIsErrNotFound(t *testing.T) {
	mr, _, s := newMini(t, typedstore.Options[session]{})
	ctx := context.Background()
	check := func(when string) {
		t.Helper()
		_, err := s.Get(ctx, "gone")
		if !errors.Is(err, typedstore.ErrNotFound) || errors.Is(err, redis.Nil) {
			t.Errorf("%s: Get = %v; want ErrNotFound, not redis.Nil", when, err)
		}
	}
	check("never written")
	if err := s.Set(ctx, "gone", expiring(1, time.Minute)); err != nil {
		t.Fatal(err)
	}
	mr.FastForward(61 * time.Second)
	check("expired")
	if err := s.Set(ctx, "gone", expiring(1, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	check("deleted")
}

// The connect-redis test suite's lifecycle, step by step.
func TestConnectRedisLifecycle(t *testing.T) {
	mr, _, s := newMini(t, typedstore.Options[session]{})
	ctx := context.Background()

	// Default TTL.
	if err := s.Set(ctx, "123", session{UserID: 1}); err != nil {
		t.Fatal(err)
	}
	if ttl := mr.TTL("sess:123"); ttl < 86399*time.Second {
		t.Errorf("default TTL = %v; want >= 86399s", ttl)
	}

	// Cookie expiry 60 s from now gives a TTL of at most 60 s.
	sess := expiring(2, 60*time.Second)
	if err := s.Set(ctx, "456", sess); err != nil {
		t.Fatal(err)
	}
	if ttl := mr.TTL("sess:456"); ttl > 60*time.Second || ttl < 59*time.Second {
		t.Errorf("TTL after Set with expiry +60s = %v; want in (59s, 60s]", ttl)
	}

	// Touch with the cookie moved to 90 s from now extends it.
	touched := expiring(2, 90*time.Second)
	if err := s.Touch(ctx, "456", touched); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	if ttl := mr.TTL("sess:456"); ttl <= 60*time.Second {
		t.Errorf("TTL after Touch to +90s = %v; want > 60s", ttl)
	}
	// Touch does not rewrite the value.
	if got, _ := s.Get(ctx, "456"); !got.Expires().Equal(sess.Expires()) {
		t.Errorf("Touch rewrote the value: expires = %v; want %v", got.Expires(), sess.Expires())
	}

	// Length, ids and all over two sessions.
	if n, err := s.Len(ctx); n != 2 || err != nil {
		t.Errorf("Len = %d, %v; want 2, nil", n, err)
	}
	if ids, err := collectIDs(t, s); strings.Join(ids, ",") != "123,456" || err != nil {
		t.Errorf("IDs = %q, %v; want [123 456], nil", ids, err)
	}
	all, err := collectAll(t, s)
	if err != nil || len(all) != 2 || all["123"].UserID != 1 || all["456"].UserID != 2 {
		t.Errorf("All = %+v, %v; want sessions 123 (user 1) and 456 (user 2)", all, err)
	}

	// Delete.
	if err := s.Delete(ctx, "456"); err != nil {
		t.Fatal(err)
	}
	if mr.Exists("sess:456") {
		t.Error("sess:456 still exists after Delete")
	}

	// 1000 sessions, then Clear.
	for i := range 1000 {
		if err := s.Set(ctx, fmt.Sprint("bulk", i), session{UserID: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Len(ctx); n != 1001 || err != nil {
		t.Errorf("Len = %d, %v; want 1001, nil", n, err)
	}
	if err := s.Clear(ctx); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	if n, err := s.Len(ctx); n != 0 || err != nil {
		t.Errorf("Len after Clear = %d, %v; want 0, nil", n, err)
	}

	// An expiry in the past deletes.
	if err := s.Set(ctx, "789", expiring(3, time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "789", expiring(3, -time.Second)); err != nil {
		t.Fatalf("Set with past expiry: %v", err)
	}
	if mr.Exists("sess:789") {
		t.Error("sess:789 exists after Set with an expiry in the past")
	}
}

func TestTTLRules(t *testing.T) {
	hour := time.Hour
	tests := []struct {
		name    string
		opts    typedstore.Options[session]
		v       session
		wantMin time.Duration // inclusive; 0 with wantNone means no expiry
		wantMax time.Duration
		none    bool // key has no expiry
		deleted bool // key does not exist
	}{
		{"option TTL", typedstore.Options[session]{TTL: 10 * time.Minute}, session{}, 10 * time.Minute, 10 * time.Minute, false, false},
		{"cookie beats option TTL", typedstore.Options[session]{TTL: 10 * time.Minute}, expiring(1, hour), hour - time.Second, hour, false, false},
		{"TTLFunc beats cookie", typedstore.Options[session]{TTLFunc: func(session) time.Duration { return 5 * time.Second }}, expiring(1, hour), 5 * time.Second, 5 * time.Second, false, false},
		{"TTLFunc zero deletes", typedstore.Options[session]{TTLFunc: func(session) time.Duration { return 0 }}, expiring(1, hour), 0, 0, false, true},
		{"TTLFunc negative deletes", typedstore.Options[session]{TTLFunc: func(session) time.Duration { return -time.Second }}, session{}, 0, 0, false, true},
		{"past cookie deletes", typedstore.Options[session]{}, expiring(1, -time.Minute), 0, 0, false, true},
		{"DisableTTL writes no expiry", typedstore.Options[session]{DisableTTL: true}, expiring(1, hour), 0, 0, true, false},
		{"DisableTTL still deletes a past cookie", typedstore.Options[session]{DisableTTL: true}, expiring(1, -time.Minute), 0, 0, false, true},
		{"sub-second cookie rounds up", typedstore.Options[session]{}, expiring(1, 1500*time.Millisecond), time.Second, 1500 * time.Millisecond, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mr, _, s := newMini(t, tt.opts)
			ctx := context.Background()
			// An earlier value with an expiry, so that overwriting it shows
			// whether the old expiry was cleared or the key deleted.
			mr.Set("sess:k", "{}")
			mr.SetTTL("sess:k", 7*time.Second)
			if err := s.Set(ctx, "k", tt.v); err != nil {
				t.Fatalf("Set: %v", err)
			}
			switch {
			case tt.deleted:
				if mr.Exists("sess:k") {
					t.Errorf("key exists with TTL %v; want it deleted", mr.TTL("sess:k"))
				}
			case tt.none:
				if ttl := mr.TTL("sess:k"); !mr.Exists("sess:k") || ttl != 0 {
					t.Errorf("exists = %v, TTL = %v; want a key with no expiry", mr.Exists("sess:k"), ttl)
				}
			default:
				if ttl := mr.TTL("sess:k"); ttl < tt.wantMin || ttl > tt.wantMax {
					t.Errorf("TTL = %v; want in [%v, %v]", ttl, tt.wantMin, tt.wantMax)
				}
			}
		})
	}
}

// A cookie expiry is never rounded down: the session outlives it.
func TestCookieExpiryRoundsUp(t *testing.T) {
	mr, _, s := newMini(t, typedstore.Options[session]{})
	v := expiring(1, 2*time.Second)
	*v.ExpiresAt = v.ExpiresAt.Add(300 * time.Microsecond) // not a whole millisecond
	if err := s.Set(context.Background(), "k", v); err != nil {
		t.Fatal(err)
	}
	// The TTL must cover the time until the expiry, not fall short of it.
	if ttl, left := mr.TTL("sess:k"), time.Until(v.Expires()); ttl < left {
		t.Errorf("TTL = %v; want at least the %v left until the cookie expires", ttl, left)
	}
	if got := s.TTLOf(v); got%time.Millisecond != 0 {
		t.Errorf("TTLOf(v) = %v; want a whole number of milliseconds", got)
	}
}

func TestTouch(t *testing.T) {
	ctx := context.Background()
	t.Run("missing session is not created", func(t *testing.T) {
		mr, _, s := newMini(t, typedstore.Options[session]{})
		if err := s.Touch(ctx, "nope", expiring(1, time.Hour)); !errors.Is(err, typedstore.ErrNotFound) {
			t.Errorf("Touch = %v; want ErrNotFound", err)
		}
		if mr.Exists("sess:nope") {
			t.Error("Touch created a session")
		}
	})
	t.Run("past expiry deletes", func(t *testing.T) {
		mr, _, s := newMini(t, typedstore.Options[session]{})
		if err := s.Set(ctx, "k", expiring(1, time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.Touch(ctx, "k", expiring(1, -time.Second)); err != nil {
			t.Fatalf("Touch: %v", err)
		}
		if mr.Exists("sess:k") {
			t.Error("session exists after Touch with an expiry in the past")
		}
	})
	for _, opts := range []typedstore.Options[session]{{DisableTouch: true}, {DisableTTL: true}} {
		t.Run(fmt.Sprintf("no-op with DisableTouch=%v DisableTTL=%v", opts.DisableTouch, opts.DisableTTL), func(t *testing.T) {
			mr, _, s := newMini(t, opts)
			if err := s.Set(ctx, "k", expiring(1, time.Minute)); err != nil {
				t.Fatal(err)
			}
			before := mr.TTL("sess:k")
			if err := s.Touch(ctx, "k", expiring(1, time.Hour)); err != nil {
				t.Fatalf("Touch: %v", err)
			}
			if after := mr.TTL("sess:k"); after != before {
				t.Errorf("TTL after Touch = %v; want it unchanged at %v", after, before)
			}
			if err := s.Touch(ctx, "missing", expiring(1, time.Hour)); err != nil {
				t.Errorf("Touch of a missing session = %v; want nil (no-op)", err)
			}
		})
	}
	t.Run("expired session is not revived", func(t *testing.T) {
		mr, _, s := newMini(t, typedstore.Options[session]{})
		if err := s.Set(ctx, "k", expiring(1, time.Minute)); err != nil {
			t.Fatal(err)
		}
		mr.FastForward(2 * time.Minute)
		if err := s.Touch(ctx, "k", expiring(1, time.Hour)); !errors.Is(err, typedstore.ErrNotFound) {
			t.Errorf("Touch of an expired session = %v; want ErrNotFound", err)
		}
	})
}

func TestIDs(t *testing.T) {
	ctx := context.Background()
	hostile := []string{
		"plain",
		"with space",
		"nul\x00byte",
		"new\nline\r\n",
		"glob*?[a-z]\\",
		"üñíçødé-世界",
		"\xff\xfe invalid utf-8",
		"sess:nested",
		strings.Repeat("x", typedstore.MaxIDLen),
	}
	mr, _, s := newMini(t, typedstore.Options[session]{})
	for i, id := range hostile {
		if err := s.Set(ctx, id, session{UserID: int64(i)}); err != nil {
			t.Fatalf("Set(%q): %v", id, err)
		}
	}
	for i, id := range hostile {
		got, err := s.Get(ctx, id)
		if err != nil || got.UserID != int64(i) {
			t.Errorf("Get(%q) = %+v, %v; want user %d", id, got, err, i)
		}
		if !mr.Exists("sess:" + id) {
			t.Errorf("key %q missing: keys are prefix+id byte for byte", "sess:"+id)
		}
	}
	ids, err := collectIDs(t, s)
	if err != nil || len(ids) != len(hostile) {
		t.Errorf("IDs = %d ids, %v; want %d, nil", len(ids), err, len(hostile))
	}
	if err := s.Delete(ctx, hostile...); err != nil {
		t.Fatal(err)
	}
	if keys := mr.Keys(); len(keys) != 0 {
		t.Errorf("keys after Delete = %q; want none", keys)
	}
}

func TestInvalidIDs(t *testing.T) {
	ctx := context.Background()
	mr, _, s := newMini(t, typedstore.Options[session]{})
	for _, id := range []string{"", strings.Repeat("x", typedstore.MaxIDLen+1)} {
		calls := map[string]error{}
		_, calls["Get"] = s.Get(ctx, id)
		calls["Set"] = s.Set(ctx, id, session{})
		calls["Touch"] = s.Touch(ctx, id, session{})
		calls["Delete"] = s.Delete(ctx, "ok", id)
		for name, err := range calls {
			if !errors.Is(err, typedstore.ErrInvalidID) {
				t.Errorf("%s(id of %d bytes) = %v; want ErrInvalidID", name, len(id), err)
			}
		}
	}
	if keys := mr.Keys(); len(keys) != 0 {
		t.Errorf("keys = %q; want none written", keys)
	}
	if n := mr.CommandCount(); n != 0 {
		t.Errorf("%d commands reached Redis; want 0 for invalid ids", n)
	}
}

func TestCorruptValue(t *testing.T) {
	ctx := context.Background()
	mr, _, s := newMini(t, typedstore.Options[session]{})
	corrupt := map[string]string{
		"truncated": `{"cookie":{"path":"/"},"userId":4`,
		"random":    "\x00\x01\x02garbage",
		"wrongtype": `{"userId":"not a number"}`,
	}
	for id, raw := range corrupt {
		mr.Set("sess:"+id, raw)
	}
	for id, raw := range corrupt {
		_, err := s.Get(ctx, id)
		var ce *typedstore.CorruptError
		if !errors.Is(err, typedstore.ErrCorrupt) || !errors.As(err, &ce) || ce.ID != id {
			t.Errorf("Get(%q) = %v; want a *CorruptError for that id wrapping ErrCorrupt", id, err)
		}
		if err != nil && strings.Contains(err.Error(), id) {
			t.Errorf("error %q holds the whole id %q; want at most a hint", err, id)
		}
		if got, _ := mr.Get("sess:" + id); got != raw {
			t.Errorf("stored bytes of %q = %q; want them untouched (%q)", id, got, raw)
		}
	}
}

func TestAllReportsCorruptEntriesAndGoesOn(t *testing.T) {
	ctx := context.Background()
	mr, _, s := newMini(t, typedstore.Options[session]{ScanCount: 3})
	for i := range 10 {
		if err := s.Set(ctx, fmt.Sprint("good", i), session{UserID: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	mr.Set("sess:bad1", "{")
	mr.Set("sess:bad2", "[1,2]")
	got, err := collectAll(t, s)
	if len(got) != 10 {
		t.Errorf("All yielded %d sessions; want the 10 good ones", len(got))
	}
	if !errors.Is(err, typedstore.ErrCorrupt) {
		t.Fatalf("All error = %v; want ErrCorrupt", err)
	}
	var ids []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *typedstore.CorruptError
		if errors.As(e, &ce) {
			ids = append(ids, ce.ID)
		}
	}
	slices.Sort(ids)
	if want := []string{"bad1", "bad2"}; !slices.Equal(ids, want) {
		t.Errorf("All reported corrupt ids %q; want %q", ids, want)
	}
	if v, _ := mr.Get("sess:bad1"); v != "{" {
		t.Errorf("corrupt value changed to %q", v)
	}
}

func TestAllSkipsKeysThatExpireDuringTheScan(t *testing.T) {
	ctx := context.Background()
	mr, client, s := newMini(t, typedstore.Options[session]{})
	for _, id := range []string{"a", "b", "c"} {
		if err := s.Set(ctx, id, session{Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	// Delete b after SCAN has returned it and before MGET fetches it.
	client.AddHook(beforeCommand("mget", func() { mr.Del("sess:b") }))
	got, err := collectAll(t, s)
	if err != nil || len(got) != 2 || got["a"].Name != "a" || got["c"].Name != "c" {
		t.Errorf("All = %+v, %v; want a and c only, nil", got, err)
	}
}

func TestIterationYieldsEachSessionOnceWhenScanRepeatsKeys(t *testing.T) {
	ctx := context.Background()
	_, client, s := newMini(t, typedstore.Options[session]{ScanCount: 2})
	for i := range 6 {
		if err := s.Set(ctx, fmt.Sprint("id", i), session{UserID: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Make every SCAN reply repeat its own keys and those of the reply
	// before it, as SCAN may while Redis resizes its hash table.
	var prev []string
	client.AddHook(afterCommand("scan", func(cmd redis.Cmder) {
		sc := cmd.(*redis.ScanCmd)
		keys, cursor := sc.Val()
		dup := append(append(append([]string{}, keys...), keys...), prev...)
		prev = keys
		sc.SetVal(dup, cursor)
	}))
	all, err := collectAll(t, s)
	if err != nil || len(all) != 6 {
		t.Errorf("All = %d sessions, %v; want 6, nil", len(all), err)
	}
	ids, err := collectIDs(t, s)
	if err != nil || len(ids) != 6 {
		t.Errorf("IDs = %q, %v; want 6 distinct ids", ids, err)
	}
	if n, err := s.Len(ctx); n != 6 || err != nil {
		t.Errorf("Len = %d, %v; want 6, nil", n, err)
	}
}

func TestBreakStopsRedisCalls(t *testing.T) {
	ctx := context.Background()
	_, client, s := newMini(t, typedstore.Options[session]{ScanCount: 2})
	for i := range 20 {
		if err := s.Set(ctx, fmt.Sprint("id", i), session{}); err != nil {
			t.Fatal(err)
		}
	}
	log := &commandLog{}
	client.AddHook(log)
	seq, errf := s.All(ctx)
	for range seq {
		break
	}
	if err := errf(); err != nil {
		t.Errorf("error after break = %v; want nil", err)
	}
	// The first SCAN batch may be empty for a small COUNT, so allow the
	// scans up to the first non-empty batch, but no MGET after the first.
	if n := log.count("mget"); n != 1 {
		t.Errorf("MGETs after break in the first batch = %d; want 1", n)
	}
	scans := log.count("scan")
	idSeq, _ := s.IDs(ctx)
	for range idSeq {
		break
	}
	if more := log.count("scan") - scans; more > scans {
		t.Errorf("IDs sent %d SCANs before its first id; want no more than All (%d)", more, scans)
	}
	if n := log.count("scan"); n >= 10 {
		t.Errorf("%d SCANs for two broken iterations over 20 keys in batches of 2; want far fewer", n)
	}
}

// On a single server, All fetches each batch and scans for the next in one
// pipeline: one round trip per batch.
func TestAllCostsOneRoundTripPerBatch(t *testing.T) {
	ctx := context.Background()
	_, client, s := newMini(t, typedstore.Options[session]{ScanCount: 10})
	for i := range 95 {
		if err := s.Set(ctx, fmt.Sprint(i), session{UserID: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	log := &commandLog{}
	client.AddHook(log)
	got, err := collectAll(t, s)
	if err != nil || len(got) != 95 {
		t.Fatalf("All = %d sessions, %v; want 95", len(got), err)
	}
	batches := log.count("scan")
	if log.roundTrips > batches+1 {
		t.Errorf("All took %d round trips for %d SCAN batches; want at most %d", log.roundTrips, batches, batches+1)
	}
}

func TestIteratorIsReusable(t *testing.T) {
	ctx := context.Background()
	_, _, s := newMini(t, typedstore.Options[session]{})
	seq, errf := s.IDs(ctx)
	count := func() int {
		n := 0
		for range seq {
			n++
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("first range = %d ids; want 0", n)
	}
	if err := s.Set(ctx, "x", session{}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 || errf() != nil {
		t.Errorf("second range = %d ids, %v; want a new scan that finds 1", n, errf())
	}
}

func TestPrefixIsGlobEscaped(t *testing.T) {
	ctx := context.Background()
	prefixes := []string{"app[1]:", "a*:", "a?:", `a\:`, "[^x]-:", "sess"}
	for _, prefix := range prefixes {
		t.Run(prefix, func(t *testing.T) {
			mr, _, s := newMini(t, typedstore.Options[session]{Prefix: prefix})
			// Keys that a glob of the unescaped prefix would match.
			lookalikes := []string{"app1:x", "appa:x", "a:x", "ab:x", "a\\x", "q-:x", "x:x", "session", "sessx", "app[1]x", "[^x]:x"}
			for _, k := range lookalikes {
				if !strings.HasPrefix(k, prefix) {
					mr.Set(k, "other app")
				}
			}
			for _, id := range []string{"one", "two"} {
				if err := s.Set(ctx, id, session{Name: id}); err != nil {
					t.Fatal(err)
				}
			}
			if ids, err := collectIDs(t, s); strings.Join(ids, ",") != "one,two" || err != nil {
				t.Errorf("IDs = %q, %v; want [one two]", ids, err)
			}
			if all, err := collectAll(t, s); len(all) != 2 || err != nil {
				t.Errorf("All = %v, %v; want 2 sessions", all, err)
			}
			if n, err := s.Len(ctx); n != 2 || err != nil {
				t.Errorf("Len = %d, %v; want 2", n, err)
			}
			if err := s.Clear(ctx); err != nil {
				t.Fatal(err)
			}
			for _, k := range lookalikes {
				if !strings.HasPrefix(k, prefix) && !mr.Exists(k) {
					t.Errorf("Clear deleted %q, a key of another app", k)
				}
			}
			for _, k := range mr.Keys() {
				if strings.HasPrefix(k, prefix) {
					t.Errorf("key %q survived Clear", k)
				}
			}
		})
	}
}

func TestClearLeavesOtherKeys(t *testing.T) {
	ctx := context.Background()
	mr, client, s := newMini(t, typedstore.Options[session]{ScanCount: 7})
	mr.Set("other:1", "x")
	mr.Set("ses:1", "x")
	mr.Set("Sess:1", "x")
	for i := range 250 {
		if err := s.Set(ctx, fmt.Sprint(i), session{}); err != nil {
			t.Fatal(err)
		}
	}
	log := &commandLog{}
	client.AddHook(log)
	if err := s.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if n := log.count("flushdb") + log.count("flushall"); n != 0 {
		t.Errorf("Clear sent %d FLUSH commands", n)
	}
	if keys := mr.Keys(); strings.Join(keys, ",") != "Sess:1,other:1,ses:1" {
		t.Errorf("keys after Clear = %q; want only the other apps' keys", keys)
	}
}

func TestDeleteIgnoresMissingAndEmptyList(t *testing.T) {
	ctx := context.Background()
	mr, _, s := newMini(t, typedstore.Options[session]{})
	if err := s.Delete(ctx); err != nil {
		t.Errorf("Delete() = %v; want nil", err)
	}
	if err := s.Set(ctx, "a", session{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "a", "never-existed"); err != nil {
		t.Errorf("Delete = %v; want nil", err)
	}
	if mr.Exists("sess:a") {
		t.Error("sess:a survived Delete")
	}
}

// gobCodec is a custom codec for the test: the store must use it for both
// directions and report its errors.
type upperCodec struct{}

func (upperCodec) Encode(v string) ([]byte, error) {
	if v == "" {
		return nil, errors.New("empty value")
	}
	return []byte("v1:" + v), nil
}

func (upperCodec) Decode(data []byte, v *string) error {
	s, ok := strings.CutPrefix(string(data), "v1:")
	if !ok {
		return errors.New("missing version tag")
	}
	*v = s
	return nil
}

func TestCustomCodec(t *testing.T) {
	ctx := context.Background()
	mr, _, s := newMini(t, typedstore.Options[string]{Codec: upperCodec{}})
	if err := s.Set(ctx, "k", "hello"); err != nil {
		t.Fatal(err)
	}
	if raw, _ := mr.Get("sess:k"); raw != "v1:hello" {
		t.Errorf("stored %q; want the codec's encoding %q", raw, "v1:hello")
	}
	if got, err := s.Get(ctx, "k"); got != "hello" || err != nil {
		t.Errorf("Get = %q, %v; want hello, nil", got, err)
	}
	if err := s.Set(ctx, "k", ""); err == nil || !strings.Contains(err.Error(), "empty value") {
		t.Errorf("Set with an encode error = %v; want the codec's error", err)
	}
	if raw, _ := mr.Get("sess:k"); raw != "v1:hello" {
		t.Errorf("a failed encode changed the stored value to %q", raw)
	}
	mr.Set("sess:old", "hello")
	if _, err := s.Get(ctx, "old"); !errors.Is(err, typedstore.ErrCorrupt) {
		t.Errorf("Get of undecodable value = %v; want ErrCorrupt", err)
	}
}

func TestPointerSessionType(t *testing.T) {
	ctx := context.Background()
	mr, _, s := newMini(t, typedstore.Options[*session]{TTL: time.Minute})
	// A nil pointer has no cookie expiry: it takes the store's TTL, no panic.
	if err := s.Set(ctx, "nil", nil); err != nil {
		t.Fatalf("Set(nil): %v", err)
	}
	if ttl := mr.TTL("sess:nil"); ttl != time.Minute {
		t.Errorf("TTL of nil session = %v; want %v", ttl, time.Minute)
	}
	v := expiring(5, time.Hour)
	if err := s.Set(ctx, "p", &v); err != nil {
		t.Fatal(err)
	}
	if ttl := mr.TTL("sess:p"); ttl < time.Hour-time.Second {
		t.Errorf("TTL of *session = %v; want the cookie's hour", ttl)
	}
	got, err := s.Get(ctx, "p")
	if err != nil || got == nil || got.UserID != 5 {
		t.Errorf("Get = %+v, %v; want user 5", got, err)
	}
}

func TestContextCancelled(t *testing.T) {
	_, _, s := newMini(t, typedstore.Options[session]{})
	if err := s.Set(context.Background(), "k", session{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, err := range callEveryMethod(ctx, s) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v; want context.Canceled", name, err)
		}
	}
}

func TestHungServerHonoursDeadline(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: silentServer(t), MaxRetries: -1, ReadTimeout: -1, WriteTimeout: -1, ContextTimeoutEnabled: true})
	defer client.Close()
	s, err := typedstore.New(client, typedstore.Options[session]{})
	if err != nil {
		t.Fatal(err)
	}
	const limit = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	for name, err := range callEveryMethod(ctx, s) {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a server that never answers = %v; want context.DeadlineExceeded", name, err)
		}
	}
	// Generous bound: the point is that the calls end, not how fast.
	if elapsed := time.Since(start); elapsed > 30*time.Second {
		t.Errorf("calls took %v after a %v deadline", elapsed, limit)
	}
}

func TestServerDown(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: closedAddr(t), MaxRetries: -1})
	defer client.Close()
	s, err := typedstore.New(client, typedstore.Options[session]{})
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range callEveryMethod(context.Background(), s) {
		if err == nil || errors.Is(err, typedstore.ErrNotFound) || !strings.HasPrefix(err.Error(), "typedstore: ") {
			t.Errorf("%s on a dead server = %v; want a wrapped connection error", name, err)
		}
	}
}

// callEveryMethod calls each Store method that talks to Redis and returns
// their errors by name.
func callEveryMethod(ctx context.Context, s *typedstore.Store[session]) map[string]error {
	errs := map[string]error{}
	_, errs["Get"] = s.Get(ctx, "k")
	errs["Set"] = s.Set(ctx, "k", expiring(1, time.Hour))
	errs["Set (expired)"] = s.Set(ctx, "k", expiring(1, -time.Hour))
	errs["Touch"] = s.Touch(ctx, "k", expiring(1, time.Hour))
	errs["Delete"] = s.Delete(ctx, "k", "j")
	errs["Clear"] = s.Clear(ctx)
	_, errs["Len"] = s.Len(ctx)
	ids, idsErr := s.IDs(ctx)
	for range ids {
	}
	errs["IDs"] = idsErr()
	all, allErr := s.All(ctx)
	for range all {
	}
	errs["All"] = allErr()
	return errs
}

func TestOpen(t *testing.T) {
	mr, _, _ := newMini(t, typedstore.Options[session]{})
	s, err := typedstore.Open("redis://"+mr.Addr()+"/0", typedstore.Options[session]{Prefix: "o:"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx := context.Background()
	if err := s.Set(ctx, "k", session{UserID: 9}); err != nil {
		t.Fatal(err)
	}
	if !mr.Exists("o:k") {
		t.Errorf("Open's store wrote elsewhere: keys = %q", mr.Keys())
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.Get(ctx, "k"); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("Get after Close = %v; want redis.ErrClosed: Close closes the client Open made", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}

	for _, u := range []string{
		"redis://user:secret@localhost:6380/3?dial_timeout=2s",
		"rediss://localhost:6380",
		"unix:///tmp/redis.sock?db=2",
		"redis://localhost:7000?addr=localhost:7001&addr=localhost:7002",
	} {
		s, err := typedstore.Open(u, typedstore.Options[session]{})
		if err != nil {
			t.Errorf("Open(%q): %v", u, err)
			continue
		}
		s.Close()
	}
	cluster, err := typedstore.Open("redis://localhost:7000?addr=localhost:7001", typedstore.Options[session]{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cluster.Client().(*redis.ClusterClient); !ok {
		t.Errorf("Open with addr parameters made a %T; want *redis.ClusterClient", cluster.Client())
	}
	cluster.Close()

	for _, u := range []string{"http://localhost", "redis://user:hunter2@[::1", "redis://localhost/notadb"} {
		if _, err := typedstore.Open(u, typedstore.Options[session]{}); err == nil {
			t.Errorf("Open(%q) = nil error; want one", u)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open error %q leaks the password", err)
		}
	}
	if _, err := typedstore.Open("redis://localhost", typedstore.Options[session]{TTL: -1}); err == nil {
		t.Error("Open with invalid options = nil error; want one")
	}
}

func TestCloseLeavesCallersClientOpen(t *testing.T) {
	_, client, s := newMini(t, typedstore.Options[session]{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Errorf("caller's client after Store.Close: %v; want it still open", err)
	}
}
