package typedstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// casScript replaces a key's value only if it still holds the value that was
// read: a compare-and-set on one key, so one slot, which works the same on a
// single server and on a cluster. ARGV: the value read, the new value, and
// the time to live in milliseconds (0: no expiry; -1: delete the key).
var casScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
local ttl = tonumber(ARGV[3])
if ttl < 0 then
	redis.call('DEL', KEYS[1])
elseif ttl == 0 then
	redis.call('SET', KEYS[1], ARGV[2])
else
	redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
end
return 1
`)

// Update applies fn to the session stored under id and writes the result
// back, atomically: if another client changes the session between the read
// and the write, the write does not happen and Update starts again with the
// new value, up to [Options.UpdateAttempts] times, with a short random
// pause between attempts. Two concurrent Updates of one session therefore
// never lose each other's changes, as a Get followed by a Set can.
//
// fn receives a freshly decoded value on each attempt and must not have side
// effects beyond it, since it may run more than once. If fn returns an error,
// Update writes nothing and returns that error. The time to live of the
// result follows the rules of [Store.Set]; one of zero or less deletes the
// session.
//
// Update never creates a session: it returns an error wrapping [ErrNotFound]
// when there is none (or it is deleted while Update runs), one wrapping a
// [*CorruptError] when the stored value cannot be decoded (and leaves it as it is), and an
// error wrapping [ErrConflict] when every attempt met a concurrent change.
// The write is a Lua compare-and-set on the one key (EVALSHA), so it works on
// a cluster; each attempt costs two round trips.
func (s *Store[T]) Update(ctx context.Context, id string, fn func(v *T) error) error {
	ctx, p := s.observe(ctx, OpUpdate)
	var r Result
	ended := false
	defer p.unwind(ctx, &ended, &r)
	s.update(ctx, p, id, fn, &r)
	ended = true
	p.end(ctx, r)
	return r.Err
}

// update is Update, under p; it records in r its error, the attempts it
// made and the size of what it read or wrote.
func (s *Store[T]) update(ctx context.Context, p probe, id string, fn func(v *T) error, r *Result) {
	const op = "update"
	key, err := s.key(op, id)
	if err != nil {
		r.Err = err
		return
	}
	for attempt := range s.opts.UpdateAttempts {
		if attempt > 0 {
			if err := pause(ctx, attempt); err != nil {
				r.Err = s.wrapErr(ctx, op, err)
				return
			}
		}
		if err := ctx.Err(); err != nil {
			r.Err = s.wrapErr(ctx, op, err)
			return
		}
		r.Attempts = attempt + 1
		old, err := s.bytes(ctx, "get", key)
		if err != nil {
			r.Err = s.readErr(ctx, p, op, id, err)
			return
		}
		r.Bytes = len(old)
		v, unknown, _, err := s.decodeOrRepair(ctx, p, op, id, key, old, true)
		if err != nil {
			r.Err = err
			return
		}
		if err := fn(&v); err != nil {
			r.Err = err
			return
		}
		ttl := s.ttlOf(v)
		var data []byte
		var ttlArg int64 = -1
		owner := ""
		if ttl > 0 {
			if owner, err = s.ownerOf(op, v); err != nil {
				r.Err = err
				return
			}
			if data, err = s.encode(op, key, v, unknown); err != nil {
				r.Err = err
				return
			}
			ttlArg = max(ttl.Milliseconds(), 1)
			if s.opts.DisableTTL {
				ttlArg = 0
			}
		}
		n, err := casScript.Run(ctx, s.client, []string{key}, old, data, strconv.FormatInt(ttlArg, 10)).Int()
		if err != nil {
			r.Err = s.wrapErr(ctx, op, err)
			return
		}
		if n == 1 {
			if ttl <= 0 {
				p.event(ctx, id, Event{Kind: EventDeleted})
				return
			}
			r.Bytes = len(data)
			p.event(ctx, id, Event{Kind: EventSaved, Owner: owner, Bytes: len(data)})
			if owner != "" {
				call := s.indexCall(s.nameOf(key), owner, ttl, true)
				call.p = p
				r.Err = s.runIndex(ctx, op, call, s.seen.HashBytes(data))
			}
			return
		}
	}
	p.event(ctx, id, Event{Kind: EventConflict, Count: s.opts.UpdateAttempts})
	r.Err = opErr(op, fmt.Errorf("%w: %d attempts", ErrConflict, s.opts.UpdateAttempts))
}

// pause sleeps before retry number attempt: a random time up to a bound
// that doubles with each attempt, from 1 ms to at most 64 ms.
func pause(ctx context.Context, attempt int) error {
	bound := time.Millisecond << min(attempt-1, 6)
	t := time.NewTimer(rand.N(bound) + 1)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
