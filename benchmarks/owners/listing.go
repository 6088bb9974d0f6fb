package main

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"time"

	goccy "github.com/goccy/go-json"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/benchmarks/internal/harness"
)

// The first part: the sessions of one user among many, found through the
// owner's index or, as every peer has to, by scanning every key.

// scanCount is the COUNT hint of the SCAN way, ten times typedstore's and
// connect-redis's default: fewer round trips, its best case.
const scanCount = 1000

// lister runs the four ways of listing and deleting the target's sessions.
type lister struct {
	st     *typedstore.Store[Session] // with Owner, on raw
	raw    *redis.Client              // hooked by m.ctr
	m      *meter
	target string
	ids    []string // the target's sessions
	sess   Session
}

// way is one row of the first table.
type way struct {
	task   string // what the user wants done
	name   string
	index  bool // through the owner's index (else by SCAN)
	call   func(context.Context) error
	before func(context.Context) error // untimed set-up before each call
}

// ways returns the rows: each index way followed by the SCAN way that does
// the same.
func (l *lister) ways() []way {
	return []way{
		{task: "list", name: "OwnedBy", index: true, call: l.listIndex},
		{task: "list", name: "SCAN + MGET + decode + filter", call: l.listScan},
		{task: "delete", name: "DeleteOwned", index: true, call: l.deleteIndex, before: l.recreate},
		{task: "delete", name: "SCAN + MGET + decode + filter + DEL", call: l.deleteScan, before: l.recreate},
	}
}

// recreate writes the target's sessions through the store, as logins do.
func (l *lister) recreate(ctx context.Context) error {
	for _, id := range l.ids {
		if err := l.st.Set(ctx, id, l.sess); err != nil {
			return err
		}
	}
	return nil
}

func (l *lister) check(got []string, what string) error {
	got = slices.Clone(got)
	slices.Sort(got)
	want := slices.Sorted(slices.Values(l.ids))
	if !slices.Equal(got, want) {
		return fmt.Errorf("%s found %d sessions %v; want the target's %d %v", what, len(got), got, len(want), want)
	}
	return nil
}

func (l *lister) listIndex(ctx context.Context) error {
	seq, errf := l.st.OwnedBy(ctx, l.target)
	var got []string
	for id, v := range seq {
		if v.UserID != l.target {
			return fmt.Errorf("OwnedBy yielded a session of %q", v.UserID)
		}
		got = append(got, id)
	}
	if err := errf(); err != nil {
		return err
	}
	return l.check(got, "OwnedBy")
}

func (l *lister) deleteIndex(ctx context.Context) error {
	n, err := l.st.DeleteOwned(ctx, l.target)
	if err != nil {
		return err
	}
	if n != len(l.ids) {
		return fmt.Errorf("DeleteOwned deleted %d sessions; want %d", n, len(l.ids))
	}
	return nil
}

func (l *lister) listScan(ctx context.Context) error {
	keys, _, err := l.scanOwner(ctx)
	if err != nil {
		return err
	}
	return l.check(trimPrefix(keys), "the SCAN")
}

func (l *lister) deleteScan(ctx context.Context) error {
	keys, _, err := l.scanOwner(ctx)
	if err != nil {
		return err
	}
	if err := l.check(trimPrefix(keys), "the SCAN"); err != nil {
		return err
	}
	n, err := l.raw.Del(ctx, keys...).Result()
	if err != nil {
		return err
	}
	if n != int64(len(l.ids)) {
		return fmt.Errorf("DEL deleted %d sessions; want %d", n, len(l.ids))
	}
	return nil
}

func trimPrefix(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k[len(prefix):]
	}
	return out
}

