package typedstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/redistest"
)

func TestMigrate(t *testing.T) {
	for name, newClient := range bothServers() {
		t.Run(name, func(t *testing.T) { testMigrate(t, newClient(t), redistest.UniquePrefix(t)) })
	}
}

// testMigrate stores sessions of every version, some that cannot be
// migrated, and runs Migrate: a dry run counts them and writes nothing, a
// run migrates every stale one and reports the failures with their ids, and
// a second run finds everything current.
func testMigrate(t *testing.T, client redis.UniversalClient, prefix string) {
	ctx := context.Background()
	s, err := typedstore.New(client, typedstore.Options[shapeV3]{Prefix: prefix, Version: 3, Migrations: migrations, ScanCount: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Clear(context.Background()) })
	put := func(id, data string) {
		if err := client.Set(ctx, prefix+id, data, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	v := shapeV1{Name: "Ada Lovelace", Cart: []string{"pen", "pen", "ink"}}
	want := map[int]int{0: 40, 1: 30, 2: 20, 3: 10}
	for ver, n := range want {
		for i := range n {
			put(fmt.Sprintf("v%d-%d", ver, i), storedAs(t, v, ver, nil))
		}
	}
	bad := map[string]bool{}
	for i := range 5 {
		id := fmt.Sprintf("bad-%d", i)
		bad[id] = true
		put(id, `{"schemaVersion":1,"name":42}`) // the migration cannot read the name
	}
	want[1] += 5

	var progress []typedstore.MigrateReport
	dry, err := s.Migrate(ctx, typedstore.MigrateOptions{DryRun: true, Progress: func(r typedstore.MigrateReport) { progress = append(progress, r) }})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Sessions != 105 || fmt.Sprint(dry.Versions) != fmt.Sprint(want) || dry.Migrated != 90 || dry.Failed != 5 {
		t.Errorf("dry run = %d sessions, versions %v, %d to migrate, %d failing; want 105, %v, 90, 5", dry.Sessions, dry.Versions, dry.Migrated, dry.Failed, want)
	}
	if len(progress) == 0 || fmt.Sprint(progress[len(progress)-1]) != fmt.Sprint(dry) {
		t.Errorf("progress reports %v; want one per batch, the last the final report", progress)
	}
	if raw := client.Get(ctx, prefix+"v1-0").Val(); raw != storedAs(t, v, 1, nil) {
		t.Errorf("a dry run wrote %s", raw)
	}
	for _, err := range dry.Errors {
		var ce *typedstore.CorruptError
		if !errors.As(err, &ce) || !bad[ce.ID] {
			t.Errorf("failure %v; want a *CorruptError of a bad session", err)
		}
	}

	r, err := s.Migrate(ctx, typedstore.MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Migrated != 90 || r.Failed != 5 || r.Changed != 0 {
		t.Errorf("run = %d migrated, %d failed, %d changed; want 90, 5, 0", r.Migrated, r.Failed, r.Changed)
	}
	for ver, n := range map[int]int{0: 40, 1: 30, 2: 20} {
		for i := range n {
			key := prefix + fmt.Sprintf("v%d-%d", ver, i)
			if raw := client.Get(ctx, key).Val(); !jsonEqual([]byte(raw), []byte(storedAs(t, v, 3, nil))) {
				t.Fatalf("%s after Migrate: %s; want %s", key, raw, storedAs(t, v, 3, nil))
			}
			if ttl := client.PTTL(ctx, key).Val(); ttl < 59*time.Minute {
				t.Fatalf("%s: time to live %v after Migrate; want it kept", key, ttl)
			}
		}
	}
	again, err := s.Migrate(ctx, typedstore.MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Migrated != 0 || again.Versions[3] != 100 || again.Failed != 5 {
		t.Errorf("second run = %d migrated, versions %v, %d failed; want 0, 100 at version 3, 5", again.Migrated, again.Versions, again.Failed)
	}
}

// An interrupted Migrate reports what it did and the context's error; run
// again, it finishes.
func TestMigrateResumes(t *testing.T) {
	client := redistest.Client(t) // SCAN in batches of about ScanCount, which miniredis ignores
	prefix := redistest.UniquePrefix(t)
	s, err := typedstore.New(client, typedstore.Options[shapeV3]{Prefix: prefix, Version: 3, Migrations: migrations, ScanCount: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Clear(context.Background()) })
	ctx := context.Background()
	for i := range 100 {
		client.Set(ctx, fmt.Sprintf("%s%d", prefix, i), storedAs(t, shapeV1{Name: "A B"}, 1, nil), time.Hour)
	}
	stop, cancel := context.WithCancel(ctx)
	first, err := s.Migrate(stop, typedstore.MigrateOptions{Progress: func(r typedstore.MigrateReport) {
		if r.Sessions >= 30 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || first.Migrated == 0 || first.Migrated == 100 {
		t.Fatalf("interrupted Migrate = %d migrated, %v; want some, and context.Canceled", first.Migrated, err)
	}
	second, err := s.Migrate(ctx, typedstore.MigrateOptions{})
	if err != nil || first.Migrated+second.Migrated != 100 {
		t.Errorf("the second run migrated %d (%v) after %d; want the remaining %d", second.Migrated, err, first.Migrated, 100-first.Migrated)
	}
}

// A dry run finds every session that the run would fail on: one whose
// migrated shape is over MaxSize, and one in the current version that does
// not decode; each failure carries the id, and no message holds it.
func TestMigrateReportsEveryFailure(t *testing.T) {
	grow := func([]byte) ([]byte, error) { return []byte(`{"first":"` + strings.Repeat("x", 2000) + `"}`), nil }
	mr, _, s := newMini(t, typedstore.Options[shapeV2]{Version: 2, MaxSize: 1000, Migrations: map[int]func([]byte) ([]byte, error){1: grow}})
	mr.Set("sess:grows-too-large", `{"schemaVersion":1,"name":"A B"}`)
	mr.Set("sess:current-but-bad", `{"schemaVersion":2,"first":42}`)
	for _, dry := range []bool{true, false} {
		r, err := s.Migrate(t.Context(), typedstore.MigrateOptions{DryRun: dry})
		if err != nil {
			t.Fatal(err)
		}
		if r.Failed != 2 || r.Migrated != 0 {
			t.Errorf("dry run %v: %d failed, %d migrated; want 2, 0", dry, r.Failed, r.Migrated)
		}
		for _, err := range r.Errors {
			var ce *typedstore.CorruptError
			if !errors.As(err, &ce) || (ce.ID != "grows-too-large" && ce.ID != "current-but-bad") {
				t.Errorf("dry run %v: failure %v; want a *CorruptError with the id", dry, err)
			}
			if strings.Contains(err.Error(), "grows-too-large") || strings.Contains(err.Error(), "current-but-bad") {
				t.Errorf("dry run %v: message %q holds the id", dry, err)
			}
		}
	}
}
