package typedstore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore/internal/atrest"
	"github.com/typedstore/typedstore/internal/glob"
	"github.com/typedstore/typedstore/internal/horizon"
	"github.com/typedstore/typedstore/internal/jsonfields"
	"github.com/typedstore/typedstore/internal/pipeline"
	"github.com/typedstore/typedstore/internal/storeapi"
)

// Store keeps sessions of type T in Redis. It is safe for concurrent use by
// multiple goroutines.
type Store[T any] struct {
	client redis.UniversalClient
	owned  atomic.Bool // the store created client and has not closed it yet
	opts   Options[T]  // with defaults filled in
	match  string      // glob-escaped prefix followed by "*", for SCAN MATCH
	// expiry says whether and how T carries its own expiry (Expirer).
	expiry expiryKind
	// pipe carries the single-key commands; nil with
	// Options.DisablePipelining.
	pipe *pipeline.Coalescer
	// cachedGets is set when the client has go-redis's client-side cache,
	// which answers a plain GET but not one in a pipeline: GETs then go
	// out plain.
	cachedGets bool
	// noGetEx is set once the server has answered that it has no GETEX
	// (Redis before 6.2); GetAndExtend then sends GET and PEXPIRE.
	noGetEx atomic.Bool
	// multiKey reports whether one multi-key command (MGET, UNLINK k1 k2 …)
	// may carry keys of any slot: true for a single server, false for a
	// cluster or a ring (see cluster.go).
	multiKey bool
	// seen remembers how far the owner index entries that this process
	// wrote reach; nil without Options.Owner.
	seen *horizon.Cache
	// fields are the JSON names T declares, when the store keeps the
	// members of stored sessions that T does not declare (see Extra); nil
	// otherwise. carrier reports whether *T keeps them itself, in an Extra.
	fields  *jsonfields.Set
	carrier bool
	// versionName is `"VersionKey":`, and ownVersion the member that
	// records Options.Version, under Options.Version.
	versionName, ownVersion []byte
	// hooks are Options.Hooks; nil when none is set.
	hooks *Hooks
	// sealer seals the stored values under Options.EncryptionKeys; nil
	// without them.
	sealer *atrest.Sealer
	// hasher names keys by a keyed hash of their ids, under
	// Options.IDHashKey; nil without it: keys hold the ids.
	hasher *atrest.Hasher
	// forwards seals the ids that renewed ids forward to (see forward):
	// sealer, or without it the hasher's; nil without either.
	forwards *atrest.Sealer
}

// New returns a Store on client. It validates opts and fills in the
// documented defaults; it does not contact Redis. The caller keeps ownership
// of client: [Store.Close] does not close it.
//
// New fails on a negative TTL, ScanCount, MaxSize, UpdateAttempts,
// TouchSlack or CompressAbove, on an encryption key that is not
// [EncryptionKeySize] bytes long or repeats another, on an IDHashKey shorter
// than [MinIDHashKeySize], and, with the JSON codec, on a T that embeds
// [Cookie] without a JSON name (see [Cookie]). Its errors never show a byte
// of a key.
func New[T any](client redis.UniversalClient, opts Options[T]) (*Store[T], error) {
	if client == nil {
		return nil, errors.New("typedstore: New: nil redis client")
	}
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("typedstore: New: %w", err)
	}
	s := &Store[T]{
		client:   client,
		opts:     opts.withDefaults(),
		expiry:   expiryKindOf[T](),
		multiKey: isSingleServer(client),
	}
	s.match = glob.Escape(s.opts.Prefix) + "*"
	s.sealer = atrest.NewSealer(s.opts.EncryptionKeys, s.opts.CompressAbove, s.opts.MaxSize)
	s.hasher = atrest.NewHasher(s.opts.IDHashKey)
	s.forwards = s.sealer
	if s.forwards == nil && s.hasher != nil {
		s.forwards = s.hasher.Forwards()
	}
	s.fields, s.carrier = fidelityOf(s.opts.Codec)
	if s.opts.Version > 0 {
		switch {
		case s.fields == nil:
			return nil, fmt.Errorf("typedstore: New: Version needs the JSON codec and a struct type that does not decode itself, to record the version in the session; %v is not one", reflect.TypeFor[T]())
		case s.fields.Declares(s.opts.VersionKey):
			return nil, fmt.Errorf("typedstore: New: %v declares the member %q, which the store keeps the version in: set Options.VersionKey to another name", reflect.TypeFor[T](), s.opts.VersionKey)
		}
		s.fields.Declare(s.opts.VersionKey)
		s.versionName = append(strconv.AppendQuote(nil, s.opts.VersionKey), ':')
		s.ownVersion = s.versionMember(s.opts.Version)
	}
	if opts.Owner != nil {
		s.seen = horizon.New()
	}
	if opts.Hooks.set() {
		h := opts.Hooks
		s.hooks = &h
	}
	if !opts.DisablePipelining {
		s.pipe = pipeline.New(client, s.opts.PipelineWrites)
		s.cachedGets = hasClientSideCache(client)
	}
	return s, nil
}

