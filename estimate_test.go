package typedstore_test

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/redistest"
)

func TestEstimateLen(t *testing.T) {
	servers := map[string]func(t *testing.T) redis.UniversalClient{
		"miniredis": func(t *testing.T) redis.UniversalClient {
			c := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
			t.Cleanup(func() { c.Close() })
			return c
		},
		// A server of its own: the test counts every key in it.
		"redis-server": func(t *testing.T) redis.UniversalClient {
			c := redis.NewClient(&redis.Options{Addr: redistest.Start(t).Addr})
			t.Cleanup(func() { c.Close() })
			return c
		},
	}
	for name, server := range servers {
		t.Run(name, func(t *testing.T) { testEstimateLen(t, server(t)) })
	}
}

// fill writes n keys of prefix with time to live ttl, in one pipeline.
func fill(t *testing.T, c redis.UniversalClient, prefix string, n int, ttl time.Duration) {
	t.Helper()
	ctx := context.Background()
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range n {
			p.Set(ctx, fmt.Sprintf("%s%d", prefix, i), `{"cookie":{}}`, ttl)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testEstimateLen checks EstimateLen against the true number of sessions:
// exact where the database holds nothing else, and within the margin it
// reports where it does (4 margins, about 8 standard errors, so that the
// test does not fail by chance).
func testEstimateLen(t *testing.T, c redis.UniversalClient) {
	ctx := context.Background()
	prefix := redistest.UniquePrefix(t)
	s, err := typedstore.New(c, typedstore.Options[session]{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Clear(ctx) })
	keys := func() int {
		var n atomic.Int64
		switch c := c.(type) {
		case *redis.ClusterClient:
			// ForEachMaster calls its function on every master at once.
			c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
				n.Add(m.DBSize(ctx).Val())
				return nil
			})
		default:
			n.Store(c.DBSize(ctx).Val())
		}
		return int(n.Load())
	}
	_, cluster := c.(*redis.ClusterClient)
	check := func(what string, want int) {
		t.Helper()
		e, err := s.EstimateLen(ctx)
		if err != nil {
			t.Fatalf("%s: EstimateLen: %v", what, err)
		}
		if k := keys(); e.Keys != k {
			t.Errorf("%s: Keys = %d; want %d (DBSIZE)", what, e.Keys, k)
		}
		if e.Keys == want && !cluster {
			if e.Sessions != want {
				t.Errorf("%s: only sessions in the database: estimate %d; want exactly %d", what, e.Sessions, want)
			}
			return
		}
		// The margin is about 1.96·K·√(p(1−p)/n) for K keys, p of them
		// sessions, n samples on each server.
		p := float64(want) / float64(e.Keys)
		servers := 1.0
		if cluster {
			servers = 3
		}
		theory := 1.96 * float64(e.Keys) * math.Sqrt(max(p*(1-p), 1.0/typedstore.EstimateSamples)/(typedstore.EstimateSamples*servers))
		if m := float64(e.Margin); m < theory/2 || m > theory*2 {
			t.Errorf("%s: margin %d; want about %.0f", what, e.Margin, theory)
		}
		if d := math.Abs(float64(e.Sessions - want)); d > 4*float64(e.Margin) {
			t.Errorf("%s: estimate %d ± %d; want %d", what, e.Sessions, e.Margin, want)
		}
	}
	if !cluster {
		if e, err := s.EstimateLen(ctx); err != nil || e != (typedstore.LenEstimate{}) {
			t.Fatalf("empty database: EstimateLen = %+v, %v; want zero", e, err)
		}
	}
	base := keys() // a cluster shared with other tests holds keys of theirs
	fill(t, c, prefix, 1000, time.Hour)
	check("sessions alone", 1000)
	other := redistest.UniquePrefix(t)
	fill(t, c, other, 3000, time.Hour)
	t.Cleanup(func() {
		o, _ := typedstore.New(c, typedstore.Options[session]{Prefix: other})
		o.Clear(ctx)
	})
	check("a quarter sessions", 1000)
	// Churn: sessions come, others go.
	fill(t, c, prefix+"new:", 2000, time.Hour)
	if err := s.Delete(ctx, ids(500)...); err != nil {
		t.Fatal(err)
	}
	check("after churn", 2500)
	if keys()-base != 5500 {
		t.Fatalf("%d keys; want %d", keys()-base, 5500)
	}
}

// ids returns "0" … "n-1".
func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(i)
	}
	return out
}

// TestEstimateLenUnderExpiry: sessions that expire leave the estimate as
// they leave the database.
func TestEstimateLenUnderExpiry(t *testing.T) {
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { c.Close() })
	s, err := typedstore.New(c, typedstore.Options[session]{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fill(t, c, "sess:short:", 700, time.Minute)
	fill(t, c, "sess:long:", 300, time.Hour)
	if e, _ := s.EstimateLen(ctx); e.Sessions != 1000 {
		t.Errorf("before expiry: %d; want 1000", e.Sessions)
	}
	mr.FastForward(2 * time.Minute)
	if e, _ := s.EstimateLen(ctx); e.Sessions != 300 {
		t.Errorf("after 700 expired: %d; want 300", e.Sessions)
	}
}
