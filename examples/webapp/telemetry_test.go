package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/typedstore/typedstore"
)

// span is the part of a span, as stdouttrace writes it, that the test
// reads.
type span struct {
	Name        string
	SpanContext struct{ SpanID string }
	Parent      struct{ SpanID string }
	Attributes  []struct {
		Key   string
		Value struct{ Value any }
	}
	Events []struct{ Name string }
}

// dump reads what the telemetry wrote: the spans, and the names of the
// metrics with their data points' attributes and values.
func dump(t *testing.T, r io.Reader) ([]span, map[string][]string) {
	t.Helper()
	dec := json.NewDecoder(r)
	var spans []span
	metrics := map[string][]string{}
	for {
		var raw map[string]json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		whole, _ := json.Marshal(raw)
		if _, ok := raw["SpanContext"]; ok {
			var s span
			if err := json.Unmarshal(whole, &s); err != nil {
				t.Fatal(err)
			}
			spans = append(spans, s)
			continue
		}
		var rm struct {
			ScopeMetrics []struct {
				Metrics []struct {
					Name string
					Data struct {
						DataPoints []struct {
							Attributes []struct {
								Key   string
								Value struct{ Value any }
							}
							Value any
							Count any
						}
					}
				}
			}
		}
		if err := json.Unmarshal(whole, &rm); err != nil {
			t.Fatal(err)
		}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				metrics[m.Name] = nil
				for _, p := range m.Data.DataPoints {
					var kv []string
					for _, a := range p.Attributes {
						kv = append(kv, fmt.Sprintf("%s=%v", a.Key, a.Value.Value))
					}
					slices.Sort(kv)
					v := p.Value
					if v == nil {
						v = p.Count
					}
					metrics[m.Name] = append(metrics[m.Name], fmt.Sprintf("{%s} %v", strings.Join(kv, ","), v))
				}
			}
		}
	}
	return spans, metrics
}

// tree renders spans as an indented tree, children in the order they
// ended, with each span's events.
func tree(spans []span) string {
	children := map[string][]span{}
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanContext.SpanID] = true
	}
	var roots []span
	for _, s := range spans {
		if ids[s.Parent.SpanID] {
			children[s.Parent.SpanID] = append(children[s.Parent.SpanID], s)
		} else {
			roots = append(roots, s)
		}
	}
	var b strings.Builder
	var walk func(s span, depth int)
	walk = func(s span, depth int) {
		fmt.Fprintf(&b, "%s%s", strings.Repeat("  ", depth), s.Name)
		for _, e := range s.Events {
			fmt.Fprintf(&b, " [%s]", e.Name)
		}
		b.WriteByte('\n')
		kids := children[s.SpanContext.SpanID]
		// Children end before their parent; show them in the order they
		// ran, which for these sequential calls is the order they ended.
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return b.String()
}

// TestTelemetry runs a visit through the site with its telemetry on: a
// login, a page, a cart, the devices page, and checks the trace (every
// request's span holds the store's spans, which hold the Redis commands)
// and the metrics. docs/observability.md shows its output.
func TestTelemetry(t *testing.T) {
	var out bytes.Buffer
	tel, err := newTelemetry(&out, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	mr := miniredis.RunT(t)
	opts := storeOptions
	opts.Hooks = tel.hooks
	store, err := typedstore.Open("redis://"+mr.Addr(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := tel.instrument(store); err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(store, "test secret", time.Now, tel.onEvent)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(tel.handler(h))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path string, form url.Values) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(form.Encode()))
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode >= 400 {
			t.Fatalf("%s %s: %s", method, path, res.Status)
		}
	}
	send("POST", "/cart", url.Values{"item": {"apple"}})
	send("POST", "/login", url.Values{"name": {"Ada"}})
	send("GET", "/", nil)
	send("GET", "/devices", nil)
	u, _ := url.Parse(srv.URL)
	var ids []string
	for _, ck := range jar.Cookies(u) {
		if v, err := url.QueryUnescape(ck.Value); err == nil && strings.HasPrefix(v, "s:") && strings.Contains(v, ".") {
			ids = append(ids, v[2:strings.LastIndexByte(v, '.')])
		}
	}
	if len(ids) == 0 {
		t.Fatal("no session cookie")
	}
	send("POST", "/logout", url.Values{})
	send("GET", "/", nil) // says "You are logged out.", and forgets the session that carried it
	if err := tel.shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if bytes.Contains(out.Bytes(), []byte(id)) || bytes.Contains(out.Bytes(), []byte(id[:8])) {
			t.Errorf("the telemetry holds a session id")
		}
	}
	spans, metrics := dump(t, &out)
	got := tree(spans)
	t.Logf("trace:\n%s", got)
	for name, points := range metrics {
		t.Logf("%s: %s", name, strings.Join(points, "; "))
	}
	for _, want := range []string{
		"POST /cart [httpsession.created]\n  typedstore.create [typedstore.session.created]\n    set\n",
		"POST /login [httpsession.loaded] [httpsession.regenerated] [httpsession.created]\n  typedstore.get [typedstore.session.loaded]\n    get\n  typedstore.delete [typedstore.session.deleted]\n    unlink\n  typedstore.create [typedstore.session.created]\n",
		// The logout's new session carries the message to the next page.
		"POST /logout [httpsession.loaded] [httpsession.destroyed] [httpsession.created]\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the trace has no\n%s", want)
		}
	}
	for _, name := range []string{"typedstore.operation.duration", "typedstore.session.size", "typedstore.session.events", "typedstore.sessions.active", "httpsession.events", "http.server.request.duration"} {
		if len(metrics[name]) == 0 {
			t.Errorf("no metric %s", name)
		}
	}
	if !slices.Contains(metrics["httpsession.events"], "{httpsession.event=regenerated} 1") {
		t.Errorf("httpsession.events: %q; want one regenerated", metrics["httpsession.events"])
	}
	if !slices.Contains(metrics["typedstore.sessions.active"], "{} 0") {
		t.Errorf("typedstore.sessions.active: %q; want 0 after the logout and the page that says so", metrics["typedstore.sessions.active"])
	}
}
