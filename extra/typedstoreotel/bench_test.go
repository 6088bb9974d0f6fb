package typedstoreotel_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/extra/typedstoreotel"
)

// BenchmarkOverhead measures a Get and a Set of one session with no hooks,
// with no-op hooks and with this module's hooks (an SDK tracer that samples
// every span into a batch processor, and an SDK meter), side by side: the
// three stores take turns, 64 operations at a time, within one run, so
// that a noisy machine slows all three alike. It reports each one's time
// and allocations per Get+Set, and the ratios to no hooks.
//
//	go test -run '^$' -bench Overhead -benchtime 20000x               # on miniredis
//	TYPEDSTORE_BENCH_ADDR=127.0.0.1:6379 go test -run '^$' -bench Overhead
func BenchmarkOverhead(b *testing.B) {
	addr := os.Getenv("TYPEDSTORE_BENCH_ADDR")
	if addr == "" {
		addr = miniredis.RunT(b).Addr()
	}
	client := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { client.Close() })

	otelHooks := sdkHooks(b)
	variants := []struct {
		name  string
		hooks typedstore.Hooks
	}{
		{"none", typedstore.Hooks{}},
		{"noop", typedstore.Hooks{
			Start: func(ctx context.Context, _ typedstore.Op) context.Context { return ctx },
			End:   func(context.Context, typedstore.Op, typedstore.Result) {},
			Event: func(context.Context, typedstore.Event) {},
		}},
		{"otel", otelHooks},
	}
	ctx := context.Background()
	prefix := fmt.Sprintf("bench-overhead:%d:", time.Now().UnixNano())
	ops := make([]func(), len(variants))
	for i, v := range variants {
		s, err := typedstore.New(client, typedstore.Options[session]{Prefix: prefix + v.name + ":", TTL: time.Hour, Hooks: v.hooks})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Clear(context.Background()) })
		value := session{UserID: 42, Visits: 7}
		ops[i] = func() {
			if err := s.Set(ctx, "session-id-for-the-benchmark", value); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Get(ctx, "session-id-for-the-benchmark"); err != nil {
				b.Fatal(err)
			}
		}
		ops[i]()
	}
	const block = 64
	elapsed := make([]time.Duration, len(variants))
	done := make([]int, len(variants))
	b.ResetTimer()
	for n := 0; n < b.N; {
		for i, op := range ops {
			k := min(block, b.N-n)
			if k <= 0 {
				break
			}
			start := time.Now()
			for range k {
				op()
			}
			elapsed[i] += time.Since(start)
			done[i] += k
			n += k
		}
	}
	b.StopTimer()
	base := float64(elapsed[0]) / float64(max(done[0], 1))
	baseAllocs := testing.AllocsPerRun(200, ops[0])
	for i, v := range variants {
		per := float64(elapsed[i]) / float64(max(done[i], 1))
		allocs := testing.AllocsPerRun(200, ops[i])
		b.ReportMetric(per, v.name+"-ns/op")
		b.ReportMetric(allocs, v.name+"-allocs/op")
		if i > 0 {
			b.ReportMetric(per/base, v.name+"/none-time")
			b.ReportMetric(allocs-baseAllocs, v.name+"-extra-allocs/op")
		}
	}
}

// BenchmarkHooksWithoutRedis is the CPU cost of this module's hooks for one
// operation, with no Redis: a Start, an Event and an End, as a Get calls
// them.
func BenchmarkHooksWithoutRedis(b *testing.B) {
	h := sdkHooks(b)
	b.ReportAllocs()
	for b.Loop() {
		ctx := h.Start(context.Background(), typedstore.OpGet)
		h.Event(ctx, typedstore.Event{Kind: typedstore.EventLoaded, Op: typedstore.OpGet, Hit: true, Bytes: 300, Count: 1, Session: `"abc…"`})
		h.End(ctx, typedstore.OpGet, typedstore.Result{Bytes: 300, Duration: time.Millisecond})
	}
}

// sdkHooks returns this module's hooks on an SDK tracer that samples every
// span into a batch processor (whose exporter drops them) and an SDK meter,
// as a production setup has them.
func sdkHooks(b *testing.B) typedstore.Hooks {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() { tp.Shutdown(context.Background()); mp.Shutdown(context.Background()) })
	h, err := typedstoreotel.NewHooks(typedstoreotel.WithTracerProvider(tp), typedstoreotel.WithMeterProvider(mp))
	if err != nil {
		b.Fatal(err)
	}
	return h
}
