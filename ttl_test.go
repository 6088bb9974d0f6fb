package typedstore_test

import (
	"context"
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
