package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/extra/typedstoreotel"
	"github.com/typedstore/typedstore/httpsession"
)

// telemetry is the site's OpenTelemetry: a span for every request
// (otelhttp), every store operation (typedstoreotel) and every Redis
// command (redisotel), and the store's and the middleware's metrics, all
// written as JSON to one writer. Its zero value records nothing.
type telemetry struct {
	hooks   typedstore.Hooks
	onEvent func(context.Context, httpsession.Event)
	tp      *sdktrace.TracerProvider
	mp      *sdkmetric.MeterProvider
	gauge   metric.Registration
}

// newTelemetry returns the telemetry that writes to w, or the zero
// telemetry when w is nil. Metrics are written every interval and at
// shutdown.
func newTelemetry(w io.Writer, interval time.Duration) (*telemetry, error) {
	if w == nil {
		return &telemetry{}, nil
	}
	res := resource.NewSchemaless(semconv.ServiceName("typedstore-webapp"))
	spans, err := stdouttrace.New(stdouttrace.WithWriter(w))
	if err != nil {
		return nil, err
	}
	metrics, err := stdoutmetric.New(stdoutmetric.WithWriter(w))
	if err != nil {
		return nil, err
	}
	t := &telemetry{
		tp: sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans), sdktrace.WithResource(res)),
		mp: sdkmetric.NewMeterProvider(sdkmetric.WithResource(res),
			sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics, sdkmetric.WithInterval(interval)))),
	}
	opts := []typedstoreotel.Option{typedstoreotel.WithTracerProvider(t.tp), typedstoreotel.WithMeterProvider(t.mp)}
	if t.hooks, err = typedstoreotel.NewHooks(opts...); err != nil {
		return nil, err
	}
	if t.onEvent, err = typedstoreotel.NewOnEvent(opts...); err != nil {
		return nil, err
	}
	return t, nil
}

// on reports whether t records anything.
func (t *telemetry) on() bool { return t.tp != nil }

// instrument traces the store's Redis commands and registers its
// active-sessions gauge.
func (t *telemetry) instrument(store *typedstore.Store[Session]) error {
	if !t.on() {
		return nil
	}
	if c, ok := store.Client().(*redis.Client); ok {
		// Without the commands' arguments, which hold the session ids: a
		// session id is a credential, and traces are not kept as one.
		if err := redisotel.InstrumentTracing(c, redisotel.WithTracerProvider(t.tp), redisotel.WithDBStatement(false)); err != nil {
			return err
		}
	}
	var err error
	t.gauge, err = typedstoreotel.ObserveSessions(store, typedstoreotel.WithMeterProvider(t.mp))
	return err
}

// handler wraps h so that every request has a span.
func (t *telemetry) handler(h http.Handler) http.Handler {
	if !t.on() {
		return h
	}
	return otelhttp.NewHandler(h, "webapp", otelhttp.WithTracerProvider(t.tp), otelhttp.WithMeterProvider(t.mp),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
}

// shutdown writes what is left and stops recording; the store must still
// be open, for the last reading of the gauge.
func (t *telemetry) shutdown(ctx context.Context) error {
	if !t.on() {
		return nil
	}
	err := t.mp.Shutdown(ctx)
	if t.gauge != nil {
		err = errors.Join(err, t.gauge.Unregister())
	}
	return errors.Join(err, t.tp.Shutdown(ctx))
}
