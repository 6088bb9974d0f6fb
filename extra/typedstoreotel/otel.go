package typedstoreotel

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
)

// ScopeName is the instrumentation scope of the tracer and the meter.
const ScopeName = "github.com/typedstore/typedstore/extra/typedstoreotel"

// Option configures NewHooks, NewOnEvent and ObserveSessions.
type Option func(*config)

type config struct {
	tp    trace.TracerProvider
	mp    metric.MeterProvider
	attrs []attribute.KeyValue
}

// WithTracerProvider sets the tracer provider. Default: otel's global one.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(c *config) { c.tp = tp } }

// WithMeterProvider sets the meter provider. Default: otel's global one.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }

// WithAttributes adds attrs to every span and every measurement, to tell
// stores apart (their prefix, say).
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return func(c *config) { c.attrs = append(c.attrs, attrs...) }
}

func newConfig(opts []Option) *config {
	c := &config{}
	for _, o := range opts {
		o(c)
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	return c
}

// The attribute keys.
const (
	keyOperation = attribute.Key("typedstore.operation")
	keyOutcome   = attribute.Key("typedstore.outcome")
	keyBytes     = attribute.Key("typedstore.bytes")
	keySessions  = attribute.Key("typedstore.sessions")
	keyAttempts  = attribute.Key("typedstore.attempts")
	keyEvent     = attribute.Key("typedstore.event")
	keyHit       = attribute.Key("typedstore.hit")
	keySession   = attribute.Key("typedstore.session")
	keyOwner     = attribute.Key("typedstore.owner")
	keyHTTPEvent = attribute.Key("httpsession.event")
	keyHTTPHit   = attribute.Key("httpsession.hit")
	keyReason    = attribute.Key("httpsession.reason")
)

// Outcome names the class of an operation's result, as the attribute
// typedstore.outcome gives it: "ok", "miss" (ErrNotFound), "exists"
// (ErrExists), "conflict" (ErrConflict), "corrupt" (ErrCorrupt) or
// "error".
func Outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, typedstore.ErrNotFound):
		return "miss"
	case errors.Is(err, typedstore.ErrExists):
		return "exists"
	case errors.Is(err, typedstore.ErrConflict):
		return "conflict"
	case errors.Is(err, typedstore.ErrCorrupt):
		return "corrupt"
	}
	return "error"
}

// storeMetrics are the instruments of NewHooks.
type storeMetrics struct {
	duration metric.Float64Histogram
	size     metric.Int64Histogram
	events   metric.Int64Counter
}

