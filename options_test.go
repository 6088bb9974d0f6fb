package typedstore_test

import (
	"context"
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
		{"negative MaxSize", client, typedstore.Options[session]{MaxSize: -1}, "negative MaxSize"},
		{"negative UpdateAttempts", client, typedstore.Options[session]{UpdateAttempts: -1}, "negative UpdateAttempts"},
		{"negative TouchSlack", client, typedstore.Options[session]{TouchSlack: -time.Second}, "negative TouchSlack"},
		{"negative PipelineWrites", client, typedstore.Options[session]{PipelineWrites: -1}, "negative PipelineWrites"},
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

// New refuses a T that embeds a pointer to Cookie, Lifetime or Extra, whose
// methods would reach through a nil pointer.
func TestNewRejectsPointerEmbeds(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { client.Close() })
	type withCookie struct {
		*typedstore.Cookie `json:"cookie"`
	}
	type withLifetime struct {
		*typedstore.Lifetime `json:"lifetime"`
	}
	type withExtra struct {
		*typedstore.Extra
		N int `json:"n"`
	}
	for name, err := range map[string]error{
		"*Cookie":   newErr(client, typedstore.Options[withCookie]{}),
		"*Lifetime": newErr(client, typedstore.Options[withLifetime]{}),
		"*Extra":    newErr(client, typedstore.Options[withExtra]{}),
	} {
		if err == nil || !strings.Contains(err.Error(), "not a pointer") {
			t.Errorf("%s: New = %v; want an error saying to embed the value", name, err)
		}
	}
}
