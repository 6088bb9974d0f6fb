// Package typedstore keeps strongly typed web sessions in Redis.
//
// A [Store] holds values of the caller's own session type T under keys
// prefix+id, encoded by a pluggable [Codec] (JSON by default). It follows the
// semantics of Node's connect-redis, the Redis store of express-session, so a
// Go service and an Express app can share one set of sessions, and it fixes
// what connect-redis gets wrong: the prefix is glob-escaped before it reaches
// SCAN MATCH, a corrupt entry is reported without ending an iteration, and
// iteration, counting and clearing visit every master of a Redis Cluster
// without ever sending a multi-key command across hash slots.
//
// # Keys and ids
//
// The key of a session is [Options.Prefix] followed by its id, byte for byte.
// An id may hold any bytes (NUL, newlines, glob characters, invalid UTF-8),
// but it must not be empty and must not be longer than [MaxIDLen] bytes;
// otherwise the call fails with an error that wraps [ErrInvalidID] and sends
// nothing to Redis.
//
// # Expiry
//
// [Store.Set] writes a session with a time to live chosen, in this order, by:
//
//  1. [Options.TTLFunc], when it is set;
//  2. the time left until the value's own expiry, when T or *T implements
//     [Expirer] and the expiry is not the zero time (the duration is rounded
//     up to the millisecond, so a session never leaves Redis before its cookie
//     says);
//  3. [Options.TTL], which defaults to 24 hours.
//
// A time to live of zero or less deletes the session, as connect-redis does:
// a cookie that has already expired removes its session. [Options.DisableTTL]
// writes sessions without expiry (and clears an expiry the key had), but a
// time to live of zero or less still deletes. [Store.Touch] applies the same
// rules to the key's expiry without rewriting the value.
//
// # Errors
//
// A missing or expired session is not a failure of the system: [Store.Get]
// reports it as [ErrNotFound], never as go-redis's redis.Nil. A stored value
// that the codec cannot decode is reported as a [*CorruptError], which wraps
// [ErrCorrupt] and names the id; the stored bytes are left as they are. Every
// other error comes from Redis or from the context, wrapped with %w so that
// errors.Is finds context.Canceled, context.DeadlineExceeded or the go-redis
// error beneath. No method panics on bad data or on a dead server.
//
// # Contexts
//
// Every method that talks to Redis takes a context first. A context that is
// already done fails the call before anything is sent, and the error wraps
// the context's error. How quickly a call that is under way gives up depends
// on the client: go-redis bounds a network read or write by the context's
// deadline only when the client's ContextTimeoutEnabled option is set (as
// [Open] sets it); otherwise by its ReadTimeout and WriteTimeout.
//
// # Deployments
//
// A Store works with anything that implements redis.UniversalClient: a
// single server or a Sentinel failover client (*redis.Client), a Redis
// Cluster (*redis.ClusterClient) or a client-side sharded *redis.Ring. On a
// cluster or a ring, [Store.IDs], [Store.All], [Store.Len] and [Store.Clear]
// scan every master (or shard) in turn, and reads and deletes of several keys
// go out as pipelines of single-key commands, which the client routes to the
// node that owns each key.
package typedstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the key prefix used when [Options.Prefix] is empty. It is
// connect-redis's default.
const DefaultPrefix = "sess:"

// DefaultTTL is the time to live used when neither [Options.TTLFunc], the
// value's own expiry nor [Options.TTL] gives one. It is connect-redis's
// default of one day.
const DefaultTTL = 24 * time.Hour

// DefaultScanCount is the SCAN COUNT hint used when [Options.ScanCount] is 0.
const DefaultScanCount = 100

// MaxIDLen is the longest session id, in bytes, that a Store accepts. Ids
// made by the usual generators are 20 to 50 bytes long; the bound keeps a
// hostile id from turning into a key of arbitrary size.
const MaxIDLen = 1024