// Close closes the Redis client if the store created it ([Open]); a client
// passed to [New] is left open for its owner to close. Close is safe to call
// more than once.
func (s *Store[T]) Close() error {
	if !s.owned.Swap(false) {
		return nil
	}
	return s.client.Close()
}

// Prefix returns the key prefix of the store's sessions.
func (s *Store[T]) Prefix() string { return s.opts.Prefix }

// Client returns the Redis client the store uses.
func (s *Store[T]) Client() redis.UniversalClient { return s.client }

// Get returns the session stored under id. It returns an error wrapping
// [ErrNotFound] when there is none (never written, deleted or expired), and
// one wrapping a [*CorruptError] when the stored value cannot be decoded
// (see [Options.OnDecodeError]). A session stored in an older version is
// migrated and written back, once, in the same call (see [Options.Version]).
func (s *Store[T]) Get(ctx context.Context, id string) (T, error) {
	v, _, err := s.load(ctx, OpGet, id, 0, false)
	return v, err
}

// GetAndExtend returns the session stored under id, as [Store.Get] does, and
// in the same command sets its time to live to ttl: one GETEX … PX, where a
// Get followed by a Touch costs two round trips. It suits a request that
// reads a session and keeps it alive, such as any request on a rolling
// session. On a server older than Redis 6.2, which has no GETEX, it sends GET
// and PEXPIRE in one pipeline instead. With ttl ≤ 0, or under
// [Options.DisableTTL] or [Options.DisableTouch], it is a plain Get.
func (s *Store[T]) GetAndExtend(ctx context.Context, id string, ttl time.Duration) (T, error) {
	v, _, err := s.load(ctx, OpGetAndExtend, id, ttl, false)
	return v, err
}

// load is GetAndExtend, and Get when ttl ≤ 0, as operation o; with keep,
// it also returns the stored members that T does not declare (see
// decodeStored).
func (s *Store[T]) load(ctx context.Context, o Op, id string, ttl time.Duration, keep bool) (T, []byte, error) {
	if ttl <= 0 || s.opts.DisableTTL || s.opts.DisableTouch {
		ttl = 0
	}
	ctx, p := s.observe(ctx, o)
	v, unknown, n, err := s.getAndExtend(ctx, p, id, ttl, keep)
	p.end(ctx, Result{Err: err, Bytes: n})
	return v, unknown, err
}

// getAndExtend is load, under p; it also returns the size of the stored
// value.
func (s *Store[T]) getAndExtend(ctx context.Context, p probe, id string, ttl time.Duration, keep bool) (T, []byte, int, error) {
	op := "get and extend"
	if ttl == 0 {
		op = "get"
	}
	var v T
	key, err := s.begin(ctx, op, id)
	if err != nil {
		return v, nil, 0, err
	}
	ttl = ceilMillis(ttl)
	var data []byte
	if ttl == 0 {
		data, err = s.bytes(ctx, "get", key)
	} else if !s.noGetEx.Load() {
		data, err = s.bytes(ctx, "getex", key, "px", ttl.Milliseconds())
		if err != nil && isUnknownCommand(err) {
			s.noGetEx.Store(true)
		}
	}
	if ttl > 0 && s.noGetEx.Load() {
		var get *redis.StringCmd
		_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			get = p.Get(ctx, key)
			p.PExpire(ctx, key, ttl)
			return nil
		})
		if err == nil || err == redis.Nil {
			data, err = get.Bytes()
		}
	}
	if err != nil {
		err = s.readErr(ctx, p, op, id, err)
		if errors.Is(err, ErrNotFound) {
			p.event(ctx, id, Event{Kind: EventLoaded})
		}
		return v, nil, 0, err
	}
	v, unknown, stale, err := s.decodeOrRepair(ctx, p, op, id, key, data, keep)
	if errors.Is(err, ErrNotFound) { // taken for missing by OnDecodeError
		p.event(ctx, id, Event{Kind: EventLoaded})
	}
	if err != nil {
		return v, nil, len(data), err
	}
	if stale {
		s.upgrade(ctx, key, data, v, unknown)
	}
	if s.seen != nil && ttl > 0 {
		s.reindex(ctx, s.nameOf(key), v, s.seen.HashBytes(data), ttl)
	}
	p.event(ctx, id, Event{Kind: EventLoaded, Hit: true, Bytes: len(data)})
	return v, unknown, len(data), nil
}

