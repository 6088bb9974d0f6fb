package httpsession_test

import (
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
)

// For random options and random schedules of requests (reads, changes,
// logins with and without remember-me, logouts, a closed browser), a session
// is loaded exactly while its model says it is alive: until the sooner of
// its idle deadline (the idle timeout in force after its last request) and
// its absolute deadline (Lifetime after its login), never after and never
// lost before. At every step its time to live in Redis is that deadline,
// and a request after a policy's end says which one it was, once.
//
// The test's browser sends the session cookie even after the cookie's own
// expiry, so that what is checked is the server's rule, not the browser's.
func TestLifetimeProperty(t *testing.T) {
	const storeTTL = 45 * time.Minute
	rapid.Check(t, func(rt *rapid.T) {
		opts := httpsession.Options{
			IdleTimeout: rapid.SampledFrom([]time.Duration{0, 5 * time.Minute, 10 * time.Minute}).Draw(rt, "IdleTimeout"),
			Lifetime:    rapid.SampledFrom([]time.Duration{0, 30 * time.Minute, time.Hour}).Draw(rt, "Lifetime"),
			MaxAge:      rapid.SampledFrom([]time.Duration{0, 7 * time.Minute, 20 * time.Minute}).Draw(rt, "MaxAge"),
			RenewAfter:  rapid.SampledFrom([]time.Duration{0, 12 * time.Minute}).Draw(rt, "RenewAfter"),
			Rolling:     rapid.Bool().Draw(rt, "Rolling"),
			LoadWithGet: rapid.Bool().Draw(rt, "LoadWithGet"),
		}
		e := newLifeEnv(rt, opts, typedstore.Options[lsess]{TTL: storeTTL})
		b := e.browser()
		b.keepExpired = true
		policy := opts.IdleTimeout > 0 || opts.Lifetime > 0

		// The model: the browser's session, if it has one.
		type model struct {
			start, last time.Time
			maxAge      time.Duration // 0: a browser-session cookie
			counter     int
			user        int64
		}
		var cur *model
		var reason httpsession.ExpiryReason // what the next request must report
		window := func(m *model) time.Duration {
			w := opts.IdleTimeout
			if m.maxAge > 0 && (w == 0 || m.maxAge < w) {
				w = m.maxAge
			}
			if w == 0 {
				w = storeTTL
			}
			return w
		}
		deadline := func(m *model) (time.Time, httpsession.ExpiryReason) {
			end, why := m.last.Add(window(m)), httpsession.ExpiredIdle
			if opts.Lifetime > 0 {
				if a := m.start.Add(opts.Lifetime); !a.After(end) {
					end, why = a, httpsession.ExpiredLifetime
				}
			}
			return end, why
		}

		gaps := []time.Duration{time.Second, 30 * time.Second, 2 * time.Minute, 5 * time.Minute, 8 * time.Minute, 13 * time.Minute, 25 * time.Minute, 50 * time.Minute}
		for step := range rapid.IntRange(1, 25).Draw(rt, "steps") {
			e.advance(rapid.SampledFrom(gaps).Draw(rt, fmt.Sprintf("gap %d", step)))
			now := e.clock.Now()
			if cur != nil {
				if end, why := deadline(cur); !now.Before(end) {
					cur = nil
					if policy {
						reason = why
					}
				}
			}
			action := rapid.SampledFrom([]string{"get", "get", "incr", "login", "login?remember=1", "logout", "close"}).Draw(rt, fmt.Sprintf("action %d", step))
			if action == "close" {
				b.close()
				if cur != nil && cur.maxAge == 0 {
					cur = nil
				}
				if _, ok := b.cookies[httpsession.DefaultName+".end"]; !ok {
					reason = ""
				}
				continue
			}
			res := b.get("/" + action)
			switch action {
			case "get", "incr":
				want, existed := endedBody(reason), cur != nil
				if action == "incr" {
					if cur == nil {
						cur = &model{start: now, maxAge: opts.MaxAge}
						want = fmt.Sprintf(`user=0 counter=1 new=true expired=%q`, reason)
					}
					cur.counter++
				}
				if existed {
					want = fmt.Sprintf(`user=%d counter=%d new=false expired=""`, cur.user, cur.counter)
				}
				if res.body != want {
					rt.Fatalf("step %d, %s: %q; want %q", step, action, res.body, want)
				}
			case "login", "login?remember=1":
				if cur == nil {
					cur = &model{maxAge: opts.MaxAge}
				}
				cur.start, cur.user, cur.maxAge = now, 42, opts.MaxAge
				if action == "login?remember=1" {
					cur.maxAge = remember
				}
			case "logout":
				cur = nil
			}
			reason = ""
			if cur != nil {
				cur.last = now
				end, _ := deadline(cur)
				if got, want := e.pttl(b.id()), end.Sub(now); got != want {
					rt.Fatalf("step %d, %s: time to live %v; want %v", step, action, got, want)
				}
			}
		}
	})
}