// DefaultMaxSize is the largest encoded session, in bytes, when
// [Options.MaxSize] is 0. Sessions are usually well under 4 KiB; the bound
// stops a runaway session (or a hostile key under the prefix) from costing a
// request megabytes of memory and bandwidth.
const DefaultMaxSize = 1 << 20

var (
	// ErrNotFound occurs when a session does not exist: it was never written,
	// it has been deleted, or it has expired.
	ErrNotFound = errors.New("typedstore: session not found")

	// ErrCorrupt occurs when a stored value cannot be decoded by the store's
	// codec. Errors that wrap it are *CorruptError values naming the id.
	ErrCorrupt = errors.New("typedstore: corrupt session")

	// ErrInvalidID occurs when a session id is empty or longer than MaxIDLen.
	ErrInvalidID = errors.New("typedstore: invalid session id")

	// ErrTooLarge occurs when an encoded session is larger than
	// Options.MaxSize: on a write, nothing is written; on a read, it is
	// wrapped in a *CorruptError.
	ErrTooLarge = errors.New("typedstore: session too large")
)

// CorruptError reports a stored session that the codec could not decode.
// errors.Is(err, ErrCorrupt) reports true for it. The stored bytes are left
// untouched: the store never overwrites or deletes a value it cannot read.
type CorruptError struct {
	ID  string // the session id
	Err error  // the codec's error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("typedstore: corrupt session %q: %v", e.ID, e.Err)
}