// Set writes v under id with the time to live chosen by the rules in the
// package documentation, replacing any session stored there. When that time
// to live is zero or less, Set deletes the session instead and returns nil.
func (s *Store[T]) Set(ctx context.Context, id string, v T) error {
	return s.observedWrite(ctx, OpSet, id, v, writeMode{})
}

// Create writes v under id only if no session is stored there (SET NX), and
// returns an error wrapping [ErrExists] otherwise. Use it to store a new
// session under a freshly generated id: it can never overwrite another
// session. A time to live of zero or less writes nothing and returns nil.
func (s *Store[T]) Create(ctx context.Context, id string, v T) error {
	return s.observedWrite(ctx, OpCreate, id, v, writeMode{cond: "NX"})
}

// Replace writes v under id only if a session is stored there (SET XX), and
// returns an error wrapping [ErrNotFound] otherwise. Use it to save a session
// that was loaded earlier: a session deleted (at logout, say) or expired in
// the meantime stays deleted, instead of coming back to life. A time to live
// of zero or less deletes the session.
func (s *Store[T]) Replace(ctx context.Context, id string, v T) error {
	return s.observedWrite(ctx, OpReplace, id, v, writeMode{cond: "XX"})
}

// writeMode is how write writes.
type writeMode struct {
	cond string // "": Set; "NX": Create; "XX": Replace
	// replaces is the session that a Create renews under a new id, which
	// MaxPerOwner does not count beside it.
	replaces string
	// unknown are the stored members that T does not declare, to write
	// back with v (see Extra).
	unknown []byte
}

// observedWrite is write as operation o, under the store's hooks.
func (s *Store[T]) observedWrite(ctx context.Context, o Op, id string, v T, w writeMode) error {
	ctx, p := s.observe(ctx, o)
	n, err := s.write(ctx, p, id, v, w)
	p.end(ctx, Result{Err: err, Bytes: n})
	return err
}

// write is Set, Create and Replace (see writeMode), under p: it writes v
// under id with the time to live of v, under the condition, or, when that
// time to live is zero or less, deletes the session (Create then writes
// nothing). It returns the size of what it wrote.
func (s *Store[T]) write(ctx context.Context, p probe, id string, v T, w writeMode) (int, error) {
	cond := w.cond
	op := "set"
	switch cond {
	case "NX":
		op = "create"
	case "XX":
		op = "replace"
	}
	key, err := s.begin(ctx, op, id)
	if err != nil {
		return 0, err
	}
	ttl := s.ttlOf(v)
	if ttl <= 0 {
		if cond == "NX" {
			return 0, nil
		}
		return 0, s.deleteExpired(ctx, p, op, id, key)
	}
	owner, err := s.ownerOf(op, v)
	if err != nil {
		return 0, err
	}
	data, err := s.encode(op, key, v, w.unknown)
	if err != nil {
		return 0, err
	}
	args := make([]any, 3, 6)
	args[0], args[1], args[2] = "set", key, data
	if !s.opts.DisableTTL { // SET without PX also clears an expiry the key had
		args = append(args, "px", ttl.Milliseconds())
	}
	if cond != "" {
		args = append(args, cond)
	}
	set := redis.NewStatusCmd(ctx, args...)
	var call indexInvocation
	if owner != "" {
		call = s.indexCall(s.nameOf(key), owner, ttl, true)
		call.p, call.cond, call.size = p, cond, len(data)
		if w.replaces != "" {
			call.replaces = s.name(w.replaces)
		}
	}
	indexed := owner != "" && s.multiKey
	if indexed {
		// One round trip; writeIndexed reports the write.
		err = s.writeIndexed(ctx, op, set, call, s.seen.HashBytes(data))
	} else if err = s.do(ctx, set); err == nil {
		s.wrote(ctx, p, id, owner, cond, len(data))
	}
	switch {
	case err == redis.Nil && cond == "NX":
		return 0, opErr(op, ErrExists)
	case err == redis.Nil:
		return 0, notFoundErr(op)
	case err != nil && indexed && set.Err() == nil:
		// The write happened; indexing the owner failed. (Only a
		// pipeline of the write and the index tells: a command that
		// failed on its context may still be filled in, and is not read.)
		return len(data), s.wrapErr(ctx, op, err)
	case err != nil:
		return 0, s.wrapErr(ctx, op, err)
	case owner != "" && !s.multiKey:
		return len(data), s.runIndex(ctx, op, call, s.seen.HashBytes(data))
	}
	return len(data), nil
}

