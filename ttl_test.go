package typedstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/typedstore/typedstore"
)

// overrides embeds a Cookie but takes its expiry from a field of its own.
type overrides struct {
	typedstore.Cookie `json:"cookie"`
	Until             time.Time `json:"until"`
}

func (o overrides) Expires() time.Time { return o.Until }

// ownExpiry has no Cookie; its pointer implements Expirer.
type ownExpiry struct {
	Until time.Time `json:"until"`
}

func (o *ownExpiry) Expires() time.Time { return o.Until }

// nested embeds a Cookie one level down.
type nested struct {
	session
	Extra string `json:"extra"`
}

// Whichever way a type gets its Expires method, the store uses that method.
func TestExpiryMethods(t *testing.T) {
	ctx := context.Background()
	in := func(d time.Duration) *time.Time { t := time.Now().Add(d); return &t }
	check := func(t *testing.T, ttl, want time.Duration) {
		t.Helper()
		if ttl < want-2*time.Second || ttl > want {
			t.Errorf("TTL = %v; want about %v", ttl, want)
		}
	}
	t.Run("embedded Cookie", func(t *testing.T) {
		mr, _, s := newMini(t, typedstore.Options[session]{})
		if err := s.Set(ctx, "k", session{Cookie: typedstore.Cookie{ExpiresAt: in(time.Hour)}}); err != nil {
			t.Fatal(err)
		}
		check(t, mr.TTL("sess:k"), time.Hour)
	})
	t.Run("own Expires overrides the embedded Cookie's", func(t *testing.T) {
		mr, _, s := newMini(t, typedstore.Options[overrides]{})
		v := overrides{Cookie: typedstore.Cookie{ExpiresAt: in(time.Hour)}, Until: *in(10 * time.Minute)}
		if err := s.Set(ctx, "k", v); err != nil {
			t.Fatal(err)
		}
		check(t, mr.TTL("sess:k"), 10*time.Minute)
	})
	t.Run("pointer receiver, no Cookie", func(t *testing.T) {
		mr, _, s := newMini(t, typedstore.Options[ownExpiry]{})
		if err := s.Set(ctx, "k", ownExpiry{Until: *in(20 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		check(t, mr.TTL("sess:k"), 20*time.Minute)
	})
	t.Run("Cookie embedded one level down", func(t *testing.T) {
		mr, _, s := newMini(t, typedstore.Options[nested]{})
		v := nested{session: session{Cookie: typedstore.Cookie{ExpiresAt: in(30 * time.Minute)}}}
		if err := s.Set(ctx, "k", v); err != nil {
			t.Fatal(err)
		}
		check(t, mr.TTL("sess:k"), 30*time.Minute)
	})
	t.Run("no Expires at all", func(t *testing.T) {
		mr, _, s := newMini(t, typedstore.Options[counter]{TTL: 5 * time.Minute})
		if err := s.Set(ctx, "k", counter{N: 1}); err != nil {
			t.Fatal(err)
		}
		check(t, mr.TTL("sess:k"), 5*time.Minute)
	})
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

// An expiry further away than a time.Duration can hold (about 292 years)
// keeps the session for as long as one can, through Set and through Update:
// the time to live saturates rather than wrapping to a negative one, which
// would delete the session.
func TestFarExpiryKeepsTheSession(t *testing.T) {
	ctx := context.Background()
	for _, year := range []int{2400, 7000, 9999} {
		t.Run(strconv.Itoa(year), func(t *testing.T) {
			mr, _, s := newMini(t, typedstore.Options[session]{})
			exp := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
			v := session{Cookie: typedstore.Cookie{ExpiresAt: &exp}, UserID: 1}
			if got := s.TTLOf(v); got < 290*365*24*time.Hour {
				t.Fatalf("TTLOf(expiry in %d) = %v; want about 292 years", year, got)
			}
			if err := s.Set(ctx, "k", v); err != nil {
				t.Fatal(err)
			}
			if !mr.Exists("sess:k") {
				t.Fatal("Set deleted a session that expires far in the future")
			}
			if err := s.Update(ctx, "k", func(v *session) error { v.Name = "far"; return nil }); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, "k")
			if err != nil {
				t.Fatalf("Get after Update: %v", err)
			}
			if got.Name != "far" {
				t.Errorf("Name = %q after Update; want %q", got.Name, "far")
			}
		})
	}
}