// Unwrap returns both ErrCorrupt and the codec's error.
func (e *CorruptError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

// Options configures a [Store]. The zero value gives connect-redis's
// defaults: prefix "sess:", a one-day TTL, SCAN COUNT 100 and JSON.
type Options[T any] struct {
	// Prefix is prepended to every session id to form its key. Default
	// "sess:". Use a distinct prefix for each application that shares a Redis
	// database: IDs, All, Len and Clear see only keys under their own prefix.
	Prefix string

	// TTL is the time to live of a session whose expiry neither TTLFunc nor
	// the value itself (through Expirer) gives. Default 24h. It must not be
	// negative.
	TTL time.Duration

	// TTLFunc, when set, chooses the time to live of every session written or
	// touched, overriding the value's own expiry and TTL. A result of zero or
	// less deletes the session.
	TTLFunc func(v T) time.Duration

	// DisableTTL writes sessions with no expiry at all; they stay until
	// deleted. Touch does nothing. A time to live of zero or less (an expired
	// cookie) still deletes.
	DisableTTL bool

	// DisableTouch makes Touch do nothing, so a session expires a fixed time
	// after it was last written.
	DisableTouch bool

	// ScanCount is the COUNT hint of the SCAN commands behind IDs, All, Len
	// and Clear, and so the size of their batches. Default 100. It must not
	// be negative.
	ScanCount int

	// Codec encodes and decodes session values. Default JSONCodec[T], on
	// github.com/goccy/go-json.
	Codec Codec[T]

	// MaxSize is the largest encoded session, in bytes, that the store
	// writes or reads. Default DefaultMaxSize (1 MiB). A larger value fails
	// to be written with an error wrapping ErrTooLarge; a larger stored value
	// is reported as a *CorruptError wrapping ErrTooLarge, and left as it is.
	// It must not be negative.
	MaxSize int

	// UpdateAttempts is how many times Update reads, applies its function
	// and tries to write before it gives up with ErrConflict. Default
	// DefaultUpdateAttempts (10). It must not be negative.
	UpdateAttempts int

	// TouchSlack lets Touch skip the write while a session has most of its
	// lifetime left: Touch extends the expiry only when the time the session
	// has left is more than TouchSlack short of the new time to live. With a
	// TTL of 24h and a TouchSlack of 1h, a session is extended at most about
	// once an hour however often it is touched. The check and the write are
	// one Lua script (one round trip, as without it); a skipped touch writes
	// nothing, so it neither replicates nor invalidates client-side caches.
	// Default 0: every Touch writes, as in connect-redis. It must not be
	// negative.
	TouchSlack time.Duration

	// AutoPipeline sends the single-key commands of Get, GetAndExtend, Set,
	// Create, Replace, Touch and Delete of one id through go-redis's
	// automatic pipelining (the client's AsyncAutoPipeline, which go-redis
	// shares among all its users), which batches the commands of concurrent
	// callers into shared pipelines: under many concurrent requests, far
	// fewer round trips and system calls for the same work. Each call still
	// waits for its own command, in order with the caller's earlier calls,
	// and no longer than its context allows; a command whose caller stopped
	// waiting may still run. It applies to a *redis.Client or
	// *redis.ClusterClient and has no effect on other clients. The
	// autopipeliner belongs to the client, which closes it. Default false.
	AutoPipeline bool
}

// Store keeps sessions of type T in Redis. It is safe for concurrent use by
// multiple goroutines.
type Store[T any] struct {
	client   redis.UniversalClient
	owned    atomic.Bool // the store created client and has not closed it yet
	prefix   string
	match    string // glob-escaped prefix followed by "*", for SCAN MATCH
	ttl      time.Duration
	ttlFunc  func(T) time.Duration
	noTTL    bool
	noTouch  bool
	count    int
	codec    Codec[T]
	maxSize  int
	attempts int
	slack    time.Duration
	// expirer reports whether T or *T implements Expirer; cookieAt is the
	// offset of the Cookie that T embeds and takes its expiry from, or
	// noCookie.
	expirer  bool
	cookieAt uintptr
	// ap, when set, carries the single-key commands (see Options.AutoPipeline).
	ap *redis.AutoPipeliner
	// noGetEx is set once the server has answered that it has no GETEX
	// (Redis before 6.2); GetAndExtend then sends GET and PEXPIRE.
	noGetEx atomic.Bool
	// multiKey reports whether one multi-key command (MGET, UNLINK k1 k2 …)
	// may carry keys of any slot: true for a single server, false for a
	// cluster or a ring.
	multiKey bool
}

// New returns a Store on client. It validates opts and fills in the
// documented defaults; it does not contact Redis. The caller keeps ownership
// of client: [Store.Close] does not close it.
func New[T any](client redis.UniversalClient, opts Options[T]) (*Store[T], error) {
	if client == nil {
		return nil, errors.New("typedstore: New: nil redis client")
	}
	if opts.TTL < 0 {
		return nil, fmt.Errorf("typedstore: New: negative TTL %v", opts.TTL)
	}
	if opts.ScanCount < 0 {
		return nil, fmt.Errorf("typedstore: New: negative ScanCount %d", opts.ScanCount)
	}
	if opts.MaxSize < 0 {
		return nil, fmt.Errorf("typedstore: New: negative MaxSize %d", opts.MaxSize)
	}
	if opts.UpdateAttempts < 0 {
		return nil, fmt.Errorf("typedstore: New: negative UpdateAttempts %d", opts.UpdateAttempts)
	}
	if opts.TouchSlack < 0 {
		return nil, fmt.Errorf("typedstore: New: negative TouchSlack %v", opts.TouchSlack)
	}
	s := &Store[T]{
		client:   client,
		prefix:   cmp.Or(opts.Prefix, DefaultPrefix),
		ttl:      cmp.Or(opts.TTL, DefaultTTL),
		ttlFunc:  opts.TTLFunc,
		noTTL:    opts.DisableTTL,
		noTouch:  opts.DisableTouch,
		count:    cmp.Or(opts.ScanCount, DefaultScanCount),
		codec:    opts.Codec,
		maxSize:  cmp.Or(opts.MaxSize, DefaultMaxSize),
		attempts: cmp.Or(opts.UpdateAttempts, DefaultUpdateAttempts),
		slack:    opts.TouchSlack,
	}
	if opts.AutoPipeline {
		var ap *redis.AutoPipeliner
		var err error
		switch c := client.(type) {
		case *redis.Client:
			ap, err = c.AsyncAutoPipeline()
		case *redis.ClusterClient:
			ap, err = c.AsyncAutoPipeline()
		}
		if err != nil {
			return nil, fmt.Errorf("typedstore: New: AutoPipeline: %w", err)
		}
		s.ap = ap
	}
	if s.codec == nil {
		s.codec = JSONCodec[T]{}
	}
	s.match = escapeGlob(s.prefix) + "*"
	s.expirer, s.cookieAt = expiryMethod[T]()
	_, s.multiKey = client.(*redis.Client)
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
func (s *Store[T]) Prefix() string { return s.prefix }

// Codec returns the store's codec.
func (s *Store[T]) Codec() Codec[T] { return s.codec }

// Get returns the session stored under id. It returns an error wrapping
// [ErrNotFound] when there is none (never written, deleted or expired), and a
// [*CorruptError] when the stored value cannot be decoded.
func (s *Store[T]) Get(ctx context.Context, id string) (T, error) {
	var v T
	key, err := s.key(id)
	if err != nil {
		return v, err
	}
	if err := ctx.Err(); err != nil {
		return v, s.wrapErr(ctx, "get", err)
	}
	data, err := s.get(ctx, key)
	if err != nil {
		return v, s.getErr(ctx, "get", id, err)
	}
	return s.decode(id, data)
}

// GetAndExtend returns the session stored under id, as [Store.Get] does, and
// in the same command sets its time to live to ttl: one GETEX … PX, where a
// Get followed by a Touch costs two round trips. It suits a request that
// reads a session and keeps it alive, such as any request on a rolling
// session. On a server older than Redis 6.2, which has no GETEX, it sends GET
// and PEXPIRE in one pipeline instead. With ttl ≤ 0, or under
// [Options.DisableTTL] or [Options.DisableTouch], it is a plain Get.
func (s *Store[T]) GetAndExtend(ctx context.Context, id string, ttl time.Duration) (T, error) {
	if ttl <= 0 || s.noTTL || s.noTouch {
		return s.Get(ctx, id)
	}
	var v T
	key, err := s.key(id)
	if err != nil {
		return v, err
	}
	if err := ctx.Err(); err != nil {
		return v, s.wrapErr(ctx, "get and extend", err)
	}
	ttl = ceilMillis(ttl)
	var data []byte
	if !s.noGetEx.Load() {
		data, err = s.bytes(ctx, "getex", key, "px", ttl.Milliseconds())
		if err != nil && isUnknownCommand(err) {
			s.noGetEx.Store(true)
		}
	}
	if s.noGetEx.Load() {
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
		return v, s.getErr(ctx, "get and extend", id, err)
	}
	return s.decode(id, data)
}

// isUnknownCommand reports whether err is a server's answer that it does not
// know the command.
func isUnknownCommand(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.Contains(strings.ToLower(rerr.Error()), "unknown command")
}

// getErr turns the error of a GET of id into the store's: ErrNotFound for a
// missing key, a *CorruptError for a key of another type, and a wrapped
// error otherwise.
func (s *Store[T]) getErr(ctx context.Context, op, id string, err error) error {
	switch {
	case err == redis.Nil:
		return ErrNotFound
	case redis.HasErrorPrefix(err, "WRONGTYPE"):
		return &CorruptError{ID: id, Err: err}
	}
	return s.wrapErr(ctx, op, err)
}

// decode decodes the stored value of id, or returns a *CorruptError.
func (s *Store[T]) decode(id string, data []byte) (T, error) {
	var v T
	if len(data) > s.maxSize {
		return v, &CorruptError{ID: id, Err: fmt.Errorf("%w: %d bytes stored, more than MaxSize %d", ErrTooLarge, len(data), s.maxSize)}
	}
	if err := s.codec.Decode(data, &v); err != nil {
		var zero T
		return zero, &CorruptError{ID: id, Err: err}
	}
	return v, nil
}

// encode encodes v for id, within MaxSize.
func (s *Store[T]) encode(id string, v T) ([]byte, error) {
	data, err := s.codec.Encode(v)
	if err != nil {
		return nil, fmt.Errorf("typedstore: encode session %q: %w", id, err)
	}
	if len(data) > s.maxSize {
		return nil, fmt.Errorf("%w: session %q encodes to %d bytes, more than MaxSize %d", ErrTooLarge, id, len(data), s.maxSize)
	}
	return data, nil
}

// Set writes v under id with the time to live chosen by the rules in the
// package documentation, replacing any session stored there. When that time
// to live is zero or less, Set deletes the session instead and returns nil.
func (s *Store[T]) Set(ctx context.Context, id string, v T) error {
	key, err := s.key(id)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return s.wrapErr(ctx, "set", err)
	}
	ttl := s.ttlOf(v)
	if ttl <= 0 {
		return s.wrapErr(ctx, "set: delete expired session", s.do(ctx, redis.NewIntCmd(ctx, "del", key)))
	}
	data, err := s.encode(id, v)
	if err != nil {
		return err
	}
	if s.noTTL {
		ttl = 0 // SET without EX/PX also clears an expiry the key had
	}
	return s.wrapErr(ctx, "set", s.set(ctx, key, data, ttl, ""))
}

// Touch resets the expiry of the session stored under id from v, by the
// rules of [Store.Set], without rewriting its value. It never creates a
// session: when there is none under id it returns an error wrapping
// [ErrNotFound]. A time to live of zero or less deletes the session. Touch
// does nothing and returns nil under [Options.DisableTouch] or
// [Options.DisableTTL].
func (s *Store[T]) Touch(ctx context.Context, id string, v T) error {
	key, err := s.key(id)
	if err != nil {
		return err
	}
	if s.noTouch || s.noTTL {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return s.wrapErr(ctx, "touch", err)
	}
	ttl := s.ttlOf(v)
	if ttl <= 0 {
		return s.wrapErr(ctx, "touch: delete expired session", s.do(ctx, redis.NewIntCmd(ctx, "del", key)))
	}
	if s.slack > 0 {
		n, err := touchScript.Run(ctx, s.client, []string{key}, ttl.Milliseconds(), s.slack.Milliseconds()).Int()
		if err != nil {
			return s.wrapErr(ctx, "touch", err)
		}
		if n < 0 {
			return ErrNotFound
		}
		return nil
	}
	cmd := redis.NewBoolCmd(ctx, "pexpire", key, ttl.Milliseconds())
	if err := s.do(ctx, cmd); err != nil {
		return s.wrapErr(ctx, "touch", err)
	}
	if !cmd.Val() {
		return ErrNotFound
	}
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
	keys := make([]string, len(ids))
	for i, id := range ids {
		k, err := s.key(id)
		if err != nil {
			return err
		}
		keys[i] = k
	}
	if err := ctx.Err(); err != nil {
		return s.wrapErr(ctx, "delete", err)
	}
	return s.wrapErr(ctx, "delete", s.del(ctx, keys))
}

// Clear deletes every session under the store's prefix, and nothing else:
// it scans for the prefix's keys and unlinks them in batches of at most
// [Options.ScanCount] keys. It never runs FLUSHDB. Sessions written while
// Clear runs may or may not survive it.
func (s *Store[T]) Clear(ctx context.Context) error {
	return s.scanKeys(ctx, false, func(ctx context.Context, keys []string, _ []fetched) (bool, error) {
		return true, s.wrapErr(ctx, "clear", s.del(ctx, keys))
	})
}

// Len returns the number of sessions under the store's prefix. It walks the
// whole key space under the prefix with SCAN (every master on a cluster), so
// its cost grows with the number of keys; a key returned twice by SCAN is
// counted once. Sessions written or expiring while Len runs may or may not be
// counted.
func (s *Store[T]) Len(ctx context.Context) (int, error) {
	n := 0
	err := s.scanKeys(ctx, false, func(_ context.Context, keys []string, _ []fetched) (bool, error) {
		n += len(keys)
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Client returns the Redis client the store uses.
func (s *Store[T]) Client() redis.UniversalClient { return s.client }

// key returns the Redis key of id, or an error wrapping ErrInvalidID.
func (s *Store[T]) key(id string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidID)
	}
	if len(id) > MaxIDLen {
		return "", fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidID, len(id), MaxIDLen)
	}
	return s.prefix + id, nil
}

// del deletes keys: in one UNLINK where a multi-key command is allowed, else
// as a pipeline of single-key UNLINKs routed by the client.
func (s *Store[T]) del(ctx context.Context, keys []string) error {
	switch {
	case len(keys) == 0:
		return nil
	case len(keys) == 1:
		return s.do(ctx, redis.NewIntCmd(ctx, "unlink", keys[0]))
	case s.multiKey:
		return s.client.Unlink(ctx, keys...).Err()
	}
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Unlink(ctx, k)
		}
		return nil
	})
	return err
}

