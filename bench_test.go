package typedstore_test

// Benchmarks of every Store operation, each next to the raw go-redis +
// goccy/go-json code that does the same commands (key = prefix + id, built
// on every call as the store builds it), so that the store's overhead is
// read off one run:
//
//	go test -run '^$' -bench . -benchmem                 # on miniredis
//	TYPEDSTORE_BENCH_REDIS=1 go test -run '^$' -bench .  # and on a redis-server
//	TYPEDSTORE_BENCH_ADDR=127.0.0.1:6400 go test -run '^$' -bench .
//
// Every benchmark runs on miniredis (in-process, so it measures the client
// side more than the network). With TYPEDSTORE_BENCH_ADDR set, each also runs
// on the Redis at that address; with TYPEDSTORE_BENCH_REDIS=1, on the server
// that the tests use (TYPEDSTORE_REDIS_ADDR, or a private redis-server started
// from the PATH). On a shared server the benchmarks write only under a prefix
// of their own and delete it afterwards. The side-by-side comparison with
// other session stores is the separate module in benchmarks/.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/goccy/go-json"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/redistest"
)

// benchSession is a session of about 500 bytes of JSON, in express-session's
// shape: the cookie, a user, roles, a cart and a CSRF token.
type benchSession struct {
	typedstore.Cookie `json:"cookie"`
	UserID            int64          `json:"userId"`
	Name              string         `json:"name"`
	Email             string         `json:"email"`
	Roles             []string       `json:"roles"`
	Cart              []benchCartRow `json:"cart"`
	CSRF              string         `json:"csrfToken"`
	Flash             string         `json:"flash,omitempty"`
	LastSeen          int64          `json:"lastSeen"`
}

type benchCartRow struct {
	SKU   string `json:"sku"`
	Qty   int    `json:"qty"`
	Price int64  `json:"priceCents"`
}

// newBenchSession returns the benchmarks' session, whose cookie expires a
// day from now.
func newBenchSession(userID int64) benchSession {
	exp := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Millisecond)
	maxAge := int64(24 * time.Hour / time.Millisecond)
	return benchSession{
		Cookie:   typedstore.Cookie{OriginalMaxAge: &maxAge, ExpiresAt: &exp, HTTPOnly: true, Path: "/", SameSite: "lax"},
		UserID:   userID,
		Name:     "Ada Lovelace",
		Email:    "ada.lovelace@example.com",
		Roles:    []string{"user", "beta", "billing"},
		Cart:     []benchCartRow{{"SKU-000123", 1, 1999}, {"SKU-004567", 2, 450}, {"SKU-089012", 1, 12900}},
		CSRF:     "f3b1c2d4e5a6978812ab34cd56ef7890a1b2c3d4e5f60718",
		Flash:    "Your changes have been saved.",
		LastSeen: 1764000000000,
	}
}

// benchTTL is the time to live that the raw baselines give a session, the
// same as the cookie's.
const benchTTL = 24 * time.Hour

// benchBackend is a Redis that the benchmarks run on.
type benchBackend struct {
	name   string
	client *redis.Client
	prefix string
}

// benchBackends returns miniredis, plus a real Redis when the environment
// names one (see the top of this file). Everything is closed, and the keys
// written under prefix deleted, when b ends.
func benchBackends(b *testing.B) []benchBackend {
	b.Helper()
	mr := miniredis.RunT(b)
	out := []benchBackend{{name: "miniredis", client: benchClient(b, mr.Addr()), prefix: "sess:"}}
	addr := os.Getenv("TYPEDSTORE_BENCH_ADDR")
	if addr == "" && os.Getenv("TYPEDSTORE_BENCH_REDIS") == "1" {
		addr = redistest.Addr(b)
	}
	if addr != "" {
		c := benchClient(b, addr)
		if err := c.Ping(context.Background()).Err(); err != nil {
			b.Fatalf("PING %s: %v", addr, err)
		}
		prefix := redistest.UniquePrefix(b)
		b.Cleanup(func() {
			s, err := typedstore.New(c, typedstore.Options[benchSession]{Prefix: prefix})
			if err == nil {
				s.Clear(context.Background())
			}
		})
		out = append(out, benchBackend{name: "redis", client: c, prefix: prefix})
	}
	return out
}

func benchClient(b *testing.B, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { c.Close() })
	return c
}

// benchStore returns a store on be with opts, under be's prefix.
func benchStore(b *testing.B, be benchBackend, opts typedstore.Options[benchSession]) *typedstore.Store[benchSession] {
	b.Helper()
	opts.Prefix = be.prefix
	s, err := typedstore.New(be.client, opts)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// benchIDs returns n session ids: 32 characters, as express-session makes.
func benchIDs(tag string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%-12s%020d", tag, i)
	}
	return ids
}

