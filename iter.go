package typedstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore/internal/keyset"
)

// maxReportedCorrupt bounds how many *CorruptError values the error function
// of [Store.All] keeps; further ones are counted.
const maxReportedCorrupt = 100

// IDs returns an iterator over the ids of the sessions under the store's
// prefix, and a function that reports the error that ended the most recent
// iteration, or nil.
//
// The iterator streams: it issues one SCAN MATCH prefix* COUNT ScanCount at a
// time (on a cluster or a ring, over every master or shard in turn) and keeps
// no ids beyond the current batch, except a 64-bit fingerprint of each key
// already yielded (9 to 14 bytes of heap per session, whatever the size of
// the ids and values), so that an id that SCAN returns twice is yielded
// once.
//
// Order is unspecified and may differ from one iteration to the next. Each
// range over the iterator starts a new scan, so it may be ranged over more
// than once. As SCAN guarantees, every session that exists for the whole
// iteration is yielded; one written or deleted meanwhile may or may not be.
// The one exception is the fingerprints' price: a key whose fingerprint
// matches one already yielded is taken for a duplicate and skipped. Among n
// sessions the chance that this happens at all is about n²/2⁶⁵: 3×10⁻⁸ at
// a million, 3×10⁻⁴ at a hundred million, and the fingerprints are seeded
// afresh for every iteration.
// An id may belong to a session that expires before the caller looks at it.
//
// On a cluster, a session whose slot moves to another master during the
// iteration (resharding, failover) could slip past a single pass over the
// masters. So the iteration reads each master's slot assignments (CLUSTER
// NODES) before and after its pass over the masters, and scans again,
// skipping the ids already yielded, while they changed or a slot was being
// migrated, up to five passes in all. That costs two CLUSTER NODES per master
// per pass; a cluster whose slots never stop moving can still hide a session
// from an iteration after the fifth pass.
//
// Breaking out of the loop stops all further Redis calls and is not an error.
// A Redis error or a done context ends the iteration; the error function
// then returns it, wrapped (errors.Is finds the context's error).
func (s *Store[T]) IDs(ctx context.Context) (iter.Seq[string], func() error) {
	var last lastErr
	seq := func(yield func(string) bool) {
		ctx, p := s.observe(ctx, OpIDs)
		var r Result
		ended := false
		defer p.unwind(ctx, &ended, &r)
		err := s.scanKeys(ctx, false, func(_ context.Context, keys []string, _ []fetched) (bool, error) {
			for _, k := range keys {
				r.Sessions++
				if !yield(k[len(s.opts.Prefix):]) {
					return false, nil
				}
			}
			return true, nil
		})
		last.set(err)
		ended, r.Err = true, err
		p.end(ctx, r)
	}
	return seq, last.get
}

// All returns an iterator over the sessions under the store's prefix, as
// (id, value) pairs, and a function that reports what went wrong in the most
// recent iteration, or nil.
//
// All walks the keys as [Store.IDs] does, with the same guarantees of order,
// reuse, single delivery and streaming, and fetches each SCAN batch: on a
// single server with one MGET sent in the same pipeline as the next SCAN, so
// that a batch costs one round trip; on a cluster or a ring with a pipeline
// of GETs routed by slot (so no command spans two slots). A key that expires
// between SCAN and the fetch is skipped. An entry that is not a session (a
// value the codec cannot decode, one larger than [Options.MaxSize], or a key
// under the prefix that holds a hash, a list or another non-string type) is
// not yielded: the iteration goes on with the rest, and the error function
// reports it as an error wrapping a [*CorruptError] that carries the id
// (errors.Join of all of them,
// the first hundred listed and the rest counted). A Redis error or a done
// context ends the iteration; the error function returns it, joined with the
// corrupt entries seen before it. Breaking out of the loop stops all further
// Redis calls and is not an error.
//
// The value yielded is a fresh T for every session; the caller may keep it.
func (s *Store[T]) All(ctx context.Context) (iter.Seq2[string, T], func() error) {
	var last lastErr
	seq := func(yield func(string, T) bool) {
		ctx, p := s.observe(ctx, OpAll)
		var corrupt corruptList
		var r Result
		ended := false
		defer p.unwind(ctx, &ended, &r)
		err := s.scanKeys(ctx, true, func(_ context.Context, keys []string, vals []fetched) (bool, error) {
			for i, val := range vals {
				id := keys[i][len(s.opts.Prefix):]
				if val.err != nil {
					p.event(ctx, id, Event{Kind: EventCorrupt, Err: val.err})
					corrupt.add(opErr("all", &CorruptError{ID: id, Err: val.err}))
					continue
				}
				if val.data == nil {
					continue // expired or deleted since SCAN returned it
				}
				v, err := s.decode("all", id, keys[i], val.data)
				if err != nil {
					p.corrupt(ctx, err)
					corrupt.add(err)
					continue
				}
				r.Sessions++
				if !yield(id, v) {
					return false, nil
				}
			}
			return true, nil
		})
		err = corrupt.join(err)
		last.set(err)
		ended, r.Err = true, err
		p.end(ctx, r)
	}
	return seq, last.get
}

