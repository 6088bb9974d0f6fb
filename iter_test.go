package typedstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
)

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
