package httpsession_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
)

// renewOpts renew ids after 15 minutes, with the default grace of 30 s.
var renewOpts = httpsession.Options{RenewAfter: 15 * time.Minute, IdleTimeout: time.Hour}

// forwardKey is the key that records where the renewed id old leads.
func forwardKey(old string) string { return "renewed:" + typedstore.DefaultPrefix + old }

// A session whose id is older than RenewAfter gets a new id on its next
// request: data and start kept, the old id deleted, the new cookie sent.
// For the grace period a request with the old cookie is served the renewed
// session and given the new cookie; after it, the old cookie is worthless.
func TestRenewAfter(t *testing.T) {
	const idle = time.Hour
	tests := []struct {
		name   string
		opts   httpsession.Options
		store  typedstore.Options[lsess]
		window time.Duration
		slack  time.Duration
	}{
		{name: "loaded with GETEX", opts: httpsession.Options{IdleTimeout: idle}, window: idle},
		{name: "Rolling", opts: httpsession.Options{IdleTimeout: idle, MaxAge: 2 * time.Hour, Rolling: true}, window: idle},
		{name: "LoadWithGet and TouchSlack", opts: httpsession.Options{IdleTimeout: idle, LoadWithGet: true},
			store: typedstore.Options[lsess]{TouchSlack: time.Minute}, window: idle, slack: time.Minute},
		{name: "Lifetime", opts: httpsession.Options{IdleTimeout: idle, Lifetime: 24 * time.Hour}, window: idle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.RenewAfter = renewOpts.RenewAfter
			e := newLifeEnv(t, opts, tt.store)
			b := e.browser()
			b.get("/login")
			old := b.id()
			login := e.clock.Now()
			e.advance(10 * time.Minute)
			if res := b.get("/incr"); res.body != loggedIn(1) || b.id() != old {
				t.Fatalf("10 minutes in: %q, id changed %v; want the same session", res.body, b.id() != old)
			}
			e.advance(6 * time.Minute)
			res := b.get("/get")
			if res.body != loggedIn(1) {
				t.Fatalf("16 minutes in: %q; want the session", res.body)
			}
			renewed := b.id()
			if c := res.cookie(); c == nil || renewed == old {
				t.Fatalf("16 minutes in: cookie %v; want a new id", c)
			}
			if e.mr.Exists(typedstore.DefaultPrefix + old) {
				t.Error("the old id is still stored")
			}
			v := e.load(renewed)
			if !v.Started().Equal(login.Truncate(time.Millisecond)) || !v.Issued().Equal(e.clock.Now().Truncate(time.Millisecond)) {
				t.Errorf("renewed session started %v, issued %v; want the login %v and now %v", v.Started(), v.Issued(), login, e.clock.Now())
			}
			checkTTL(t, e, "renewed", renewed, tt.window, tt.slack, false)
			if got := e.mr.TTL(forwardKey(old)); got != httpsession.DefaultRenewGrace {
				t.Errorf("the old id's record lives %v; want %v", got, httpsession.DefaultRenewGrace)
			}

			// A tab that still holds the old cookie, within the grace period.
			e.advance(10 * time.Second)
			tab := e.browser()
			tab.cookies[httpsession.DefaultName] = jarCookie{c: signedCookie(old, secret)}
			if res := tab.get("/incr"); res.body != loggedIn(2) || tab.id() != renewed {
				t.Errorf("old cookie within the grace period: %q, cookie of the renewed id %v; want the renewed session and its cookie", res.body, tab.id() == renewed)
			}
			checkTTL(t, e, "after the old tab's request", renewed, tt.window, tt.slack, false)
			if got := e.load(renewed).Counter; got != 2 {
				t.Errorf("counter after the old tab's change %d; want 2", got)
			}

			// After it.
			e.advance(httpsession.DefaultRenewGrace)
			late := e.browser()
			late.cookies[httpsession.DefaultName] = jarCookie{c: signedCookie(old, secret)}
			if res := late.get("/get"); res.body != endedBody("") {
				t.Errorf("old cookie after the grace period: %q; want a new session", res.body)
			}
			if res := b.get("/get"); res.body != loggedIn(2) || b.id() != renewed {
				t.Errorf("the renewed cookie: %q; want the session under the same id", res.body)
			}
			if keys := e.mr.Keys(); len(keys) != 1 || keys[0] != typedstore.DefaultPrefix+renewed {
				t.Errorf("keys = %q; want the renewed session alone", keys)
			}
		})
	}
}