// wrote reports the write of n bytes under id, of owner, under cond.
func (s *Store[T]) wrote(ctx context.Context, p probe, id, owner, cond string, n int) {
	kind := EventSaved
	if cond == "NX" {
		kind = EventCreated
	}
	p.event(ctx, id, Event{Kind: kind, Owner: owner, Bytes: n})
}

// deleteExpired deletes the session id, stored under key, whose time to
// live came out as zero or less in op, and reports the deletion.
func (s *Store[T]) deleteExpired(ctx context.Context, p probe, op, id, key string) error {
	cmd := redis.NewIntCmd(ctx, "del", key)
	if err := s.do(ctx, cmd); err != nil {
		return s.wrapErr(ctx, op+": delete expired session", err)
	}
	if cmd.Val() > 0 {
		p.event(ctx, id, Event{Kind: EventDeleted})
	}
	return nil
}

// loadFor is load for package httpsession: a Get, or with ttl > 0 a
// GetAndExtend.
func (s *Store[T]) loadFor(ctx context.Context, id string, ttl time.Duration) (T, []byte, error) {
	o := OpGet
	if ttl > 0 {
		o = OpGetAndExtend
	}
	return s.load(ctx, o, id, ttl, true)
}

// writeFor is write for package httpsession: Create, Replace, and the
// Create of a renewal.
func (s *Store[T]) writeFor(ctx context.Context, id string, v T, w storeapi.Write) error {
	o := OpReplace
	if w.Cond == "NX" {
		o = OpCreate
	}
	return s.observedWrite(ctx, o, id, v, writeMode{cond: w.Cond, replaces: w.Replaces, unknown: w.Unknown})
}

// Touch resets the expiry of the session stored under id from v, by the
// rules of [Store.Set], without rewriting its value. It never creates a
// session: when there is none under id it returns an error wrapping
// [ErrNotFound]. A time to live of zero or less deletes the session. Touch
// does nothing and returns nil under [Options.DisableTouch] or
// [Options.DisableTTL].
func (s *Store[T]) Touch(ctx context.Context, id string, v T) error {
	ctx, p := s.observe(ctx, OpTouch)
	err := s.touch(ctx, p, id, v)
	p.end(ctx, Result{Err: err})
	return err
}

// touch is Touch, under p.
func (s *Store[T]) touch(ctx context.Context, p probe, id string, v T) error {
	const op = "touch"
	if s.opts.DisableTouch || s.opts.DisableTTL {
		_, err := s.key(op, id)
		return err
	}
	key, err := s.begin(ctx, op, id)
	if err != nil {
		return err
	}
	ttl := s.ttlOf(v)
	if ttl <= 0 {
		return s.deleteExpired(ctx, p, op, id, key)
	}
	var found bool
	if s.opts.TouchSlack > 0 {
		n, err := touchScript.Run(ctx, s.client, []string{key}, ttl.Milliseconds(), s.opts.TouchSlack.Milliseconds()).Int()
		if err != nil {
			return s.wrapErr(ctx, op, err)
		}
		found = n >= 0
	} else {
		cmd := redis.NewBoolCmd(ctx, "pexpire", key, ttl.Milliseconds())
		if err := s.do(ctx, cmd); err != nil {
			return s.wrapErr(ctx, op, err)
		}
		found = cmd.Val()
	}
	if !found {
		return notFoundErr(op)
	}
	p.event(ctx, id, Event{Kind: EventTouched})
	s.reindex(ctx, s.nameOf(key), v, 0, ttl)
	return nil
}