// corruptList collects the corrupt entries an iteration met: the first
// maxReportedCorrupt of them, and a count of the rest.
type corruptList struct {
	errs []error
	n    int
}

func (c *corruptList) add(errs ...error) {
	for _, err := range errs {
		if c.n < maxReportedCorrupt {
			c.errs = append(c.errs, err)
		}
		c.n++
	}
}

// join returns the corrupt entries joined with err, the error that ended
// the iteration; nil when there are neither.
func (c *corruptList) join(err error) error {
	errs := c.errs
	if more := c.n - maxReportedCorrupt; more > 0 {
		errs = append(errs, fmt.Errorf("%w: %d more corrupt sessions not listed", ErrCorrupt, more))
	}
	return errors.Join(append(errs, err)...)
}

// lastErr holds the error of the most recent iteration, for the error
// function that IDs and All return; an iterator may be ranged over from
// several goroutines.
type lastErr struct {
	mu  sync.Mutex
	err error
}

func (l *lastErr) set(err error) {
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
}

func (l *lastErr) get() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Clear deletes every session under the store's prefix, and nothing else:
// it scans for the prefix's keys and unlinks them in batches of at most
// [Options.ScanCount] keys. It never runs FLUSHDB. Sessions written while
// Clear runs may or may not survive it.
func (s *Store[T]) Clear(ctx context.Context) error {
	ctx, p := s.observe(ctx, OpClear)
	deleted := 0
	err := s.scanKeys(ctx, false, func(ctx context.Context, keys []string, _ []fetched) (bool, error) {
		n, err := s.del(ctx, keys)
		deleted += n
		return true, s.wrapErr(ctx, "clear", err)
	})
	if deleted > 0 {
		p.event(ctx, "", Event{Kind: EventDeleted, Count: deleted})
	}
	p.end(ctx, Result{Err: err, Sessions: deleted})
	return err
}

// Len returns the number of sessions under the store's prefix. It walks the
// whole key space under the prefix with SCAN (every master on a cluster), so
// its cost grows with the number of keys; a key returned twice by SCAN is
// counted once. Sessions written or expiring while Len runs may or may not be
// counted.
func (s *Store[T]) Len(ctx context.Context) (int, error) {
	ctx, p := s.observe(ctx, OpLen)
	n := 0
	err := s.scanKeys(ctx, false, func(_ context.Context, keys []string, _ []fetched) (bool, error) {
		n += len(keys)
		return true, nil
	})
	if err != nil {
		n = 0
	}
	p.end(ctx, Result{Err: err, Sessions: n})
	return n, err
}

// fetched is the value of one key read by fetch: data is nil for a missing
// key, and err is set for a key that holds something other than a string.
type fetched struct {
	data []byte
	err  error
}

// fetch returns the values of keys in one round trip: one MGET on a single
// server, a pipeline of GETs on a cluster or a ring. MGET answers nil for a
// key of another type as for a missing one, so the keys it answers nil for
// are looked up with TYPE, in one more round trip, to tell them apart.
func (s *Store[T]) fetch(ctx context.Context, keys []string) ([]fetched, error) {
	if s.multiKey {
		vals, err := s.client.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, s.wrapErr(ctx, "mget", err)
		}
		return s.fromMGet(ctx, keys, vals)
	}
	out := make([]fetched, len(keys))
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, k)
		}
		return nil
	})
	_ = err // each command carries its own error
	for i, c := range cmds {
		b, err := c.Bytes()
		switch {
		case err == redis.Nil:
		case redis.HasErrorPrefix(err, "WRONGTYPE"):
			out[i].err = err
		case err != nil:
			return nil, s.wrapErr(ctx, "get batch", err)
		default:
			out[i].data = b
		}
	}
	return out, nil
}