// do runs one single-key command: through the autopipeliner when there is
// one, waiting for its result no longer than ctx allows (the autopipeliner
// runs commands on a context of its own), or on the client.
func (s *Store[T]) do(ctx context.Context, cmd redis.Cmder) error {
	if s.ap == nil {
		return s.client.Process(ctx, cmd)
	}
	return s.ap.Submit(ctx, cmd).WaitContext(ctx)
}

// get returns the value of key; redis.Nil when there is none.
func (s *Store[T]) get(ctx context.Context, key string) ([]byte, error) {
	return s.bytes(ctx, "get", key)
}

// bytes runs a command whose reply is a bulk string.
func (s *Store[T]) bytes(ctx context.Context, args ...any) ([]byte, error) {
	cmd := redis.NewStringCmd(ctx, args...)
	if err := s.do(ctx, cmd); err != nil {
		return nil, err
	}
	return cmd.Bytes()
}

// set writes key with a time to live (none when ttl is 0) and an optional
// condition, "NX" or "XX"; redis.Nil when the condition did not hold.
func (s *Store[T]) set(ctx context.Context, key string, data []byte, ttl time.Duration, cond string) error {
	args := make([]any, 3, 6)
	args[0], args[1], args[2] = "set", key, data
	if ttl > 0 {
		args = append(args, "px", ttl.Milliseconds())
	}
	if cond != "" {
		args = append(args, cond)
	}
	return s.do(ctx, redis.NewStatusCmd(ctx, args...))
}