// NewHooks returns store hooks that record a span per operation and the
// metrics of the package documentation. It fails only when the meter
// cannot create an instrument.
func NewHooks(opts ...Option) (typedstore.Hooks, error) {
	c := newConfig(opts)
	tracer := c.tp.Tracer(ScopeName)
	meter := c.mp.Meter(ScopeName)
	var m storeMetrics
	var err error
	if m.duration, err = meter.Float64Histogram("typedstore.operation.duration",
		metric.WithUnit("s"), metric.WithDescription("The time of each store operation."),
		metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)); err != nil {
		return typedstore.Hooks{}, fmt.Errorf("typedstoreotel: %w", err)
	}
	if m.size, err = meter.Int64Histogram("typedstore.session.size",
		metric.WithUnit("By"), metric.WithDescription("The encoded size of each session loaded, created or saved."),
		metric.WithExplicitBucketBoundaries(64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536, 262144, 1048576)); err != nil {
		return typedstore.Hooks{}, fmt.Errorf("typedstoreotel: %w", err)
	}
	if m.events, err = meter.Int64Counter("typedstore.session.events",
		metric.WithUnit("{session}"), metric.WithDescription("The events of sessions' lives, in sessions.")); err != nil {
		return typedstore.Hooks{}, fmt.Errorf("typedstoreotel: %w", err)
	}
	base := c.attrs
	a := newAttrSets(base)
	return typedstore.Hooks{
		Start: func(ctx context.Context, op typedstore.Op) context.Context {
			ctx, _ = tracer.Start(ctx, a.spanName(op), internal, a.spanAttrs(op))
			return ctx
		},
		End: func(ctx context.Context, op typedstore.Op, r typedstore.Result) {
			outcome := Outcome(r.Err)
			m.duration.Record(ctx, r.Duration.Seconds(), a.operation(op, outcome))
			span := trace.SpanFromContext(ctx)
			if !span.IsRecording() {
				span.End()
				return
			}
			var buf [4]attribute.KeyValue
			kv := append(buf[:0], keyOutcome.String(outcome))
			if r.Bytes > 0 {
				kv = append(kv, keyBytes.Int(r.Bytes))
			}
			if r.Sessions > 0 {
				kv = append(kv, keySessions.Int(r.Sessions))
			}
			if r.Attempts > 0 {
				kv = append(kv, keyAttempts.Int(r.Attempts))
			}
			span.SetAttributes(kv...)
			if outcome == "error" || outcome == "corrupt" {
				span.RecordError(r.Err)
				span.SetStatus(codes.Error, r.Err.Error())
			}
			span.End()
		},
		Event: func(ctx context.Context, e typedstore.Event) {
			n := int64(e.Count) // the sessions deleted, evicted or revoked
			if e.Kind == typedstore.EventConflict {
				n = 1 // its Count is Update's attempts
			}
			m.events.Add(ctx, n, a.event(e.Kind, e.Hit))
			switch e.Kind {
			case typedstore.EventCreated, typedstore.EventSaved:
				m.size.Record(ctx, int64(e.Bytes), a.base)
			case typedstore.EventLoaded:
				if e.Hit {
					m.size.Record(ctx, int64(e.Bytes), a.base)
				}
			}
			span := trace.SpanFromContext(ctx)
			if !span.IsRecording() {
				return
			}
			var buf [5]attribute.KeyValue
			ev := buf[:0]
			if e.Session != "" {
				ev = append(ev, keySession.String(e.Session))
			}
			if e.Owner != "" {
				ev = append(ev, keyOwner.String(e.Owner))
			}
			if e.Kind == typedstore.EventLoaded {
				ev = append(ev, keyHit.Bool(e.Hit))
			}
			if e.Count != 1 {
				ev = append(ev, attribute.Int("typedstore.count", e.Count))
			}
			if e.Err != nil {
				ev = append(ev, attribute.String("typedstore.error", e.Err.Error()))
			}
			span.AddEvent("typedstore.session."+e.Kind.String(), trace.WithAttributes(ev...))
		},
	}, nil
}

// internal is the kind of the store's spans.
var internal = trace.WithSpanKind(trace.SpanKindInternal)

// attrSets are the attribute sets of the store's spans and measurements,
// made once, so that recording one allocates no set.
type attrSets struct {
	names    [256]string
	spans    [256]trace.SpanStartEventOption
	ops      [256][len(outcomes)]metric.MeasurementOption
	events   [256][2]metric.MeasurementOption
	base     metric.MeasurementOption
	baseAttr []attribute.KeyValue
}

var outcomes = [...]string{"ok", "miss", "exists", "conflict", "corrupt", "error"}

func newAttrSets(base []attribute.KeyValue) *attrSets {
	a := &attrSets{base: metric.WithAttributeSet(attribute.NewSet(base...)), baseAttr: base}
	for i := range 256 {
		op := typedstore.Op(i)
		a.names[i] = "typedstore." + op.String()
		a.spans[i] = trace.WithAttributes(append([]attribute.KeyValue{keyOperation.String(op.String())}, base...)...)
		for j, o := range outcomes {
			a.ops[i][j] = metric.WithAttributeSet(attribute.NewSet(append([]attribute.KeyValue{keyOperation.String(op.String()), keyOutcome.String(o)}, base...)...))
		}
		kind := typedstore.EventKind(i)
		for hit := range 2 {
			kv := append([]attribute.KeyValue{keyEvent.String(kind.String())}, base...)
			if kind == typedstore.EventLoaded {
				kv = append(kv, keyHit.Bool(hit == 1))
			}
			a.events[i][hit] = metric.WithAttributeSet(attribute.NewSet(kv...))
		}
	}
	return a
}