// fromMGet turns the reply of an MGET of keys into values. MGET answers nil
// for a key of another type as for a missing one, so the keys it answers nil
// for are looked up with TYPE, in one more round trip, to tell them apart.
func (s *Store[T]) fromMGet(ctx context.Context, keys []string, vals []any) ([]fetched, error) {
	out := make([]fetched, len(keys))
	var missing []int
	for i, v := range vals {
		if str, ok := v.(string); ok {
			out[i].data = []byte(str)
		} else {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	types := make([]*redis.StatusCmd, len(missing))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for j, i := range missing {
			types[j] = p.Type(ctx, keys[i])
		}
		return nil
	})
	if err != nil {
		return nil, s.wrapErr(ctx, "type", err)
	}
	for j, i := range missing {
		if t := types[j].Val(); t != "none" && t != "string" {
			out[i].err = fmt.Errorf("WRONGTYPE key holds a %s, not a string", t)
		}
	}
	return out, nil
}

// fetchAndScan fetches the values of keys with MGET and runs the next SCAN
// in the same pipeline, so that on a single server each batch of All costs
// one round trip, not two.
func (s *Store[T]) fetchAndScan(ctx context.Context, node redis.Cmdable, keys []string, cursor uint64) ([]fetched, []string, uint64, error) {
	var mget *redis.SliceCmd
	var scan *redis.ScanCmd
	_, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
		mget = p.MGet(ctx, keys...)
		scan = p.Scan(ctx, cursor, s.match, int64(s.opts.ScanCount))
		return nil
	})
	if err != nil {
		return nil, nil, 0, s.wrapErr(ctx, "mget and scan", err)
	}
	vals, err := s.fromMGet(ctx, keys, mget.Val())
	if err != nil {
		return nil, nil, 0, err
	}
	next, cur := scan.Val()
	return vals, next, cur, nil
}

// scanKeys runs SCAN MATCH over the store's prefix on every node that holds
// a part of the key space, and calls fn with each batch of keys, less those
// already passed in an earlier batch, and, when withValues is set, their
// values. It stops when fn returns false or an error, when a Redis call
// fails, or when ctx is done. fn must not keep keys after it returns.
func (s *Store[T]) scanKeys(ctx context.Context, withValues bool, fn func(context.Context, []string, []fetched) (bool, error)) error {
	seen := keyset.New()
	for pass := 1; ; pass++ {
		nodes, err := s.nodes(ctx)
		if err != nil {
			return err
		}
		before, err := s.topology(ctx, nodes)
		if err != nil {
			return err
		}
		stopped, err := s.scanPass(ctx, nodes, seen, withValues, fn)
		if err != nil || stopped {
			return err
		}
		after, err := s.topology(ctx, nodes)
		if err != nil {
			return err
		}
		// Keys move between masters only while a slot migrates or when a
		// slot changes hands: a key that moved from a master not yet
		// scanned to one already scanned was missed. Scan again (keys
		// already passed are skipped) until a pass saw the topology stand
		// still, at most maxScanPasses times.
		if (before == after && !strings.Contains(after, "[")) || pass == maxScanPasses {
			return nil
		}
	}
}

// scanPass scans every node once, passing fn the keys not in seen. It
// reports whether fn asked to stop.
func (s *Store[T]) scanPass(ctx context.Context, nodes []redis.Cmdable, seen *keyset.Set, withValues bool, fn func(context.Context, []string, []fetched) (bool, error)) (bool, error) {
	var batch []string
	for _, node := range nodes {
		if err := ctx.Err(); err != nil {
			return false, s.wrapErr(ctx, "scan", err)
		}
		keys, cursor, err := node.Scan(ctx, 0, s.match, int64(s.opts.ScanCount)).Result()
		if err != nil {
			return false, s.wrapErr(ctx, "scan", err)
		}
		for {
			batch = batch[:0]
			for _, k := range keys {
				// SCAN MATCH already filters; the check guards against a
				// server whose glob differs from Redis's.
				if strings.HasPrefix(k, s.opts.Prefix) && seen.Add(k) {
					batch = append(batch, k)
				}
			}
			scanned := false // whether keys and cursor already hold the next batch
			if len(batch) > 0 {
				var vals []fetched
				if withValues {
					if s.multiKey && cursor != 0 {
						vals, keys, cursor, err = s.fetchAndScan(ctx, node, batch, cursor)
						scanned = true
					} else {
						vals, err = s.fetch(ctx, batch)
					}
					if err != nil {
						return false, err
					}
				}
				more, err := fn(ctx, batch, vals)
				if err != nil || !more {
					return !more, err
				}
			}
			if cursor == 0 && !scanned {
				break
			}
			if err := ctx.Err(); err != nil {
				return false, s.wrapErr(ctx, "scan", err)
			}
			if !scanned {
				if keys, cursor, err = node.Scan(ctx, cursor, s.match, int64(s.opts.ScanCount)).Result(); err != nil {
					return false, s.wrapErr(ctx, "scan", err)
				}
			}
		}
	}
	return false, nil
}
