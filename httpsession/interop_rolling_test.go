package httpsession_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
	"github.com/typedstore/typedstore/internal/redistest"
)

// A rolling session shared with a rolling Express app lives MaxAge after its
// last request, on both sides, however many MaxAge periods it is in use:
// requests every 500 ms, alternately to Go and to Node, each with the
// latest cookie, keep one session alive for three periods of a 2 s MaxAge;
// left alone for longer than MaxAge, it is gone on both sides.
func TestInteropNodeRolling(t *testing.T) {
	redistest.Heavy(t)
	const maxAge = 2 * time.Second
	addr := redistest.Addr(t)
	prefix := redistest.UniquePrefix(t)
	node := startNode(t, addr, prefix, "ROLLING=1", "MAX_AGE_MS=2000")

	client := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { client.Close() })
	store, err := typedstore.New(client, typedstore.Options[nodeSession]{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Clear(context.Background()) })
	for _, loadWithGet := range []bool{false, true} {
		m, err := httpsession.New(store, httpsession.Options{Secrets: []string{secret}, MaxAge: maxAge, Rolling: true, LoadWithGet: loadWithGet})
		if err != nil {
			t.Fatal(err)
		}
		goSrv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := m.Get(r)
			var v nodeView
			v.ID = s.ID()
			v.Session.Counter, v.Session.Name = s.Data.Counter, s.Data.Name
			json.NewEncoder(w).Encode(v)
		})))
		t.Cleanup(goSrv.Close)

		// get returns the session id and counter that base reports for c,
		// and the cookie it sends back (c when it sends none).
		get := func(base, path string, c *http.Cookie) (string, int, *http.Cookie) {
			t.Helper()
			v, next, _ := getView(t, base, path, c)
			if next == nil {
				next = c
			}
			return v.ID, v.Session.Counter, next
		}

		id, n, c := get(node.url, "/visit", nil)
		if n != 1 || c == nil {
			t.Fatalf("Node /visit: counter %d, cookie %v", n, c)
		}
		tick := time.NewTicker(maxAge / 4)
		for i := range 12 { // three MaxAge periods
			<-tick.C
			base := goSrv.URL
			if i%2 == 1 {
				base = node.url
			}
			gotID, n, next := get(base, "/session", c)
			if gotID != id || n != 1 {
				t.Fatalf("LoadWithGet %v, request %d to %s: session %q, counter %d; want %q, 1", loadWithGet, i+1, base, gotID, n, id)
			}
			c = next
		}
		tick.Stop()
		// Left alone past MaxAge, the session is gone from Redis, and both
		// sides start a new one.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for client.Exists(ctx, prefix+id).Val() == 1 && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		for _, base := range []string{goSrv.URL, node.url} {
			if gotID, _, _ := get(base, "/session", c); gotID == id {
				t.Errorf("LoadWithGet %v: %s loaded the session after MaxAge unused", loadWithGet, base)
			}
		}
	}
}