// benchPreload writes a session under each of ids, in pipelines.
func benchPreload(b *testing.B, be benchBackend, ids []string) {
	b.Helper()
	ctx := context.Background()
	data, err := json.Marshal(newBenchSession(1))
	if err != nil {
		b.Fatal(err)
	}
	for start := 0; start < len(ids); start += 1000 {
		_, err := be.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, id := range ids[start:min(start+1000, len(ids))] {
				p.Set(ctx, be.prefix+id, data, benchTTL)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// benchEach runs fn as a sub-benchmark on every backend, with allocations
// reported.
func benchEach(b *testing.B, fn func(b *testing.B, be benchBackend)) {
	for _, be := range benchBackends(b) {
		b.Run(be.name, func(b *testing.B) {
			b.ReportAllocs()
			fn(b, be)
		})
	}
}

// benchKeys is the number of sessions that the single-key benchmarks spread
// their calls over.
const benchKeys = 1000

func BenchmarkGet(b *testing.B) {
	benchEach(b, func(b *testing.B, be benchBackend) {
		ctx := context.Background()
		ids := benchIDs("get", benchKeys)
		benchPreload(b, be, ids)
		b.Run("raw", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				data, err := be.client.Get(ctx, be.prefix+ids[i%len(ids)]).Bytes()
				if err != nil {
					b.Fatal(err)
				}
				var v benchSession
				if err := json.Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("store", func(b *testing.B) {
			b.ReportAllocs()
			s := benchStore(b, be, typedstore.Options[benchSession]{})
			i := 0
			for b.Loop() {
				if _, err := s.Get(ctx, ids[i%len(ids)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		if be.name != "miniredis" {
			// go-redis's client-side cache (RESP3 and CLIENT TRACKING, which
			// miniredis lacks): a Get of an unchanged session is answered
			// from memory.
			b.Run("store-clientcache", func(b *testing.B) {
				b.ReportAllocs()
				c := redis.NewClient(&redis.Options{
					Addr:                  be.client.Options().Addr,
					Protocol:              3,
					ClientSideCacheConfig: &redis.ClientSideCacheConfig{MaxEntries: 2 * benchKeys},
				})
				b.Cleanup(func() { c.Close() })
				s, err := typedstore.New(c, typedstore.Options[benchSession]{Prefix: be.prefix})
				if err != nil {
					b.Fatal(err)
				}
				i := 0
				for b.Loop() {
					if _, err := s.Get(ctx, ids[i%len(ids)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
		b.Run("store-missing", func(b *testing.B) {
			b.ReportAllocs()
			s := benchStore(b, be, typedstore.Options[benchSession]{})
			for b.Loop() {
				if _, err := s.Get(ctx, "no-such-session"); !errors.Is(err, typedstore.ErrNotFound) {
					b.Fatalf("Get = %v; want ErrNotFound", err)
				}
			}
		})
	})
}

// BenchmarkGetParallel calls Get from GOMAXPROCS×16 goroutines: pooled
// go-redis, the store on it (pipelined), and the store with
// DisablePipelining.
func BenchmarkGetParallel(b *testing.B) {
	benchEach(b, func(b *testing.B, be benchBackend) {
		ctx := context.Background()
		ids := benchIDs("getp", benchKeys)
		benchPreload(b, be, ids)
		run := func(b *testing.B, get func(id string) error) {
			b.ReportAllocs()
			b.SetParallelism(16)
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(7919))
				for pb.Next() {
					if err := get(ids[i%len(ids)]); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		}
		b.Run("raw", func(b *testing.B) {
			run(b, func(id string) error {
				data, err := be.client.Get(ctx, be.prefix+id).Bytes()
				if err != nil {
					return err
				}
				var v benchSession
				return json.Unmarshal(data, &v)
			})
		})
		for _, off := range []bool{false, true} {
			name := "store"
			if off {
				name = "store-nopipelining"
			}
			b.Run(name, func(b *testing.B) {
				s := benchStore(b, be, typedstore.Options[benchSession]{DisablePipelining: off})
				run(b, func(id string) error {
					_, err := s.Get(ctx, id)
					return err
				})
			})
		}
	})
}

func BenchmarkSet(b *testing.B) {
	benchEach(b, func(b *testing.B, be benchBackend) {
		ctx := context.Background()
		ids := benchIDs("set", benchKeys)
		v := newBenchSession(1)
		b.Run("raw", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				data, err := json.Marshal(v)
				if err != nil {
					b.Fatal(err)
				}
				if err := be.client.Set(ctx, be.prefix+ids[i%len(ids)], data, benchTTL).Err(); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("store", func(b *testing.B) {
			b.ReportAllocs()
			s := benchStore(b, be, typedstore.Options[benchSession]{})
			i := 0
			for b.Loop() {
				if err := s.Set(ctx, ids[i%len(ids)], v); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
}

func BenchmarkTouch(b *testing.B) {
	benchEach(b, func(b *testing.B, be benchBackend) {
		ctx := context.Background()
		ids := benchIDs("touch", benchKeys)
		benchPreload(b, be, ids)
		v := newBenchSession(1)
		b.Run("raw", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := be.client.PExpire(ctx, be.prefix+ids[i%len(ids)], benchTTL).Err(); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		for _, slack := range []time.Duration{0, time.Hour} {
			name := "store"
			if slack > 0 {
				name = "store-touchslack"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				s := benchStore(b, be, typedstore.Options[benchSession]{TouchSlack: slack})
				i := 0
				for b.Loop() {
					if err := s.Touch(ctx, ids[i%len(ids)], v); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	})
}

// BenchmarkGetAndExtend compares the one GETEX of GetAndExtend with the
// GET and then PEXPIRE that a Get followed by a Touch sends.
func BenchmarkGetAndExtend(b *testing.B) {
	benchEach(b, func(b *testing.B, be benchBackend) {
		ctx := context.Background()
		ids := benchIDs("getex", benchKeys)
		benchPreload(b, be, ids)
		s := benchStore(b, be, typedstore.Options[benchSession]{})
		b.Run("store", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := s.GetAndExtend(ctx, ids[i%len(ids)], benchTTL); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("store-get-then-touch", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				v, err := s.Get(ctx, ids[i%len(ids)])
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Touch(ctx, ids[i%len(ids)], v); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
}

// BenchmarkDelete deletes the preloaded sessions in turn; once they are
// gone, it goes on deleting ids that no longer exist, which costs Redis the
// same one UNLINK.
func BenchmarkDelete(b *testing.B) {
	benchEach(b, func(b *testing.B, be benchBackend) {
		ctx := context.Background()
		ids := benchIDs("delete", benchKeys)
		benchPreload(b, be, ids)
		s := benchStore(b, be, typedstore.Options[benchSession]{})
		i := 0
		for b.Loop() {
			if err := s.Delete(ctx, ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkUpdate(b *testing.B) {
	benchEach(b, func(b *testing.B, be benchBackend) {
		ctx := context.Background()
		ids := benchIDs("update", benchKeys)
		benchPreload(b, be, ids)
		s := benchStore(b, be, typedstore.Options[benchSession]{})
		i := 0
		for b.Loop() {
			err := s.Update(ctx, ids[i%len(ids)], func(v *benchSession) error {
				v.LastSeen++
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkCreate creates a session under a fresh id on every call.
func BenchmarkCreate(b *testing.B) {
	benchEach(b, func(b *testing.B, be benchBackend) {
		ctx := context.Background()
		s := benchStore(b, be, typedstore.Options[benchSession]{})
		v := newBenchSession(1)
		var run atomic.Int64
		b.Run("store", func(b *testing.B) {
			b.ReportAllocs()
			// Fresh ids for every run of this function, made before the timer
			// starts, so that each Create succeeds.
			ids := benchIDs("create"+strconv.FormatInt(run.Add(1), 10), b.N)
			b.ResetTimer()
			for i := range b.N {
				if err := s.Create(ctx, ids[i], v); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			s.Delete(ctx, ids...)
		})
	})
}

func BenchmarkReplace(b *testing.B) {
	benchEach(b, func(b *testing.B, be benchBackend) {
		ctx := context.Background()
		ids := benchIDs("replace", benchKeys)
		benchPreload(b, be, ids)
		s := benchStore(b, be, typedstore.Options[benchSession]{})
		v := newBenchSession(1)
		i := 0
		for b.Loop() {
			if err := s.Replace(ctx, ids[i%len(ids)], v); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// benchSizes are the numbers of stored sessions that All, IDs and Len walk.
var benchSizes = []int{1000, 10000}

// BenchmarkAll ranges over every stored session, with All and with a
// hand-written SCAN + MGET + goccy loop; ns/session is the cost per session.
func BenchmarkAll(b *testing.B) {
	benchEach(b, func(b *testing.B, be benchBackend) {
		ctx := context.Background()
		for _, n := range benchSizes {
			// A prefix per size, so that each walk sees exactly n sessions.
			be := be
			be.prefix += "all" + strconv.Itoa(n) + ":"
			benchPreload(b, be, benchIDs("all", n))
			b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
				b.Run("raw", func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if got := benchRawAll(b, be); got != n {
							b.Fatalf("raw loop saw %d sessions; want %d", got, n)
						}
					}
					benchPerSession(b, n)
				})
				b.Run("store", func(b *testing.B) {
					b.ReportAllocs()
					s := benchStore(b, be, typedstore.Options[benchSession]{})
					for b.Loop() {
						seq, errf := s.All(ctx)
						got := 0
						for _, v := range seq {
							got += int(v.UserID)
						}
						if err := errf(); err != nil || got != n {
							b.Fatalf("All saw %d sessions, %v; want %d", got, err, n)
						}
					}
					benchPerSession(b, n)
				})
			})
		}
	})
}

// benchRawAll is the hand-written loop that All is measured against: SCAN a
// batch, MGET it, decode each value.
func benchRawAll(b *testing.B, be benchBackend) int {
	ctx := context.Background()
	n := 0
	var cursor uint64
	for {
		keys, next, err := be.client.Scan(ctx, cursor, be.prefix+"*", typedstore.DefaultScanCount).Result()
		if err != nil {
			b.Fatal(err)
		}
		if len(keys) > 0 {
			vals, err := be.client.MGet(ctx, keys...).Result()
			if err != nil {
				b.Fatal(err)
			}
			for _, raw := range vals {
				str, ok := raw.(string)
				if !ok {
					continue
				}
				var v benchSession
				if err := json.Unmarshal([]byte(str), &v); err != nil {
					b.Fatal(err)
				}
				n += int(v.UserID)
			}
		}
		if cursor = next; cursor == 0 {
			return n
		}
	}
}

func BenchmarkIDs(b *testing.B) {
	benchEach(b, func(b *testing.B, be benchBackend) {
		ctx := context.Background()
		for _, n := range benchSizes {
			be := be
			be.prefix += "ids" + strconv.Itoa(n) + ":"
			benchPreload(b, be, benchIDs("ids", n))
			s := benchStore(b, be, typedstore.Options[benchSession]{})
			b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					seq, errf := s.IDs(ctx)
					got := 0
					for range seq {
						got++
					}
					if err := errf(); err != nil || got != n {
						b.Fatalf("IDs saw %d, %v; want %d", got, err, n)
					}
				}
				benchPerSession(b, n)
			})
		}
	})
}

func BenchmarkLen(b *testing.B) {
	benchEach(b, func(b *testing.B, be benchBackend) {
		ctx := context.Background()
		for _, n := range benchSizes {
			be := be
			be.prefix += "len" + strconv.Itoa(n) + ":"
			benchPreload(b, be, benchIDs("len", n))
			s := benchStore(b, be, typedstore.Options[benchSession]{})
			b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if got, err := s.Len(ctx); err != nil || got != n {
						b.Fatalf("Len = %d, %v; want %d", got, err, n)
					}
				}
				benchPerSession(b, n)
			})
		}
	})
}

// benchPerSession reports the time per session of a benchmark whose every
// iteration walks n sessions.
func benchPerSession(b *testing.B, n int) {
	if b.N > 0 && n > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/session")
	}
}

// BenchmarkHooks is a Get with no hooks, with no-op Start and End, and
// with a no-op Event too (one more allocation per event: the id's hint).
// The cost of OpenTelemetry's hooks is BenchmarkOverhead in
// extra/typedstoreotel.
func BenchmarkHooks(b *testing.B) {
	noopStart := func(ctx context.Context, _ typedstore.Op) context.Context { return ctx }
	noopEnd := func(context.Context, typedstore.Op, typedstore.Result) {}
	variants := []struct {
		name  string
		hooks typedstore.Hooks
	}{
		{"none", typedstore.Hooks{}},
		{"start-end", typedstore.Hooks{Start: noopStart, End: noopEnd}},
		{"all", typedstore.Hooks{Start: noopStart, End: noopEnd, Event: func(context.Context, typedstore.Event) {}}},
	}
	benchEach(b, func(b *testing.B, be benchBackend) {
		ctx := context.Background()
		ids := benchIDs("hooks", benchKeys)
		benchPreload(b, be, ids)
		for _, v := range variants {
			b.Run(v.name, func(b *testing.B) {
				b.ReportAllocs()
				s := benchStore(b, be, typedstore.Options[benchSession]{Hooks: v.hooks})
				i := 0
				for b.Loop() {
					if _, err := s.Get(ctx, ids[i%len(ids)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	})
}
