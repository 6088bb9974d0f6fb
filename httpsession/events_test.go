package httpsession_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
	"github.com/typedstore/typedstore/internal/redistest"
)

// eventLog records the events a manager reports, as lines such as
// "loaded hit" or "revoked n=2".
type eventLog struct {
	mu     sync.Mutex
	lines  []string
	events []httpsession.Event
}

func (l *eventLog) record(_ context.Context, e httpsession.Event) {
	line := e.Kind.String()
	switch {
	case e.Kind == httpsession.EventLoaded && e.Hit:
		line += " hit"
	case e.Kind == httpsession.EventLoaded:
		line += " miss"
	case e.Kind == httpsession.EventEnded:
		line += " " + string(e.Reason)
	case e.Count != 1:
		line += " n=" + strconv.Itoa(e.Count)
	}
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

// eventsApp is lifeApp with the handlers that cause the other events:
//
//	/others   DestroyOthers
//	/update   Update: counter += 1
//	/save     Save a change now
//	/vanish   the stored session is deleted (as by another request's
//	          logout), then the handler changes it
//	/vanish-logout  the same, then the handler destroys it
//	/save-with      Save with a context of its own
func eventsApp(m *httpsession.Manager[lsess]) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", lifeApp(m))
	mux.HandleFunc("/others", func(w http.ResponseWriter, r *http.Request) {
		n, err := m.Get(r).DestroyOthers(r.Context())
		fmt.Fprint(w, n, err)
	})
	mux.HandleFunc("/update", func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Update(r.Context(), func(v *lsess) error { v.Counter++; return nil })
	})
	mux.HandleFunc("/save", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		s.Data.Counter++
		s.Save(r.Context())
	})
	mux.HandleFunc("/vanish-logout", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		m.Store().Delete(r.Context(), s.ID())
		s.Destroy(r.Context())
	})
	mux.HandleFunc("/save-with", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		s.Data.Counter++
		s.Save(context.WithValue(r.Context(), saveCtxKey{}, "Save's"))
	})
	mux.HandleFunc("/vanish", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		m.Store().Delete(r.Context(), s.ID())
		s.Data.Counter++
	})
	return mux
}

// eventCase is one event on one path: the browser's requests before run
// unobserved; the last one's events must be want, in order.
type eventCase struct {
	name string
	opts httpsession.Options
	// before prepares, and may act on the store or the clock; then last
	// is requested.
	before func(e *lifeEnv, b *browser)
	last   string
	want   []string
	// clock says that the case moves the clock, which only miniredis can.
	clock bool
}

func visit(paths ...string) func(*lifeEnv, *browser) {
	return func(_ *lifeEnv, b *browser) {
		for _, p := range paths {
			b.get(p)
		}
	}
}

// eventCases is the table of event and test for the middleware that
// docs/observability.md points to.
var eventCases = []eventCase{
	{name: "none for a new session left unchanged", last: "/get", want: nil},
	{name: "created by a change", last: "/incr", want: []string{"created"}},
	{name: "created by Save", last: "/save", want: []string{"created"}},
	{
		name: "loaded and touched by the GETEX under MaxAge", opts: httpsession.Options{MaxAge: time.Hour},
		before: visit("/incr"), last: "/get", want: []string{"loaded hit", "touched"},
	},
	{
		name: "loaded and touched at the end with LoadWithGet", opts: httpsession.Options{MaxAge: time.Hour, LoadWithGet: true},
		before: visit("/incr"), last: "/get", want: []string{"loaded hit", "touched"},
	},
	{name: "saved by a change", before: visit("/incr"), last: "/incr", want: []string{"loaded hit", "saved"}},
	{name: "saved by Update", before: visit("/incr"), last: "/update", want: []string{"loaded hit", "saved"}},
	{
		name: "a miss for a session gone from the store",
		before: func(e *lifeEnv, b *browser) {
			b.get("/incr")
			e.store.Delete(context.Background(), b.id())
		},
		last: "/get", want: []string{"loaded miss"},
	},
	{name: "regenerated at login, then created", before: visit("/incr"), last: "/login", want: []string{"loaded hit", "regenerated", "created"}},
	{name: "destroyed at logout", before: visit("/incr"), last: "/logout", want: []string{"loaded hit", "destroyed"}},
	{
		name: "revoked: the other devices logged out",
		before: func(e *lifeEnv, b *browser) {
			for range 2 {
				e.browser().get("/login") // the same user on two other devices
			}
			b.get("/login")
		},
		last: "/others", want: []string{"loaded hit", "revoked n=2", "touched"},
	},
	{
		name: "corrupt",
		before: func(e *lifeEnv, b *browser) {
			b.get("/incr")
			e.client.Set(context.Background(), e.store.Prefix()+b.id(), "{not json", time.Hour)
		},
		last: "/get", want: []string{"corrupt"},
	},
	{
		name: "ended idle", clock: true, opts: httpsession.Options{IdleTimeout: 30 * time.Minute},
		before: func(e *lifeEnv, b *browser) {
			b.get("/incr")
			e.advance(31 * time.Minute)
		},
		last: "/get", want: []string{"loaded miss", "ended idle"},
	},
	{
		name: "ended at its lifetime", clock: true, opts: httpsession.Options{IdleTimeout: 30 * time.Minute, Lifetime: time.Hour},
		before: func(e *lifeEnv, b *browser) {
			b.get("/login")
			for range 2 {
				e.advance(20 * time.Minute)
				b.get("/get")
			}
			e.advance(21 * time.Minute) // 61 minutes after the login
		},
		last: "/get", want: []string{"loaded miss", "ended lifetime"},
	},
	{
		name: "renewed", clock: true, opts: httpsession.Options{RenewAfter: 10 * time.Minute},
		before: func(e *lifeEnv, b *browser) {
			b.get("/incr")
			e.advance(11 * time.Minute)
		},
		last: "/get", want: []string{"loaded hit", "renewed"},
	},
	{name: "lost: destroyed during the request", before: visit("/incr"), last: "/vanish", want: []string{"loaded hit", "lost"}},
	{name: "none from a logout of a session already gone", before: visit("/incr"), last: "/vanish-logout", want: []string{"loaded hit"}},
}

