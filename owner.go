package typedstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore/internal/clock"
	"github.com/typedstore/typedstore/internal/keyset"
)

// MaxOwnerLen is the longest owner, in bytes, that a Store indexes. Owners
// are user ids, usually a few bytes long; the bound keeps a hostile value
// from turning into an index key of arbitrary size.
const MaxOwnerLen = 1024

// DefaultOwnerPrefix is prepended to [Options.Prefix] to form the default
// [Options.OwnerPrefix]: with the default prefix, the sessions of owner
// "42" are indexed under the key "owner:sess:42".
const DefaultOwnerPrefix = "owner:"

// noDeadline is the index score of a session that does not expire
// (Options.DisableTTL): 2⁵³ ms, past any real deadline and exact in the
// double that holds a sorted set's score.
const noDeadline int64 = 1 << 53

// indexSlack is how far beyond a session's expiry its index entry reaches:
// a quarter of its time to live, at most an hour. A load that extends the
// session sends nothing to the index while the entry still covers the new
// expiry, so an owned session costs one index write per slack per process
// at most, and an index key outlives its owner's last session by at most the
// slack.
func indexSlack(ttl time.Duration) time.Duration { return min(ttl/4, time.Hour) }

// indexScript runs on one owner's index, a sorted set of session ids scored
// by the Unix millisecond up to which each entry is valid. It drops the
// entries that lapsed, adds or raises the entry of one session, makes the
// key expire with its last entry, and, when the index is over the cap,
// returns every entry with its score, lowest first.
//
// An entry's score only goes up, so that no writer shortens what another
// promised, and it goes up by at least a millisecond at every write, so
// that a reader that saw an entry's session gone and removes the entry only
// if its score is still the one it read (unindexScript) never removes the
// entry of a session written again in the meantime.
//
// KEYS[1]: the index. ARGV: now (ms), the id, its score, the cap (0: none),
// noDeadline.
var indexScript = redis.NewScript(`
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local score = tonumber(ARGV[3])
local cur = redis.call('ZSCORE', KEYS[1], ARGV[2])
if cur and tonumber(cur) >= score then
	score = tonumber(cur) + 1
end
redis.call('ZADD', KEYS[1], string.format('%.0f', score), ARGV[2])
local last = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
if last >= tonumber(ARGV[5]) then
	redis.call('PERSIST', KEYS[1])
else
	redis.call('PEXPIRE', KEYS[1], math.max(1, last - now))
end
local cap = tonumber(ARGV[4])
if cap > 0 and redis.call('ZCARD', KEYS[1]) > cap then
	return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
end
return 0
`)

// unindexScript removes entries from one owner's index. ARGV holds pairs of
// an id and a score: the entry is removed only if its score is still that
// one, so that the entry of a session written again since it was read
// stays (see indexScript), or in any case when the score is "". It returns
// how many entries it removed.
var unindexScript = redis.NewScript(`
local n = 0
for i = 1, #ARGV, 2 do
	if ARGV[i + 1] == '' or redis.call('ZSCORE', KEYS[1], ARGV[i]) == ARGV[i + 1] then
		n = n + redis.call('ZREM', KEYS[1], ARGV[i])
	end
end
return n
`)

// indexEntry is one entry of an owner's index, as Redis gave it.
type indexEntry struct {
	id    string
	score string // as the server formats it; "" removes unconditionally
}

// ownerKey returns the key of owner's index.
func (s *Store[T]) ownerKey(owner string) string { return s.opts.OwnerPrefix + owner }

// ownerOf returns the owner of v ("" when the store keeps no index or v is
// anonymous), or an error of op wrapping ErrInvalidOwner.
func (s *Store[T]) ownerOf(op string, v T) (string, error) {
	if s.opts.Owner == nil {
		return "", nil
	}
	owner := s.opts.Owner(v)
	if len(owner) > MaxOwnerLen {
		return "", opErr(op, fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidOwner, len(owner), MaxOwnerLen))
	}
	return owner, nil
}