// Requests that loaded a session before a concurrent request renewed its id
// lose nothing and log nobody out: a save, an Update or the end of the
// request lands on the renewed session, a second renewal at once joins the
// first, and every response carries the renewed id.
func TestRenewWithConcurrentRequests(t *testing.T) {
	for _, action := range []string{"none", "incr", "save", "update"} {
		t.Run(action, func(t *testing.T) {
			e := newLifeEnv(t, renewOpts, typedstore.Options[lsess]{})
			loaded, resume := make(chan struct{}), make(chan struct{})
			slow := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := e.m.Get(r)
				loaded <- struct{}{}
				<-resume
				var err error
				switch action {
				case "incr":
					s.Data.Counter++
				case "save":
					s.Data.Counter++
					err = s.Save(r.Context())
				case "update":
					err = s.Update(r.Context(), func(v *lsess) error { v.Counter++; return nil })
				}
				if err != nil {
					t.Errorf("%s: %v", action, err)
				}
				fmt.Fprintf(w, "counter=%d", s.Data.Counter)
			}))
			b := e.browser()
			b.get("/login")
			old := b.id()
			want := 0
			if action != "none" {
				want = 1
			}

			// One request loads the session just before its id is due...
			e.advance(15*time.Minute - time.Second)
			slowDone := b.start(slow, "/slow")
			<-loaded
			// ...another, after, renews it...
			e.advance(2 * time.Second)
			b.get("/get")
			renewed := b.id()
			if renewed == old {
				t.Fatal("the session was not renewed")
			}
			// ...and the first one ends.
			close(resume)
			rec := <-slowDone
			b.keep(rec.Result().Cookies())
			if got := b.id(); got != renewed {
				t.Errorf("the slow request's cookie names another id than the renewed one")
			}
			if got := e.load(renewed).Counter; got != want {
				t.Errorf("stored counter %d; want %d", got, want)
			}
			if keys := e.mr.Keys(); len(keys) != 2 || !e.mr.Exists(typedstore.DefaultPrefix+renewed) || !e.mr.Exists(forwardKey(old)) {
				t.Errorf("keys = %q; want the renewed session and the old id's record", keys)
			}
			e.advance(time.Minute)
			if res := b.get("/get"); res.body != loggedIn(want) || b.id() != renewed {
				t.Errorf("after: %q; want the session under the renewed id", res.body)
			}
		})
	}
}

// Two requests that both find the session due for renewal renew it once:
// the second deletes its own copy and joins the first's id, saving its
// changes there.
func TestRenewTwiceAtOnce(t *testing.T) {
	e := newLifeEnv(t, renewOpts, typedstore.Options[lsess]{})
	loaded := make(chan struct{})
	resume := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := e.m.Get(r)
		n := len(r.URL.Query().Get("n"))
		loaded <- struct{}{}
		<-resume[n-1]
		s.Data.Counter += n
	}))
	b := e.browser()
	b.get("/login")
	old := b.id()
	e.advance(16 * time.Minute)
	done := [2]<-chan *httptest.ResponseRecorder{b.start(h, "/?n=1"), b.start(h, "/?n=22")}
	<-loaded
	<-loaded
	var ids []string
	for i := range resume {
		close(resume[i])
		rec := <-done[i]
		b.keep(rec.Result().Cookies())
		ids = append(ids, b.id())
	}
	if ids[0] == old || ids[1] != ids[0] {
		t.Fatalf("the two responses' ids are the same %v, renewed %v; want one renewed id for both", ids[1] == ids[0], ids[0] != old)
	}
	if got := e.load(ids[0]).Counter; got != 2 {
		t.Errorf("stored counter %d; want the later request's 2 (last writer wins)", got)
	}
	if keys := e.mr.Keys(); len(keys) != 2 {
		t.Errorf("keys = %q; want the renewed session and the old id's record", keys)
	}
}

// Renewals keep the owner's index right: under MaxPerOwner 1 a session
// renewed eight times is never evicted as a second session of its owner,
// and the owner has one session all along.
func TestRenewKeepsOwnerIndex(t *testing.T) {
	owner := func(v lsess) string {
		if v.UserID == 0 {
			return ""
		}
		return fmt.Sprint(v.UserID)
	}
	e := newLifeEnv(t, renewOpts, typedstore.Options[lsess]{Owner: owner, MaxPerOwner: 1})
	b := e.browser()
	b.get("/login")
	ids := map[string]bool{b.id(): true}
	for i := range 8 {
		e.advance(16 * time.Minute)
		if res := b.get("/incr"); res.body != loggedIn(i+1) {
			t.Fatalf("renewal %d: %q; want the session", i+1, res.body)
		}
		ids[b.id()] = true
		if n, err := e.store.CountOwned(t.Context(), "42"); n != 1 || err != nil {
			t.Fatalf("renewal %d: CountOwned = %d, %v; want 1", i+1, n, err)
		}
	}
	if len(ids) != 9 {
		t.Errorf("%d distinct ids in 8 renewals; want 9", len(ids))
	}
}

// A renewal does not undo a logout: when the session is destroyed while a
// request that will renew it runs, the renewed copy is deleted too, and the
// response clears the cookie.
func TestRenewAfterLogoutElsewhere(t *testing.T) {
	e := newLifeEnv(t, renewOpts, typedstore.Options[lsess]{})
	loaded, resume := make(chan struct{}), make(chan struct{})
	slow := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.m.Get(r).Data.Counter++
		loaded <- struct{}{}
		<-resume
	}))
	b := e.browser()
	b.get("/login")
	old := b.id()
	e.advance(16 * time.Minute)
	done := b.start(slow, "/slow")
	<-loaded
	if err := e.store.Delete(t.Context(), old); err != nil { // a logout in another tab
		t.Fatal(err)
	}
	close(resume)
	rec := <-done
	if c := (result{cookies: rec.Result().Cookies()}).cookie(); c == nil || c.MaxAge >= 0 {
		t.Errorf("session cookie %v; want one that clears the browser's", c)
	}
	for _, k := range e.mr.Keys() {
		if k != forwardKey(old) {
			t.Errorf("key %q after a renewal of a destroyed session; want none but the old id's record", k)
		}
	}
}