// wrapErr wraps a Redis error with the operation's name. When the context is
// done it wraps the context's error too, whatever the client reported, so that
// errors.Is(err, context.Canceled) holds after a cancellation.
func wrapErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	cerr := ctx.Err()
	if cerr == nil {
		// go-redis sets the connection's deadline to the context's, so an
		// I/O timeout can surface a moment before ctx.Err() reports it.
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			cerr = context.DeadlineExceeded
		}
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("typedstore: %s: %w (%w)", op, cerr, err)
	}
	return fmt.Errorf("typedstore: %s: %w", op, err)
}

// wrapErr is the package's wrapErr, after asking a cluster client to reload
// its slot map when err says that a node could not be reached (see
// reloadOnNetError).
func (s *Store[T]) wrapErr(ctx context.Context, op string, err error) error {
	s.reloadOnNetError(err)
	return wrapErr(ctx, op, err)
}

// reloadOnNetError asks a cluster client to reload its slot map after an
// error that is not a reply from Redis (a refused or broken connection) nor
// the context's. A master that died sends no MOVED reply, and go-redis
// (v9.22 and later) otherwise goes on routing its slots to the dead address
// until its slot map is ClusterStateReloadInterval old, 60 s by default
// (redis/go-redis#3979). The reload is asynchronous and go-redis runs at
// most one at a time, so a burst of errors costs one CLUSTER SLOTS.
func (s *Store[T]) reloadOnNetError(err error) {
	c, ok := s.client.(*redis.ClusterClient)
	if !ok || err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		return
	}
	c.ReloadState(context.Background())
}
