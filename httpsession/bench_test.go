package httpsession_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
	"github.com/typedstore/typedstore/internal/redistest"
)

// BenchmarkReadOnlyRequest serves a request that only reads its session,
// under each lifetime policy, on miniredis, or on a redis-server of its own
// with TYPEDSTORE_BENCH_REDIS=1:
//
//	TYPEDSTORE_BENCH_REDIS=1 go test -run '^$' -bench ReadOnlyRequest -count 5 ./httpsession
func BenchmarkReadOnlyRequest(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts httpsession.Options
	}{
		{"MaxAge", httpsession.Options{MaxAge: time.Hour}},
		{"IdleTimeout", httpsession.Options{IdleTimeout: time.Hour}},
		{"Lifetime", httpsession.Options{IdleTimeout: time.Hour, Lifetime: 12 * time.Hour}},
		{"RenewAfter", httpsession.Options{IdleTimeout: time.Hour, Lifetime: 12 * time.Hour, RenewAfter: 15 * time.Minute}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			addr := ""
			if os.Getenv("TYPEDSTORE_BENCH_REDIS") != "" {
				addr = redistest.Start(b).Addr
			} else {
				mr := miniredis.RunT(b)
				addr = mr.Addr()
			}
			client := redis.NewClient(&redis.Options{Addr: addr})
			b.Cleanup(func() { client.Close() })
			store, err := typedstore.New(client, typedstore.Options[lsess]{})
			if err != nil {
				b.Fatal(err)
			}
			bc.opts.Secrets = []string{secret}
			m, err := httpsession.New(store, bc.opts)
			if err != nil {
				b.Fatal(err)
			}
			h := m.Handler(lifeApp(m))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
			cookies := rec.Result().Cookies()
			req := httptest.NewRequest("GET", "/get", nil)
			for _, c := range cookies {
				req.AddCookie(c)
			}
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

// BenchmarkAnonymousRequest serves a request without a cookie to a handler
// that never asks for its session: the middleware's cost on a page that
// does not use sessions (no Redis command is sent).
//
//	go test -run '^$' -bench AnonymousRequest -cpuprofile cpu.out ./httpsession
func BenchmarkAnonymousRequest(b *testing.B) {
	mr := miniredis.RunT(b)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	b.Cleanup(func() { client.Close() })
	store, err := typedstore.New(client, typedstore.Options[sess]{})
	if err != nil {
		b.Fatal(err)
	}
	m, err := httpsession.New(store, httpsession.Options{Secrets: []string{secret}, MaxAge: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) }))
	req := httptest.NewRequest("GET", "/anon", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	if n := len(mr.Keys()); n != 0 {
		b.Fatalf("%d keys stored; want none", n)
	}
}