// checkOwner reports a call of op that cannot name an index: a store
// without Owner, or an owner that is empty or too long.
func (s *Store[T]) checkOwner(op, owner string) error {
	switch {
	case s.opts.Owner == nil:
		return opErr(op, ErrNoOwnerIndex)
	case owner == "":
		return opErr(op, fmt.Errorf("%w: empty (anonymous sessions are not indexed)", ErrInvalidOwner))
	case len(owner) > MaxOwnerLen:
		return opErr(op, fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidOwner, len(owner), MaxOwnerLen))
	}
	return nil
}

// indexScore returns the score of an entry for a session given ttl at now
// (Unix ms).
func (s *Store[T]) indexScore(now int64, ttl time.Duration) int64 {
	if s.opts.DisableTTL {
		return noDeadline
	}
	return now + ceilMillis(ttl).Milliseconds() + ceilMillis(indexSlack(ttl)).Milliseconds()
}

// index adds session id, just written or extended with ttl, to owner's
// index, after the session itself was written (a crash in between leaves a
// live session out of the index until its next extending load re-indexes
// it). value is the hash of the stored bytes, 0 when not known. For a write
// (capped), it also enforces MaxPerOwner.
func (s *Store[T]) index(ctx context.Context, op, id, owner string, ttl time.Duration, value uint64, capped bool) error {
	return s.runIndex(ctx, op, s.indexCall(id, owner, ttl, capped), value)
}

// runIndex runs call, a prepared run of indexScript.
func (s *Store[T]) runIndex(ctx context.Context, op string, call indexInvocation, value uint64) error {
	res, err := indexScript.Run(ctx, s.client, call.keys, call.args...).Result()
	return s.indexed(ctx, op, call, value, res, err)
}

// indexInvocation is one run of indexScript, prepared by indexCall.
type indexInvocation struct {
	id, owner string
	// replaces is the session that the write of id replaces (a renewal of
	// its id), which the cap does not count beside it.
	replaces   string
	keys       []string
	args       []any
	score, now int64 // Unix ms
	// p observes the write that the run indexes, for EventEvicted; cond
	// and size are that write's condition and size, for its own event.
	p    probe
	cond string
	size int
}

// indexCall prepares the run of indexScript that indexes session id of
// owner, given ttl, now.
func (s *Store[T]) indexCall(id, owner string, ttl time.Duration, capped bool) indexInvocation {
	now := clock.Now().UnixMilli()
	score := s.indexScore(now, ttl)
	limit := 0
	if capped {
		limit = s.opts.MaxPerOwner
	}
	return indexInvocation{
		id: id, owner: owner, score: score, now: now,
		keys: []string{s.ownerKey(owner)},
		args: []any{now, id, strconv.FormatInt(score, 10), limit, strconv.FormatInt(noDeadline, 10)},
	}
}

// indexed takes the reply of an index script run: it records how far the
// entry reaches, and enforces MaxPerOwner when the script reports the
// owner over it.
//
// An index key that holds another type is left alone: the session is
// written, unindexed, and OwnedBy, CountOwned and DeleteOwned of that owner
// report the key.
func (s *Store[T]) indexed(ctx context.Context, op string, call indexInvocation, value uint64, res any, err error) error {
	idh := s.seen.Hash(call.id)
	if err != nil {
		s.seen.Forget(idh)
		if isWrongType(err) {
			return nil
		}
		return s.wrapErr(ctx, op+": index owner", err)
	}
	s.seen.Put(idh, s.seen.Hash(call.owner), value, call.score, call.now)
	if all, ok := res.([]any); ok {
		return s.evict(ctx, op, call, entriesOf(all))
	}
	return nil
}

