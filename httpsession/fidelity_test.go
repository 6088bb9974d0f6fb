package httpsession_test

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
	"github.com/typedstore/typedstore/internal/clock"
)

// testdata/express-extras.json is a session as express-session 1.19 and
// connect-redis 9 stored it, from the Express app in testdata/node after
// GET /visit and GET /extras: members that sess does not declare (passport,
// flash, csrfSecret, returnTo) beside those it does.
var expressExtras = []string{"passport", "flash", "csrfSecret", "returnTo"}

// A Go save of a session an Express app keeps data in writes that data back
// unchanged, whether the request changed the session, moved it to a new id
// (Regenerate) or changed it with Update.
func TestExpressMembersSurviveGoSave(t *testing.T) {
	golden, err := os.ReadFile("testdata/express-extras.json")
	if err != nil {
		t.Fatal(err)
	}
	golden = []byte(strings.TrimSpace(string(golden)))
	// The captured cookie expires at 15:26:54 UTC that day.
	at := time.Date(2026, 12, 2, 14, 30, 0, 0, time.UTC)
	for _, path := range []string{"/incr", "/login", "/update"} {
		t.Run(path, func(t *testing.T) {
			clock.Set(t, func() time.Time { return at })
			e := newEnv(t, httpsession.Options{MaxAge: time.Hour})
			e.mr.Set("sess:golden", string(golden))
			e.mr.SetTTL("sess:golden", time.Hour)
			if path == "/update" {
				e.h = e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					err := e.m.Get(r).Update(r.Context(), func(v *sess) error { v.Counter += 5; return nil })
					if err != nil {
						t.Error(err)
					}
				}))
			}
			res := e.do(path, signedCookie("golden", secret))
			id := "golden"
			if c := res.cookie(); c != nil {
				id = idOf(t, c)
			}
			stored := e.stored(id)
			if stored == "" {
				t.Fatalf("%s: nothing stored under the session's id (%d %q)", path, res.code, res.body)
			}
			var got, want map[string]json.RawMessage
			if err := json.Unmarshal([]byte(stored), &got); err != nil {
				t.Fatal(err)
			}
			json.Unmarshal(golden, &want)
			for _, name := range expressExtras {
				if string(got[name]) != string(want[name]) {
					t.Errorf("%s: member %q is %s; want %s, as Express stored it", path, name, got[name], want[name])
				}
			}
			if string(got["name"]) != `"node"` {
				t.Errorf("%s: name %s; want the declared member kept", path, got["name"])
			}
			e.noErrors()
		})
	}
}

// A rolling deploy through the middleware: a program at version 1 loads
// and saves a session that a program at version 2 wrote; the stored session
// keeps version 2 and the members only version 2 declares.
func TestOlderProgramKeepsNewerSession(t *testing.T) {
	type newer struct {
		typedstore.Cookie `json:"cookie"`
		Counter           int    `json:"counter,omitempty"`
		Plan              string `json:"plan"`
	}
	mr, store := newStore(t, typedstore.Options[sess]{Version: 1})
	e := newEnvOn(t, mr, store, httpsession.Options{MaxAge: time.Hour})
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	v2, err := typedstore.New(client, typedstore.Options[newer]{Version: 2})
	if err != nil {
		t.Fatal(err)
	}
	ms := int64(time.Hour / time.Millisecond)
	exp := time.Now().Add(time.Hour).UTC()
	if err := v2.Set(t.Context(), "shared", newer{Cookie: typedstore.Cookie{OriginalMaxAge: &ms, ExpiresAt: &exp, Path: "/", HTTPOnly: true}, Counter: 1, Plan: "pro"}); err != nil {
		t.Fatal(err)
	}
	if res := e.do("/incr", signedCookie("shared", secret)); res.body != "user=0 counter=2 new=false" {
		t.Fatalf("the older program: %q; want the session", res.body)
	}
	got, err := v2.Get(t.Context(), "shared")
	if err != nil {
		t.Fatal(err)
	}
	if got.Plan != "pro" || got.Counter != 2 {
		t.Errorf("the newer program loads %+v; want plan pro and the older program's counter 2", got)
	}
	if stored := e.stored("shared"); !strings.Contains(stored, `"schemaVersion":2`) || strings.Count(stored, `"schemaVersion"`) != 1 {
		t.Errorf("stored %s; want version 2 kept, once", stored)
	}
	e.noErrors()
}
