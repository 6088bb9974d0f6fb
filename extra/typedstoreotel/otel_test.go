package typedstoreotel_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/extra/typedstoreotel"
	"github.com/typedstore/typedstore/httpsession"
)

type session struct {
	typedstore.Cookie `json:"cookie"`
	UserID            int64 `json:"userId,omitempty"`
	Visits            int   `json:"visits,omitempty"`
}

func owner(v session) string {
	if v.UserID == 0 {
		return ""
	}
	return strconv.FormatInt(v.UserID, 10)
}

// telemetry is an SDK tracer and meter provider that keep what they
// record in memory.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
	mp     *sdkmetric.MeterProvider
}

func newTelemetry(t testing.TB) *telemetry {
	tel := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		tel.tp.Shutdown(context.Background())
		tel.mp.Shutdown(context.Background())
	})
	return tel
}

func (tel *telemetry) opts() []typedstoreotel.Option {
	return []typedstoreotel.Option{typedstoreotel.WithTracerProvider(tel.tp), typedstoreotel.WithMeterProvider(tel.mp)}
}

// collect returns the metrics recorded so far, by name.
func (tel *telemetry) collect(t testing.TB) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// attrKey renders a set of attributes as "k=v,k=v", sorted.
func attrKey(set attribute.Set) string {
	var parts []string
	for _, kv := range set.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// counts returns a counter's values, or a histogram's counts, by their
// attributes.
func counts(t testing.TB, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out[attrKey(p.Attributes)] = p.Value
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			out[attrKey(p.Attributes)] = int64(p.Count)
		}
	case metricdata.Histogram[int64]:
		for _, p := range d.DataPoints {
			out[attrKey(p.Attributes)] = int64(p.Count)
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			out[attrKey(p.Attributes)] = p.Value
		}
	default:
		t.Fatalf("%s: data of type %T", m.Name, m.Data)
	}
	return out
}

func newStore(t testing.TB, opts typedstore.Options[session]) (*miniredis.Miniredis, *redis.Client, *typedstore.Store[session]) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	s, err := typedstore.New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	return mr, client, s
}