// writeIndexed sends set, the write of session id, and the script that
// indexes it for owner in one pipeline: on a single server, one round trip,
// run in that order on one connection, so that the index never gets ahead
// of the session. (On a cluster the two keys live on different masters,
// where a pipeline would give no order; the store sends them one after the
// other there.) It returns the write's error.
func (s *Store[T]) writeIndexed(ctx context.Context, op string, set *redis.StatusCmd, call indexInvocation, value uint64) error {
	var idx *redis.Cmd
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		_ = p.Process(ctx, set)
		idx = indexScript.EvalSha(ctx, p, call.keys, call.args...)
		return nil
	}) // each command carries its own error
	res, err := idx.Result()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// The server does not have the script yet: EVAL runs it and keeps
		// it for the next EVALSHA.
		res, err = indexScript.Eval(ctx, s.client, call.keys, call.args...).Result()
	}
	if set.Err() != nil {
		// An entry made for a write that did not happen points at a
		// session that is gone (XX) or that is not this one (NX): it is
		// dropped, as any such entry, when the index is next read, and is
		// never taken for a live session of the owner's. (Taking it back
		// here could take back an entry that an earlier write made.)
		s.seen.Forget(s.seen.Hash(call.id))
		return set.Err()
	}
	// The write is reported before the evictions it causes.
	s.wrote(ctx, call.p, call.id, call.owner, call.cond, call.size)
	return s.indexed(ctx, op, call, value, res, err)
}

// reindex makes sure that the index of v's owner covers session id after a
// load or touch extended it by ttl: the sessions that Node wrote, or whose
// index write a crash interrupted, enter their owner's index at their next
// extending load. It costs nothing while this process knows the entry to
// reach far enough. A failure is not reported: the load itself succeeded,
// and the next one tries again.
func (s *Store[T]) reindex(ctx context.Context, id string, v T, value uint64, ttl time.Duration) {
	if s.seen == nil {
		return
	}
	owner := s.opts.Owner(v)
	if owner == "" || len(owner) > MaxOwnerLen {
		return
	}
	need := clock.Now().UnixMilli() + ceilMillis(ttl).Milliseconds()
	if s.seen.Covers(s.seen.Hash(id), s.seen.Hash(owner), value, need) {
		return
	}
	_ = s.index(ctx, "reindex", id, owner, ttl, value, false)
}

// entriesOf reads the reply of ZRANGE … WITHSCORES or ZSCAN: ids and
// scores, alternating.
func entriesOf(flat []any) []indexEntry {
	out := make([]indexEntry, 0, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		id, _ := flat[i].(string)
		score, _ := flat[i+1].(string)
		out = append(out, indexEntry{id, score})
	}
	return out
}

// evict enforces MaxPerOwner after a write of session current: of the other
// entries of owner's index (lowest score first), it drops those whose
// session is gone or belongs to someone else now, and deletes the owned
// ones beyond the cap, those closest to expiring first, then unindexes
// them.
func (s *Store[T]) evict(ctx context.Context, op string, call indexInvocation, entries []indexEntry) error {
	owner := call.owner
	others := entries[:0:0]
	for _, e := range entries {
		if e.id != call.id && e.id != call.replaces {
			others = append(others, e)
		}
	}
	live, stale, _, err := s.resolve(ctx, op, owner, others)
	if err != nil {
		return err
	}
	if len(live)+1 > s.opts.MaxPerOwner {
		if live, stale, err = s.byExpiry(ctx, op, live, stale); err != nil {
			return err
		}
	}
	excess := len(live) + 1 - s.opts.MaxPerOwner
	victims := make([]indexEntry, 0, max(excess, 0))
	keys := make([]string, 0, max(excess, 0))
	for _, e := range live[:max(excess, 0)] {
		victims = append(victims, e.indexEntry)
		keys = append(keys, s.opts.Prefix+e.id)
	}
	n, err := s.del(ctx, keys)
	if n > 0 {
		call.p.event(ctx, "", Event{Kind: EventEvicted, Owner: owner, Count: n})
	}
	if err != nil {
		return s.wrapErr(ctx, op+": evict", err)
	}
	return s.unindex(ctx, op, owner, append(victims, stale...))
}