func TestEventsReportedOnce(t *testing.T) {
	testEvents(t, nil)
}

// TestEventsReportedOnceOnCluster runs the cases that need no clock of
// miniredis's on a Redis Cluster.
func TestEventsReportedOnceOnCluster(t *testing.T) {
	redistest.Heavy(t)
	c := redistest.StartCluster(t, 3, 0)
	testEvents(t, c.Client(t, nil))
}

// testEvents runs eventCases on client, or on miniredis when it is nil.
func testEvents(t *testing.T, client redis.UniversalClient) {
	for _, tc := range eventCases {
		if client != nil && tc.clock {
			continue // moves the clock, which only miniredis can
		}
		t.Run(tc.name, func(t *testing.T) {
			log := &eventLog{}
			opts := tc.opts
			opts.OnEvent = log.record
			sopts := typedstore.Options[lsess]{Owner: func(v lsess) string {
				if v.UserID == 0 {
					return ""
				}
				return strconv.FormatInt(v.UserID, 10)
			}}
			var e *lifeEnv
			if client == nil {
				e = newLifeEnv(t, opts, sopts)
			} else {
				sopts.Prefix = redistest.UniquePrefix(t)
				e = newLifeEnvOn(t, client, opts, sopts)
			}
			e.h = e.m.Handler(eventsApp(e.m))
			b := e.browser()
			if tc.before != nil {
				tc.before(e, b)
			}
			log.take()
			b.get(tc.last)
			if got := log.take(); !slices.Equal(got, tc.want) {
				t.Errorf("%s: events\n\t%s\nwant\n\t%s", tc.last, strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
			log.mu.Lock()
			defer log.mu.Unlock()
			for _, ev := range log.events {
				if id := b.id(); id != "" && strings.Contains(fmt.Sprintf("%+v", ev), id[:8]) {
					t.Errorf("an event holds the session id: %+v", ev)
				}
			}
		})
	}
}

// TestOnEventPanics: a panic in OnEvent goes up through the handler, as
// the documentation says, after the save it reports.
func TestOnEventPanics(t *testing.T) {
	e := newLifeEnv(t, httpsession.Options{OnEvent: func(_ context.Context, ev httpsession.Event) {
		if ev.Kind == httpsession.EventCreated {
			panic("hook failed")
		}
	}}, typedstore.Options[lsess]{})
	defer func() {
		if r := recover(); r != "hook failed" {
			t.Errorf("recovered %v; want the hook's panic", r)
		}
		keys := e.mr.Keys()
		if len(keys) != 1 {
			t.Errorf("stored keys %q; want the session whose creation the hook heard of", keys)
		}
	}()
	e.browser().get("/incr")
	t.Error("the request returned; want the hook's panic")
}

type saveCtxKey struct{}

// TestEventContext: an event that a method of the session causes comes
// with the context passed to that method; the others with the request's.
func TestEventContext(t *testing.T) {
	var got []string
	e := newLifeEnv(t, httpsession.Options{OnEvent: func(ctx context.Context, ev httpsession.Event) {
		v, _ := ctx.Value(saveCtxKey{}).(string)
		got = append(got, ev.Kind.String()+" "+v)
	}}, typedstore.Options[lsess]{})
	e.h = e.m.Handler(eventsApp(e.m))
	b := e.browser()
	b.get("/save-with")
	b.get("/save-with")
	want := []string{"created Save's", "loaded ", "saved Save's"}
	if !slices.Equal(got, want) {
		t.Errorf("events and their contexts %q; want %q", got, want)
	}
}

// TestCacheHeadersOnce: a response that sets the session cookie and the
// end cookie says Vary: Cookie and no-cache="Set-Cookie" once each.
func TestCacheHeadersOnce(t *testing.T) {
	e := newLifeEnv(t, httpsession.Options{IdleTimeout: time.Hour}, typedstore.Options[lsess]{})
	res := e.browser().get("/incr")
	if n := len(res.cookies); n != 2 {
		t.Fatalf("%d cookies set; want the session's and the end's", n)
	}
	if got := res.header.Values("Vary"); !slices.Equal(got, []string{"Cookie"}) {
		t.Errorf("Vary %q; want Cookie once", got)
	}
	if got := res.header.Values("Cache-Control"); !slices.Equal(got, []string{`no-cache="Set-Cookie"`}) {
		t.Errorf("Cache-Control %q; want no-cache=\"Set-Cookie\" once", got)
	}
}
