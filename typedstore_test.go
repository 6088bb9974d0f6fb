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
	client := redis.NewClient(&redis.Options{Addr: closedAddr(t), MaxRetries: -1, DialerRetries: 1})
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

func TestCreateAndReplace(t *testing.T) {
	ctx := context.Background()
	mr, _, s := newMini(t, typedstore.Options[session]{})

	if err := s.Replace(ctx, "k", session{Name: "ghost"}); !errors.Is(err, typedstore.ErrNotFound) {
		t.Errorf("Replace of a missing session = %v; want ErrNotFound", err)
	}
	if mr.Exists("sess:k") {
		t.Error("Replace created a session")
	}
	if err := s.Create(ctx, "k", expiring(1, time.Hour)); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if ttl := mr.TTL("sess:k"); ttl < 59*time.Minute {
		t.Errorf("TTL after Create = %v; want the cookie's hour", ttl)
	}
	if err := s.Create(ctx, "k", session{Name: "intruder"}); !errors.Is(err, typedstore.ErrExists) {
		t.Errorf("Create over an existing session = %v; want ErrExists", err)
	}
	if err := s.Replace(ctx, "k", session{UserID: 2}); err != nil {
		t.Errorf("Replace of an existing session = %v; want nil", err)
	}
	if got, _ := s.Get(ctx, "k"); got.UserID != 2 || got.Name != "" {
		t.Errorf("after Replace: %+v; want user 2", got)
	}
	if err := s.Replace(ctx, "k", expiring(2, -time.Second)); err != nil || mr.Exists("sess:k") {
		t.Errorf("Replace with a past expiry = %v, exists %v; want nil, deleted", err, mr.Exists("sess:k"))
	}
	if err := s.Create(ctx, "k", expiring(2, -time.Second)); err != nil || mr.Exists("sess:k") {
		t.Errorf("Create with a past expiry = %v, exists %v; want nil, nothing written", err, mr.Exists("sess:k"))
	}
}

// A request loads its session, the user logs out in another request, then
// the first request saves: the session must stay gone.
func TestLogoutDuringSlowRequestStaysLoggedOut(t *testing.T) {
	ctx := context.Background()
	for name, newClient := range bothServers() {
		t.Run(name, func(t *testing.T) {
			client := newClient(t)
			s, err := typedstore.New(client, typedstore.Options[session]{Prefix: redistest.UniquePrefix(t)})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Create(ctx, "sid", session{UserID: 7}); err != nil {
				t.Fatal(err)
			}
			slow, err := s.Get(ctx, "sid") // the slow request loads…
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, "sid"); err != nil { // …the user logs out…
				t.Fatal(err)
			}
			slow.Cart = append(slow.Cart, "late item") // …the slow request saves
			if err := s.Replace(ctx, "sid", slow); !errors.Is(err, typedstore.ErrNotFound) {
				t.Errorf("Replace after logout = %v; want ErrNotFound", err)
			}
			if err := s.Update(ctx, "sid", func(v *session) error { v.Name = "late"; return nil }); !errors.Is(err, typedstore.ErrNotFound) {
				t.Errorf("Update after logout = %v; want ErrNotFound", err)
			}
			if err := s.Touch(ctx, "sid", slow); !errors.Is(err, typedstore.ErrNotFound) {
				t.Errorf("Touch after logout = %v; want ErrNotFound", err)
			}
			if _, err := s.Get(ctx, "sid"); !errors.Is(err, typedstore.ErrNotFound) {
				t.Errorf("Get after logout = %v; want ErrNotFound: the session came back", err)
			}
		})
	}
}
