package httpsession_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
	"github.com/typedstore/typedstore/internal/redistest"
)

// An Express app and a Go service with different session types share a
// session without losing each other's data: what the Express app keeps and
// the Go type does not declare (passport, flash, csrfSecret, returnTo) is
// there, unchanged, when the Express app reads the session after a Go save.
func TestInteropNodeKeepsExpressMembers(t *testing.T) {
	redistest.Heavy(t)
	addr := redistest.Addr(t)
	prefix := redistest.UniquePrefix(t)
	node := startNode(t, addr, prefix)
	client := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { client.Close() })
	store, err := typedstore.New(client, typedstore.Options[nodeSession]{Prefix: prefix, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Clear(context.Background()) })
	m, err := httpsession.New(store, httpsession.Options{Secrets: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	goSrv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		s.Data.Counter++
		s.Data.Name = "go"
		var v nodeView
		v.ID = s.ID()
		json.NewEncoder(w).Encode(v)
	})))
	t.Cleanup(goSrv.Close)

	// rawSession returns what base reports of the session of c, member by
	// member.
	rawSession := func(base, path string, c *http.Cookie) map[string]json.RawMessage {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.AddCookie(c)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Session map[string]json.RawMessage `json:"session"`
		}
		if err := json.Unmarshal([]byte(readAll(t, res)), &v); err != nil {
			t.Fatal(err)
		}
		return v.Session
	}

	_, c, _ := getView(t, node.url, "/visit", nil)
	if c == nil {
		t.Fatal("Node /visit set no cookie")
	}
	before := rawSession(node.url, "/extras", c)
	if gv, _, _ := getView(t, goSrv.URL, "/", c); gv.ID == "" {
		t.Fatal("Go request failed")
	}
	after := rawSession(node.url, "/session", c)
	for _, name := range []string{"passport", "flash", "csrfSecret", "returnTo"} {
		if string(after[name]) != string(before[name]) || len(before[name]) == 0 {
			t.Errorf("member %q: %s after the Go save; want %s, as Express set it", name, after[name], before[name])
		}
	}
	if string(after["counter"]) != "2" || string(after["name"]) != `"go"` {
		t.Errorf("Express reads counter %s, name %s; want Go's 2, \"go\"", after["counter"], after["name"])
	}
	// And the version the Go save recorded survives an Express save.
	getView(t, node.url, "/visit", c)
	if raw := client.Get(context.Background(), prefix+idOf(t, c)).Val(); !strings.Contains(raw, `"schemaVersion":1`) {
		t.Errorf("stored after an Express save: %s; want the version member kept", raw)
	}
}
