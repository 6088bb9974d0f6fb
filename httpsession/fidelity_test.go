package httpsession_test

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

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