// scanOwner finds the target's sessions the only way the peers' stores
// offer: SCAN MATCH sess:* over every key, MGET of each batch, decode every
// session and keep the target's. It is the best case of scs's Iterate (one
// GET per key) and connect-redis's all() (one MGET of every key at the end):
// COUNT 1000, and each batch's MGET in the same pipeline as the next SCAN,
// so one round trip per batch; the values are decoded as they come and only
// the target's are kept. It returns their keys and sessions.
func (l *lister) scanOwner(ctx context.Context) ([]string, []Session, error) {
	var found []string
	var sessions []Session
	seen := map[string]bool{} // SCAN may return a key twice
	var keys []string
	var cursor uint64
	for started := false; ; started = true {
		more := !started || cursor != 0
		if !more && len(keys) == 0 {
			return found, sessions, nil
		}
		var mget *redis.SliceCmd
		var scan *redis.ScanCmd
		_, err := l.raw.Pipelined(ctx, func(p redis.Pipeliner) error {
			if len(keys) > 0 {
				mget = p.MGet(ctx, keys...)
			}
			if more {
				scan = p.Scan(ctx, cursor, prefix+"*", scanCount)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		if mget != nil {
			for i, v := range mget.Val() {
				data, ok := v.(string)
				if !ok {
					continue // expired or deleted since the SCAN
				}
				var s Session
				if err := goccy.Unmarshal([]byte(data), &s); err != nil {
					return nil, nil, fmt.Errorf("decode %s: %w", keys[i], err)
				}
				if s.UserID == l.target && !seen[keys[i]] {
					seen[keys[i]] = true
					found = append(found, keys[i])
					sessions = append(sessions, s)
				}
			}
		}
		keys = nil
		if scan != nil {
			keys, cursor = scan.Val()
		}
	}
}

// timed is one way's measurement in one repetition.
type timed struct {
	us    float64 // median time of one call, in µs
	calls int
	cost  perOp
}

// measureWay calls w n times, with its untimed set-up before each call, and
// returns the median time of a call and its mean usage. An index way is
// called once more first, untimed, so that its scripts are loaded.
func (l *lister) measureWay(ctx context.Context, w way, n int) (timed, error) {
	times := make([]float64, 0, n)
	costs := make([]perOp, 0, n)
	skip := 0
	if w.index {
		skip = 1
	}
	for i := range n + skip {
		if w.before != nil {
			if err := w.before(ctx); err != nil {
				return timed{}, fmt.Errorf("%s: set-up: %w", w.name, err)
			}
		}
		m0, err := l.m.mark(ctx)
		if err != nil {
			return timed{}, err
		}
		t0 := time.Now()
		err = w.call(ctx)
		elapsed := time.Since(t0)
		if err != nil {
			return timed{}, fmt.Errorf("%s: %w", w.name, err)
		}
		u, err := l.m.since(ctx, m0)
		if err != nil {
			return timed{}, err
		}
		if i >= skip {
			times = append(times, float64(elapsed.Nanoseconds())/1e3)
			costs = append(costs, u.per(1))
		}
	}
	if w.task == "delete" {
		if err := l.recreate(ctx); err != nil {
			return timed{}, err
		}
	}
	return timed{us: harness.Median(times), calls: n, cost: meanPerOp(costs)}, nil
}

// run measures every way once, in an order that rotates with rep: one
// repetition. The index ways make calls timed calls, the SCAN ways one. It
// adds each way's measurement to res, and the SCAN way's time over the
// index way's, per task, to ratios.
func (l *lister) run(ctx context.Context, rep, calls int, in *harness.Interference, res map[string][]timed, ratios map[string][]float64) error {
	ways := l.ways()
	order := slices.Clone(ways)
	shift := rep % len(order)
	order = append(order[shift:], order[:shift]...)
	row := map[string]timed{}
	for _, w := range order {
		n := 1
		if w.index {
			n = calls
		}
		runtime.GC()
		m0 := in.Watch.Mark()
		t, err := l.measureWay(ctx, w, n)
		if err != nil {
			return err
		}
		in.Add(harness.Foreign(m0, in.Watch.Mark()))
		row[w.name] = t
		res[w.name] = append(res[w.name], t)
	}
	for i := 0; i+1 < len(ways); i += 2 {
		idx, scan := row[ways[i].name], row[ways[i+1].name]
		ratios[ways[i].task] = append(ratios[ways[i].task], scan.us/idx.us)
	}
	return nil
}