// TestSpansAndMetrics runs a scripted sequence under a request's span and
// checks every span, attribute and metric value it leaves.
func TestSpansAndMetrics(t *testing.T) {
	tel := newTelemetry(t)
	hooks, err := typedstoreotel.NewHooks(tel.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	mr, client, s := newStore(t, typedstore.Options[session]{TTL: time.Hour, Owner: owner, MaxPerOwner: 1, UpdateAttempts: 2, Hooks: hooks})
	ctx, request := tel.tp.Tracer("test").Start(context.Background(), "request")

	s.Create(ctx, "session-a", session{UserID: 1})                                // create ok
	s.Get(ctx, "session-a")                                                       // get ok
	s.Get(ctx, "nobody")                                                          // get miss
	s.Update(ctx, "session-a", func(v *session) error { v.Visits++; return nil }) // update ok, saved
	s.Create(ctx, "session-b", session{UserID: 1})                                // create ok; evicts a
	mr.Set("sess:session-c", "{corrupt")                                          //
	s.Get(ctx, "session-c")                                                       // get corrupt
	s.Update(ctx, "session-b", func(v *session) error {                           // update conflict
		return client.Set(ctx, "sess:session-b", fmt.Sprint(`{"visits":`, time.Now().UnixNano(), `}`), time.Hour).Err()
	})
	request.End()

	type want struct {
		name, outcome string
		attrs         map[attribute.Key]int64
		events        []string
		status        codes.Code
	}
	wants := []want{
		{"typedstore.create", "ok", map[attribute.Key]int64{"typedstore.bytes": -1}, []string{"typedstore.session.created owner=1"}, codes.Unset},
		{"typedstore.get", "ok", map[attribute.Key]int64{"typedstore.bytes": -1}, []string{"typedstore.session.loaded hit=true"}, codes.Unset},
		{"typedstore.get", "miss", nil, []string{"typedstore.session.loaded hit=false"}, codes.Unset},
		{"typedstore.update", "ok", map[attribute.Key]int64{"typedstore.attempts": 1, "typedstore.bytes": -1}, []string{"typedstore.session.saved owner=1"}, codes.Unset},
		{"typedstore.create", "ok", nil, []string{"typedstore.session.created owner=1", "typedstore.session.evicted owner=1"}, codes.Unset},
		{"typedstore.get", "corrupt", nil, []string{"typedstore.session.corrupt"}, codes.Error},
		{"typedstore.update", "conflict", map[attribute.Key]int64{"typedstore.attempts": 2}, []string{"typedstore.session.conflict count=2"}, codes.Unset},
	}
	var spans []sdktrace.ReadOnlySpan
	for _, sp := range tel.spans.Ended() {
		if sp.Name() != "request" {
			spans = append(spans, sp)
		}
	}
	if len(spans) != len(wants) {
		t.Fatalf("%d store spans; want %d", len(spans), len(wants))
	}
	for i, w := range wants {
		sp := spans[i]
		attrs := map[attribute.Key]attribute.Value{}
		for _, kv := range sp.Attributes() {
			attrs[kv.Key] = kv.Value
		}
		if sp.Name() != w.name || attrs["typedstore.outcome"].AsString() != w.outcome {
			t.Errorf("span %d: %s, outcome %q; want %s, %q", i, sp.Name(), attrs["typedstore.outcome"].AsString(), w.name, w.outcome)
		}
		if sp.Parent().SpanID() != request.SpanContext().SpanID() {
			t.Errorf("span %d (%s): not a child of the request's span", i, sp.Name())
		}
		if sp.SpanKind() != trace.SpanKindInternal {
			t.Errorf("span %d: kind %v; want internal", i, sp.SpanKind())
		}
		if got := attrs["typedstore.operation"].AsString(); "typedstore."+got != w.name {
			t.Errorf("span %d: typedstore.operation %q", i, got)
		}
		for k, v := range w.attrs {
			got, ok := attrs[k]
			if !ok || (v >= 0 && got.AsInt64() != v) || (v < 0 && got.AsInt64() <= 0) {
				t.Errorf("span %d (%s): %s = %v; want %d (-1: positive)", i, sp.Name(), k, got.String(), v)
			}
		}
		var events []string
		for _, e := range sp.Events() {
			line := e.Name
			for _, kv := range e.Attributes {
				switch kv.Key {
				case "typedstore.owner":
					line += " owner=" + kv.Value.String()
				case "typedstore.hit":
					line += " hit=" + kv.Value.String()
				case "typedstore.count":
					line += " count=" + kv.Value.String()
				case "typedstore.session":
					if id := kv.Value.AsString(); !strings.HasSuffix(id, "…\"") || strings.Contains(id, "session-") {
						t.Errorf("span %d: typedstore.session %s is not a hint", i, id)
					}
				}
			}
			if e.Name != "exception" { // the error recorded on a failed span
				events = append(events, line)
			}
		}
		if !slices.Equal(events, w.events) {
			t.Errorf("span %d (%s): events %q; want %q", i, sp.Name(), events, w.events)
		}
		if sp.Status().Code != w.status {
			t.Errorf("span %d (%s): status %v; want %v", i, sp.Name(), sp.Status().Code, w.status)
		}
	}

	m := tel.collect(t)
	checkCounts(t, m, "typedstore.operation.duration", map[string]int64{
		"typedstore.operation=create,typedstore.outcome=ok":       2,
		"typedstore.operation=get,typedstore.outcome=ok":          1,
		"typedstore.operation=get,typedstore.outcome=miss":        1,
		"typedstore.operation=get,typedstore.outcome=corrupt":     1,
		"typedstore.operation=update,typedstore.outcome=ok":       1,
		"typedstore.operation=update,typedstore.outcome=conflict": 1,
	})
	checkCounts(t, m, "typedstore.session.events", map[string]int64{
		"typedstore.event=created":                     2,
		"typedstore.event=loaded,typedstore.hit=true":  1,
		"typedstore.event=loaded,typedstore.hit=false": 1,
		"typedstore.event=saved":                       1,
		"typedstore.event=evicted":                     1,
		"typedstore.event=corrupt":                     1,
		"typedstore.event=conflict":                    1, // one Update gave up, after 2 attempts
	})
	checkCounts(t, m, "typedstore.session.size", map[string]int64{"": 4}) // 2 created, 1 loaded, 1 saved
	if h := m["typedstore.session.size"].Data.(metricdata.Histogram[int64]); len(h.DataPoints) == 1 {
		if lo, ok := h.DataPoints[0].Min.Value(); !ok || lo < 10 {
			t.Errorf("smallest session recorded: %d bytes; want the encoded size", lo)
		}
	}
}

func checkCounts(t *testing.T, m map[string]metricdata.Metrics, name string, want map[string]int64) {
	t.Helper()
	got := counts(t, m[name])
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s{%s} = %d; want %d", name, k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s{%s} = %d; want none", name, k, v)
		}
	}
}