// byExpiry sorts live by the time to live each session has left, as Redis
// reports it in one round trip, shortest first: an entry's score can lag
// behind its session's expiry by up to the index slack, so it does not tell
// the order. A session gone since resolve moves to stale; one that does not
// expire sorts last.
func (s *Store[T]) byExpiry(ctx context.Context, op string, live []liveEntry[T], stale []indexEntry) ([]liveEntry[T], []indexEntry, error) {
	cmds := make([]*redis.DurationCmd, len(live))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, e := range live {
			cmds[i] = p.PTTL(ctx, s.opts.Prefix+e.id)
		}
		return nil
	})
	if err != nil {
		return nil, nil, s.wrapErr(ctx, op+": evict: pttl", err)
	}
	left := make(map[string]time.Duration, len(live))
	kept := live[:0]
	for i, e := range live {
		switch d := cmds[i].Val(); {
		case d == -2: // gone
			stale = append(stale, e.indexEntry)
			continue
		case d < 0: // no expiry
			left[e.id] = math.MaxInt64
		default:
			left[e.id] = d
		}
		kept = append(kept, e)
	}
	slices.SortStableFunc(kept, func(a, b liveEntry[T]) int { return cmp.Compare(left[a.id], left[b.id]) })
	return kept, stale, nil
}

// liveEntry is a session found through an owner's index.
type liveEntry[T any] struct {
	indexEntry
	v T
}

// resolve looks up the sessions of entries of owner's index, in one round
// trip, and sorts them: live, the sessions that exist and belong to owner,
// in the order of entries; stale, the entries whose session lapsed, is
// gone, or belongs to someone else; and corrupt, errors wrapping a
// *CorruptError for the sessions that cannot be decoded, whose entries are
// kept.
func (s *Store[T]) resolve(ctx context.Context, op, owner string, entries []indexEntry) (live []liveEntry[T], stale []indexEntry, corrupt []error, err error) {
	now := clock.Now().UnixMilli()
	var look []indexEntry
	for _, e := range entries {
		if score, err := strconv.ParseFloat(e.score, 64); err == nil && score < float64(now) {
			stale = append(stale, e) // lapsed: its session has expired
			continue
		}
		if e.id == "" || len(e.id) > MaxIDLen {
			stale = append(stale, e) // not an id this store writes
			continue
		}
		look = append(look, e)
	}
	if len(look) == 0 {
		return live, stale, nil, nil
	}
	keys := make([]string, len(look))
	for i, e := range look {
		keys[i] = s.opts.Prefix + e.id
	}
	vals, err := s.fetch(ctx, keys)
	if err != nil {
		return nil, nil, nil, err
	}
	for i, e := range look {
		switch val := vals[i]; {
		case val.err != nil:
			corrupt = append(corrupt, opErr(op, &CorruptError{ID: e.id, Err: val.err}))
		case val.data == nil:
			stale = append(stale, e)
		default:
			v, err := s.decode(op, e.id, keys[i], val.data)
			if err != nil {
				corrupt = append(corrupt, err)
				continue
			}
			if s.opts.Owner(v) != owner {
				stale = append(stale, e)
				continue
			}
			live = append(live, liveEntry[T]{e, v})
		}
	}
	return live, stale, corrupt, nil
}

// unindex removes entries from owner's index: those with a score only if
// no write raised it meanwhile, those without in any case.
func (s *Store[T]) unindex(ctx context.Context, op, owner string, entries []indexEntry) error {
	if len(entries) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(entries))
	for _, e := range entries {
		args = append(args, e.id, e.score)
	}
	err := unindexScript.Run(ctx, s.client, []string{s.ownerKey(owner)}, args...).Err()
	return s.wrapErr(ctx, op+": unindex", err)
}