func (a *attrSets) spanName(op typedstore.Op) string                      { return a.names[op] }
func (a *attrSets) spanAttrs(op typedstore.Op) trace.SpanStartEventOption { return a.spans[op] }

func (a *attrSets) operation(op typedstore.Op, outcome string) metric.MeasurementOption {
	for j, o := range outcomes {
		if o == outcome {
			return a.ops[op][j]
		}
	}
	return a.ops[op][len(outcomes)-1]
}

func (a *attrSets) event(k typedstore.EventKind, hit bool) metric.MeasurementOption {
	if hit {
		return a.events[k][1]
	}
	return a.events[k][0]
}

// NewOnEvent returns an [httpsession.Options.OnEvent] that counts the
// middleware's events (httpsession.events) and adds each to the request's
// span as a span event named "httpsession.<event>".
func NewOnEvent(opts ...Option) (func(context.Context, httpsession.Event), error) {
	c := newConfig(opts)
	counter, err := c.mp.Meter(ScopeName).Int64Counter("httpsession.events",
		metric.WithUnit("{event}"), metric.WithDescription("The events of the sessions of HTTP requests."))
	if err != nil {
		return nil, fmt.Errorf("typedstoreotel: %w", err)
	}
	base := c.attrs
	return func(ctx context.Context, e httpsession.Event) {
		var detail []attribute.KeyValue // hit or reason
		switch e.Kind {
		case httpsession.EventLoaded:
			detail = append(detail, keyHTTPHit.Bool(e.Hit))
		case httpsession.EventEnded:
			detail = append(detail, keyReason.String(string(e.Reason)))
		}
		kv := append(append([]attribute.KeyValue{keyHTTPEvent.String(e.Kind.String())}, detail...), base...)
		counter.Add(ctx, 1, metric.WithAttributes(kv...))
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			ev := detail
			if e.Session != "" {
				ev = append(ev, keySession.String(e.Session))
			}
			if e.Count != 1 {
				ev = append(ev, attribute.Int("httpsession.count", e.Count))
			}
			span.AddEvent("httpsession."+e.Kind.String(), trace.WithAttributes(ev...))
		}
	}, nil
}

// ObserveSessions registers the gauge typedstore.sessions.active, which
// reads [typedstore.Store.EstimateLen] at each collection: one round trip
// per master, whatever the number of sessions, and never a SCAN. Its
// accuracy is EstimateLen's: exact when the database holds only the
// store's sessions, within a stated margin otherwise. Unregister the
// returned registration before closing the store. A failed estimate (Redis
// down) is reported to otel's error handler and records nothing.
func ObserveSessions[T any](store *typedstore.Store[T], opts ...Option) (metric.Registration, error) {
	c := newConfig(opts)
	meter := c.mp.Meter(ScopeName)
	gauge, err := meter.Int64ObservableGauge("typedstore.sessions.active",
		metric.WithUnit("{session}"), metric.WithDescription("The sessions in Redis, estimated without a scan (Store.EstimateLen)."))
	if err != nil {
		return nil, fmt.Errorf("typedstoreotel: %w", err)
	}
	attrs := metric.WithAttributes(c.attrs...)
	return meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		e, err := store.EstimateLen(ctx)
		if err != nil {
			return fmt.Errorf("typedstoreotel: active sessions: %w", err)
		}
		o.ObserveInt64(gauge, int64(e.Sessions), attrs)
		return nil
	}, gauge)
}
