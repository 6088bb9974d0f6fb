package typedstore_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/typedstore/typedstore"
)

// BenchmarkAtRest measures Get and Set of a small session (the benchmarks'
// 500 bytes) and a large one (about 8 KiB) under each option of sessions
// at rest, each beside the store without them; stored-B is the size of
// the value in Redis. benchmarks/atrest.sh runs it on a redis-server and
// prints the ratios.
func BenchmarkAtRest(b *testing.B) {
	keys := [][]byte{bytes.Repeat([]byte{1}, typedstore.EncryptionKeySize)}
	hashKey := bytes.Repeat([]byte{2}, 32)
	configs := []struct {
		name string
		opts typedstore.Options[benchSession]
	}{
		{"plain", typedstore.Options[benchSession]{}},
		{"sealed", typedstore.Options[benchSession]{EncryptionKeys: keys}},
		{"hashed", typedstore.Options[benchSession]{IDHashKey: hashKey}},
		{"sealed+hashed", typedstore.Options[benchSession]{EncryptionKeys: keys, IDHashKey: hashKey}},
		{"sealed+compressed", typedstore.Options[benchSession]{EncryptionKeys: keys, CompressAbove: 1024}},
	}
	large := newBenchSession(1)
	for i := range 150 {
		large.Cart = append(large.Cart, benchCartRow{fmt.Sprintf("SKU-%06d", i*7919%1000000), 1 + i%3, int64(100 + i*37)})
	}
	sizes := []struct {
		name string
		v    benchSession
	}{{"small", newBenchSession(1)}, {"large", large}}
	benchEach(b, func(b *testing.B, be benchBackend) {
		ctx := context.Background()
		ids := benchIDs("atrest", benchKeys)
		for _, size := range sizes {
			for _, c := range typedstore.Rotated(configs, &atRestRuns) {
				s := benchStore(b, be, c.opts)
				for _, id := range ids {
					if err := s.Set(ctx, id, size.v); err != nil {
						b.Fatal(err)
					}
				}
				stored := 0
				if seq, errf := s.IDs(ctx); errf() == nil {
					for name := range seq {
						n, err := be.client.StrLen(ctx, be.prefix+name).Result()
						if err != nil {
							b.Fatal(err)
						}
						stored = int(n)
						break
					}
				}
				for i := range 300 { // warm the connections and the server up, untimed
					if _, err := s.Get(ctx, ids[i%len(ids)]); err != nil {
						b.Fatal(err)
					}
				}
				b.Run(size.name+"/"+c.name+"/Get", func(b *testing.B) {
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						if _, err := s.Get(ctx, ids[i%len(ids)]); err != nil {
							b.Fatal(err)
						}
						i++
					}
					b.ReportMetric(float64(stored), "stored-B")
				})
				b.Run(size.name+"/"+c.name+"/Set", func(b *testing.B) {
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						if err := s.Set(ctx, ids[i%len(ids)], size.v); err != nil {
							b.Fatal(err)
						}
						i++
					}
					b.ReportMetric(float64(stored), "stored-B")
				})
				if err := s.Clear(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// atRestRuns counts the runs of BenchmarkAtRest, so that each repetition
// of -count starts its cells at another configuration: none is always
// first, when the server and the heap are coldest.
var atRestRuns int