// scanIndex passes fn the entries of owner's index in batches of about
// ScanCount (ZSCAN), each entry once, until fn returns false or an error.
func (s *Store[T]) scanIndex(ctx context.Context, op, owner string, fn func(context.Context, []indexEntry) (bool, error)) error {
	key := s.ownerKey(owner)
	seen := keyset.New()
	var cursor uint64
	for {
		if err := ctx.Err(); err != nil {
			return s.wrapErr(ctx, op, err)
		}
		flat, next, err := s.client.ZScan(ctx, key, cursor, "", int64(s.opts.ScanCount)).Result()
		if isWrongType(err) {
			return opErr(op, fmt.Errorf("%w: the owner's index key holds another type than a sorted set (%v)", ErrCorrupt, err))
		}
		if err != nil {
			return s.wrapErr(ctx, op, err)
		}
		batch := make([]indexEntry, 0, len(flat)/2)
		for i := 0; i+1 < len(flat); i += 2 {
			if seen.Add(flat[i]) {
				batch = append(batch, indexEntry{flat[i], flat[i+1]})
			}
		}
		if len(batch) > 0 {
			more, err := fn(ctx, batch)
			if err != nil || !more {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// OwnedBy returns an iterator over the live sessions of owner, as (id,
// value) pairs, read through the owner's index, and a function that reports
// what went wrong in the most recent iteration, or nil. It costs about two
// round trips per [Options.ScanCount] sessions of that owner (a ZSCAN of
// the index and a read of the sessions), whatever the number of other
// sessions in Redis.
//
// A session is yielded if it is in the owner's index, exists, and belongs to
// owner now ([Options.Owner] of its value). Entries whose session expired,
// was deleted or changed owner are removed from the index once the
// iteration has run to its end.
// A session that cannot be decoded is not yielded, and its entry is kept;
// the error function reports it, as [Store.All] does. Each range over the
// iterator reads the index again; sessions written meanwhile may or may not
// be yielded. Breaking out of the loop stops all further Redis calls.
//
// It returns an error wrapping [ErrNoOwnerIndex] on a store without
// [Options.Owner], and one wrapping [ErrInvalidOwner] for an empty owner
// (anonymous sessions are not indexed) or one longer than [MaxOwnerLen].
func (s *Store[T]) OwnedBy(ctx context.Context, owner string) (iter.Seq2[string, T], func() error) {
	const op = "owned by"
	var last lastErr
	seq := func(yield func(string, T) bool) {
		ctx, p := s.observe(ctx, OpOwnedBy)
		var r Result
		ended := false
		defer p.unwind(ctx, &ended, &r)
		err := s.checkOwner(op, owner)
		if err == nil {
			err = s.walkOwned(ctx, p, op, owner, func(_ context.Context, live []liveEntry[T]) ([]indexEntry, bool, error) {
				for _, e := range live {
					r.Sessions++
					if !yield(e.id, e.v) {
						return nil, false, nil
					}
				}
				return nil, true, nil
			})
		}
		last.set(err)
		ended, r.Err = true, err
		p.end(ctx, r)
	}
	return seq, last.get
}

// CountOwned returns the number of live sessions of owner, as
// [Store.OwnedBy] would yield them, and prunes the owner's index as it
// does. Its cost grows with the number of that owner's sessions only.
func (s *Store[T]) CountOwned(ctx context.Context, owner string) (int, error) {
	const op = "count owned"
	ctx, p := s.observe(ctx, OpCountOwned)
	n := 0
	err := s.checkOwner(op, owner)
	if err == nil {
		err = s.walkOwned(ctx, p, op, owner, func(_ context.Context, live []liveEntry[T]) ([]indexEntry, bool, error) {
			n += len(live)
			return nil, true, nil
		})
	}
	p.end(ctx, Result{Err: err, Sessions: n})
	return n, err
}

// DeleteOwned deletes every session of owner except those whose ids are in
// keep, and returns how many it deleted: "log out everywhere", or, with the
// current session's id in keep, "log out my other devices". It reads the
// owner's index, checks that each session still belongs to owner, deletes
// the sessions and then their entries: about four round trips per
// [Options.ScanCount] sessions of that owner, whatever the number of other
// sessions in Redis.
//
// When DeleteOwned returns nil, no session that was in owner's index when
// it began and still belonged to owner when DeleteOwned read it can be
// loaded again, and a request that loaded one before cannot save it back
// through [Store.Replace], [Store.Update] or [Store.Touch] (nor through the
// middleware, which uses them); [Store.Set], which writes unconditionally,
// can. A session written for owner while DeleteOwned runs may survive it,
// indexed as usual: call DeleteOwned after the change that stops new logins
// (a new password, a disabled account). A session that cannot be decoded is
// left in place and reported in the error, which then also wraps
// [ErrCorrupt].
//
// It returns an error wrapping [ErrNoOwnerIndex] on a store without
// [Options.Owner], and one wrapping [ErrInvalidOwner] for an empty owner or
// one longer than [MaxOwnerLen].
func (s *Store[T]) DeleteOwned(ctx context.Context, owner string, keep ...string) (int, error) {
	ctx, p := s.observe(ctx, OpDeleteOwned)
	n, err := s.deleteOwned(ctx, p, owner, keep)
	p.end(ctx, Result{Err: err, Sessions: n})
	return n, err
}

// deleteOwned is DeleteOwned, under p.
func (s *Store[T]) deleteOwned(ctx context.Context, p probe, owner string, keep []string) (int, error) {
	const op = "delete owned"
	if err := s.checkOwner(op, owner); err != nil {
		return 0, err
	}
	kept := make(map[string]bool, len(keep))
	for _, id := range keep {
		kept[s.name(id)] = true
	}
	deleted := 0
	err := s.walkOwned(ctx, p, op, owner, func(ctx context.Context, live []liveEntry[T]) ([]indexEntry, bool, error) {
		var gone []indexEntry
		var keys []string
		for _, e := range live {
			if !kept[e.id] {
				// Its entry goes only if no write raised it since: a
				// session that Set wrote again after the UNLINK below keeps
				// its entry.
				gone = append(gone, e.indexEntry)
				keys = append(keys, s.opts.Prefix+e.id)
			}
		}
		n, err := s.del(ctx, keys)
		deleted += n
		return gone, true, s.wrapErr(ctx, op, err)
	})
	if deleted > 0 {
		p.event(ctx, "", Event{Kind: EventRevoked, Owner: owner, Count: deleted})
	}
	return deleted, err
}

// walkOwned passes fn the live sessions of owner, batch by batch, as
// OwnedBy and DeleteOwned see them (see resolve). fn returns the entries to
// remove from the index besides the stale ones walkOwned finds, and whether
// to go on. When the walk went through to its end without an error, all of
// these are removed from the index (a walk that fn stopped sends nothing
// more), after the scan (which then sees an index that
// does not change under it) and after whatever fn did to their sessions, so
// that an interrupted DeleteOwned leaves entries without sessions (pruned
// later), never a live session without its entry. walkOwned returns the
// walk's error joined with the corrupt sessions it met.
func (s *Store[T]) walkOwned(ctx context.Context, p probe, op, owner string, fn func(context.Context, []liveEntry[T]) ([]indexEntry, bool, error)) error {
	var corrupt corruptList
	var drop []indexEntry
	stopped := false
	err := s.scanIndex(ctx, op, owner, func(ctx context.Context, batch []indexEntry) (bool, error) {
		live, stale, bad, err := s.resolve(ctx, op, owner, batch)
		if err != nil {
			return false, err
		}
		for _, err := range bad {
			p.corrupt(ctx, err)
		}
		corrupt.add(bad...)
		drop = append(drop, stale...)
		gone, more, err := fn(ctx, live)
		drop = append(drop, gone...)
		stopped = !more
		return more, err
	})
	if err == nil && !stopped {
		err = s.unindex(ctx, op, owner, drop)
	}
	return corrupt.join(err)
}

// isWrongType reports a reply that a key holds another type, sent as is or
// from inside a script.
func isWrongType(err error) bool {
	var reply redis.Error
	return errors.As(err, &reply) && strings.Contains(reply.Error(), "WRONGTYPE")
}