// touchScript extends a key's expiry to ARGV[1] milliseconds unless it has
// more than ARGV[1] - ARGV[2] milliseconds left. It returns -1 for a missing
// key, 0 when it left the expiry alone and 1 when it extended it.
var touchScript = redis.NewScript(`
local left = redis.call('PTTL', KEYS[1])
if left == -2 then
	return -1
end
if left >= 0 and left + tonumber(ARGV[2]) >= tonumber(ARGV[1]) then
	return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// Delete removes the sessions stored under ids. Ids with no session are
// ignored. On a single server the keys go out in one UNLINK; on a cluster or
// a ring, as a pipeline of single-key UNLINKs, so no command spans two slots.
func (s *Store[T]) Delete(ctx context.Context, ids ...string) error {
	ctx, p := s.observe(ctx, OpDelete)
	n, err := s.delete(ctx, p, ids)
	p.end(ctx, Result{Err: err, Sessions: n})
	return err
}

// DeleteByName removes the sessions stored under names, as [Store.Delete]
// removes those of ids: a name is what [Store.IDs], [Store.All] and
// [Store.OwnedBy] yield, and what [Store.NameOf] returns for an id. It is
// Delete itself unless [Options.IDHashKey] is set; then it deletes the
// sessions that an iteration found, whose ids the store does not know.
func (s *Store[T]) DeleteByName(ctx context.Context, names ...string) error {
	ctx, p := s.observe(ctx, OpDelete)
	n, err := s.deleteKeys(ctx, p, names, true)
	p.end(ctx, Result{Err: err, Sessions: n})
	return err
}

// NameOf returns the name of the key of the session id, after the prefix:
// what the iterations yield for it. It is id itself unless
// [Options.IDHashKey] is set; then it is id's keyed hash, which lets a
// program find a session of its own (the request's, say) among those that
// OwnedBy yields.
func (s *Store[T]) NameOf(id string) string { return s.name(id) }

// delete is Delete, under p; it returns how many sessions it deleted.
func (s *Store[T]) delete(ctx context.Context, p probe, ids []string) (int, error) {
	return s.deleteKeys(ctx, p, ids, false)
}

// deleteKeys is delete of ids, or with named of names.
func (s *Store[T]) deleteKeys(ctx context.Context, p probe, ids []string, named bool) (int, error) {
	const op = "delete"
	keys := make([]string, len(ids))
	for i, id := range ids {
		var k string
		var err error
		if named {
			k, err = s.opts.Prefix+id, checkID(op, id)
		} else {
			k, err = s.key(op, id)
		}
		if err != nil {
			return 0, err
		}
		keys[i] = k
	}
	if err := ctx.Err(); err != nil {
		return 0, s.wrapErr(ctx, op, err)
	}
	n, err := s.del(ctx, keys)
	if n > 0 {
		hint := ""
		if len(ids) == 1 {
			hint = ids[0]
		}
		p.event(ctx, hint, Event{Kind: EventDeleted, Count: n})
	}
	return n, s.wrapErr(ctx, op, err)
}

// unlink deletes the session stored under id and reports whether there was
// one: a Delete of one id, for package httpsession.
func (s *Store[T]) unlink(ctx context.Context, id string) (bool, error) {
	ctx, p := s.observe(ctx, OpDelete)
	n, err := s.delete(ctx, p, []string{id})
	p.end(ctx, Result{Err: err, Sessions: n})
	return n > 0, err
}

// begin starts operation op on the session id: it returns the session's key,
// or an error if id is invalid or ctx is already done.
func (s *Store[T]) begin(ctx context.Context, op, id string) (string, error) {
	key, err := s.key(op, id)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", s.wrapErr(ctx, op, err)
	}
	return key, nil
}

// key returns the Redis key of id, or an error of op wrapping ErrInvalidID.
func (s *Store[T]) key(op, id string) (string, error) {
	if err := checkID(op, id); err != nil {
		return "", err
	}
	return s.opts.Prefix + s.name(id), nil
}

// checkID returns an error of op wrapping ErrInvalidID for an id (or a
// name) that is empty or longer than MaxIDLen.
func checkID(op, id string) error {
	switch {
	case id == "":
		return opErr(op, fmt.Errorf("%w: empty", ErrInvalidID))
	case len(id) > MaxIDLen:
		return opErr(op, fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidID, len(id), MaxIDLen))
	}
	return nil
}

// name returns the name of id's key, after the prefix: id itself, or
// under Options.IDHashKey its keyed hash. The iterations yield names.
func (s *Store[T]) name(id string) string {
	if s.hasher == nil {
		return id
	}
	return s.hasher.Name(id)
}

// nameOf returns the name in key, a key of the store's sessions.
func (s *Store[T]) nameOf(key string) string { return key[len(s.opts.Prefix):] }

// readErr turns the error of a read of id into the store's: ErrNotFound for
// a missing key, a *CorruptError for a key of another type, and a wrapped
// error otherwise.
func (s *Store[T]) readErr(ctx context.Context, p probe, op, id string, err error) error {
	switch {
	case err == redis.Nil:
		return notFoundErr(op)
	case redis.HasErrorPrefix(err, "WRONGTYPE"):
		p.event(ctx, id, Event{Kind: EventCorrupt, Err: err})
		return opErr(op, &CorruptError{ID: id, Err: err})
	}
	return s.wrapErr(ctx, op, err)
}

// decode decodes the stored value of id under key, read by op, or returns
// an error of op wrapping a *CorruptError.
func (s *Store[T]) decode(op, id, key string, data []byte) (T, error) {
	v, _, _, err := s.decodeStored(op, id, key, data, false)
	return v, err
}

// encode encodes v for op, within MaxSize, with the members unknown (or
// those of v's Extra, when T carries one) that T does not declare, and
// seals it for key under Options.EncryptionKeys.
func (s *Store[T]) encode(op, key string, v T, unknown []byte) ([]byte, error) {
	data, err := s.opts.Codec.Encode(v)
	if err != nil {
		return nil, opErr(op, fmt.Errorf("encode session: %w", err))
	}
	if s.carrier {
		unknown = any(&v).(ExtraCarrier).SessionExtra().members
	}
	if s.fields != nil {
		data = jsonfields.Splice(data, s.withVersion(unknown))
	}
	if len(data) > s.opts.MaxSize {
		return nil, opErr(op, fmt.Errorf("%w: the session encodes to %d bytes, more than MaxSize %d", ErrTooLarge, len(data), s.opts.MaxSize))
	}
	if s.sealer != nil {
		data = s.sealer.Seal(key, data)
	}
	return data, nil
}

// do runs one single-key command, pipelined with those of other callers
// unless Options.DisablePipelining is set, waiting for its result no
// longer than ctx allows.
//
// When do returns an error, cmd may still be filled in by the write it
// joined, so callers read cmd only after a nil error or a reply (redis.Nil,
// a redis.Error).
func (s *Store[T]) do(ctx context.Context, cmd redis.Cmder) error {
	if s.pipe == nil || (s.cachedGets && cmd.Args()[0] == "get") {
		return s.client.Process(ctx, cmd)
	}
	return s.pipe.Do(ctx, cmd)
}

// bytes runs a single-key command whose reply is a bulk string; redis.Nil
// when there is none.
func (s *Store[T]) bytes(ctx context.Context, args ...any) ([]byte, error) {
	cmd := redis.NewStringCmd(ctx, args...)
	if err := s.do(ctx, cmd); err != nil {
		return nil, err
	}
	return cmd.Bytes()
}

// isUnknownCommand reports whether err is a server's answer that it does not
// know the command.
func isUnknownCommand(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.Contains(strings.ToLower(rerr.Error()), "unknown command")
}

// wrapErr is the package's wrapErr, after asking a cluster client to reload
// its slot map when err says that a node could not be reached (see
// reloadOnNetError).
func (s *Store[T]) wrapErr(ctx context.Context, op string, err error) error {
	s.reloadOnNetError(err)
	return wrapErr(ctx, op, err)
}

func init() {
	storeapi.Of = func(store any) any { return store.(interface{ internals() any }).internals() }
}

// internals returns the store's storeapi.Funcs[T], for package httpsession.
func (s *Store[T]) internals() any {
	return storeapi.Funcs[T]{
		TTL:          s.ttlOf,
		Encode:       s.opts.Codec.Encode,
		Unlink:       s.unlink,
		Owner:        s.opts.Owner,
		Load:         s.loadFor,
		Write:        s.writeFor,
		Forward:      s.forward,
		Forwarded:    s.forwarded,
		ForwardErr:   s.forwardPrefixErr(),
		CookieTagErr: checkCookieTag[T](),
		Settings: storeapi.Settings{
			TTL:          s.opts.TTL,
			TTLFunc:      s.opts.TTLFunc != nil,
			Expirer:      s.expiry != noExpiry,
			Lifetime:     isLifetimeCarrier[T](),
			DisableTTL:   s.opts.DisableTTL,
			DisableTouch: s.opts.DisableTouch,
		},
	}
}