// TestActiveSessions checks the gauge against the true number of sessions
// as they are created, expire and are deleted.
func TestActiveSessions(t *testing.T) {
	tel := newTelemetry(t)
	mr, client, s := newStore(t, typedstore.Options[session]{})
	reg, err := typedstoreotel.ObserveSessions(s, append(tel.opts(), typedstoreotel.WithAttributes(attribute.String("store", "web")))...)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()
	ctx := context.Background()
	add := func(prefix string, n int, ttl time.Duration) {
		for i := range n {
			client.Set(ctx, fmt.Sprintf("sess:%s%d", prefix, i), "{}", ttl)
		}
	}
	gauge := func() int64 {
		t.Helper()
		return counts(t, tel.collect(t)["typedstore.sessions.active"])["store=web"]
	}
	truth := func() int64 {
		n, err := s.Len(ctx) // the scan that the gauge never sends
		if err != nil {
			t.Fatal(err)
		}
		return int64(n)
	}
	steps := []struct {
		what string
		do   func()
	}{
		{"empty", func() {}},
		{"300 created", func() { add("short", 200, time.Minute); add("long", 100, time.Hour) }},
		{"200 expired", func() { mr.FastForward(2 * time.Minute) }},
		{"50 more", func() { add("new", 50, time.Hour) }},
		{"20 deleted", func() { s.Delete(ctx, ids("long", 20)...) }},
		{"churn", func() { add("churn", 500, 30*time.Second); mr.FastForward(time.Minute); add("last", 7, time.Hour) }},
	}
	for _, st := range steps {
		st.do()
		if got, want := gauge(), truth(); got != want {
			t.Errorf("%s: gauge %d; want %d", st.what, got, want)
		}
	}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// TestHTTP: the middleware's events are counted and added to the
// request's span, whose children the store's spans are.
func TestHTTP(t *testing.T) {
	tel := newTelemetry(t)
	hooks, err := typedstoreotel.NewHooks(tel.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	onEvent, err := typedstoreotel.NewOnEvent(tel.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	_, _, s := newStore(t, typedstore.Options[session]{Hooks: hooks})
	m, err := httpsession.New(s, httpsession.Options{Secrets: []string{strings.Repeat("s", 32)}, MaxAge: time.Hour, OnEvent: onEvent})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/visit", func(w http.ResponseWriter, r *http.Request) { m.Get(r).Data.Visits++ })
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {})
	// What otelhttp does: a span for each request, in its context.
	traced := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, span := tel.tp.Tracer("http").Start(r.Context(), r.URL.Path)
			defer span.End()
			h.ServeHTTP(w, r.WithContext(ctx))
		})
	}
	h := traced(m.Handler(mux))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/visit", nil))
	cookie := rec.Result().Cookies()[0]
	for _, path := range []string{"/visit", "/read"} {
		req := httptest.NewRequest("GET", path, nil)
		req.AddCookie(cookie)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	checkCounts(t, tel.collect(t), "httpsession.events", map[string]int64{
		"httpsession.event=created":                     1,
		"httpsession.event=loaded,httpsession.hit=true": 2,
		"httpsession.event=saved":                       1,
		"httpsession.event=touched":                     1,
	})
	spans := tel.spans.Ended()
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, sp := range spans {
		byID[sp.SpanContext().SpanID()] = sp
	}
	var tree []string
	for _, sp := range spans {
		if p, ok := byID[sp.Parent().SpanID()]; ok {
			tree = append(tree, p.Name()+" > "+sp.Name())
		} else {
			var evs []string
			for _, e := range sp.Events() {
				evs = append(evs, e.Name)
			}
			tree = append(tree, sp.Name()+" "+strings.Join(evs, ","))
		}
	}
	want := []string{
		"/visit > typedstore.create", "/visit httpsession.created",
		"/visit > typedstore.get_and_extend", "/visit > typedstore.replace", "/visit httpsession.loaded,httpsession.saved",
		"/read > typedstore.get_and_extend", "/read httpsession.loaded,httpsession.touched",
	}
	if !slices.Equal(tree, want) {
		t.Errorf("spans:\n\t%s\nwant\n\t%s", strings.Join(tree, "\n\t"), strings.Join(want, "\n\t"))
	}
}
