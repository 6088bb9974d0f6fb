package typedstore

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"
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

// DefaultUpdateAttempts is the number of attempts [Store.Update] makes when
// [Options.UpdateAttempts] is 0.
const DefaultUpdateAttempts = 10

// DefaultPipelineWrites is how many writes a [Store] has in flight before
// commands queue, when [Options.PipelineWrites] is 0.
const DefaultPipelineWrites = 2

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

	// DisablePipelining sends every single-key command of Get,
	// GetAndExtend, Set, Create, Replace, Touch and Delete as a plain
	// command on a pooled connection of its own. By default, the store
	// pipelines them as the load calls for: a command sent while fewer
	// than PipelineWrites of the store's writes are in flight goes out at
	// once, on the caller's goroutine, as a plain command would; one sent
	// while that many are in flight waits for the next write, which
	// carries it with every other command that arrived meanwhile as one
	// pipeline. One caller at a time pays nothing for this; many
	// concurrent callers share round trips and system calls, as
	// node-redis's callers share its connection. Each call still waits for
	// its own command, in order with the caller's earlier calls, and no
	// longer than its context allows. A command whose caller gives up
	// before its write begins is left out of it; one whose caller gives up
	// during the write may still run, as a plain command whose deadline
	// passes while it waits for its reply may: later, even, than a command
	// the caller sends next. GETs go out plain on a client with go-redis's
	// client-side cache, which does not look up pipelined commands. It
	// applies to every client. Default false.
	DisablePipelining bool

	// PipelineWrites is how many writes, plain or pipelined, the store has
	// in flight before further commands queue for the next one; each takes
	// a connection of the client's pool. Default [DefaultPipelineWrites];
	// it must not be negative.
	PipelineWrites int

	// Owner, when set, returns the owner of a session: the id of the user
	// logged in to it, or "" for an anonymous session. The store then keeps,
	// for each owner, an index of their sessions, so that [Store.OwnedBy],
	// [Store.CountOwned] and [Store.DeleteOwned] cost time in proportion to
	// that owner's sessions, not to all of them. Every write of an owned
	// session costs one more command (a script on the owner's index, after
	// the session's own write, in the same round trip on a single server);
	// reads cost none (see "Sessions of a user" in the package
	// documentation). It must be a pure function of v, cheap,
	// and return at most MaxOwnerLen bytes. Default nil: no index.
	Owner func(v T) string

	// MaxPerOwner, when positive, caps the number of live sessions an owner
	// may have: a write that gives an owner more deletes their sessions
	// that are closest to expiring (by the time to live Redis reports),
	// which, with one time to live for all, are the least recently active.
	// It requires Owner. Default 0: no cap.
	MaxPerOwner int

	// OwnerPrefix is prepended to an owner to form the key of their index.
	// Default DefaultOwnerPrefix followed by Prefix ("owner:sess:"). Neither
	// of Prefix and OwnerPrefix may begin with the other, so that no index
	// key is ever taken for a session or the other way round.
	OwnerPrefix string

	// Version, when positive, is the version of the shape of T that the
	// store writes: every write records it in the session's top-level
	// member VersionKey, where an Express app's save keeps it. A session
	// stored with an older version (a session with no version member is
	// version 0) is brought up to date when it is read: Migrations[n]
	// turns the JSON of version n into that of version n+1, from the stored
	// version up to Version (a missing step means that version's shape did
	// not change), then the result is decoded as T. Get and GetAndExtend
	// (and so the loads of package httpsession) write the migrated session
	// back at once, in one compare-and-set that keeps its time to live and
	// does nothing if the session changed meanwhile, so that two requests
	// migrating it at once write it once; All and OwnedBy yield migrated
	// values without writing them. A session stored by a newer program (a
	// higher version, during a rolling deploy) is decoded as T as it is, and
	// the writes that read it first (Update, the saves of package
	// httpsession, a Set of a value with an Extra) keep its version and the
	// members T does not declare, so an older program does not destroy what
	// a newer one wrote. It requires the JSON codec and a struct T that does
	// not declare VersionKey. Default 0: no versions, no migrations.
	Version int

	// VersionKey is the top-level member that holds a session's version:
	// printable ASCII without quotes or backslashes. Default
	// DefaultVersionKey ("schemaVersion"). It requires Version.
	VersionKey string

	// Migrations bring sessions stored in older shapes up to date (see
	// Version): Migrations[n] receives the JSON of a session of version n
	// and returns its JSON in the shape of version n+1. It must be a pure
	// function: it may run more than once for one session. An error makes
	// the session a *CorruptError. Keys must be from 0 to Version-1. It
	// requires Version.
	Migrations map[int]func(data []byte) ([]byte, error)

	// OnDecodeError, when set, decides what becomes of a stored session that
	// Get, GetAndExtend or Update cannot decode or migrate: it receives the
	// stored bytes (decrypted, under EncryptionKeys, when they open and
	// inflate; the error wraps ErrUnauthenticated when they do not open) and the codec's or
	// the migration's error (never the session's id, a credential) and returns an action and, for
	// DecodeRepair, the value to use. It must be safe for concurrent use.
	// Iterations (All, OwnedBy) and Migrate report such sessions as corrupt
	// whatever it says. Default nil: DecodeFail, an error wrapping a
	// *CorruptError.
	OnDecodeError func(data []byte, err error) (T, DecodeAction)

	// Hooks observe the store's operations and the events of its sessions,
	// for logs, metrics and traces (see [Hooks]). Default: none, at no
	// cost.
	Hooks Hooks
	// EncryptionKeys, when set, seal every stored value with XAES-256-GCM
	// (AES-256-GCM under a key derived for each value from a random 192-bit
	// nonce), bound to the session's key: a value copied to another key, or
	// altered in any byte, reads as a *CorruptError wrapping
	// ErrUnauthenticated. The first key seals; every key opens, so keys rotate
	// by putting a new one first and keeping the old ones until Migrate (or the
	// sessions' own writes and expiry) has resealed what they sealed; reads
	// leave a session under the key it is sealed with. Each must be
	// EncryptionKeySize (32) random bytes. A store with keys reads no value
	// stored without them (see AcceptPlaintext), and an Express app reads none
	// of its values. Each value grows by 46 bytes (see docs/at-rest.md).
	// Default nil: values are stored as the codec encodes them.
	EncryptionKeys [][]byte

	// AcceptPlaintext lets a store with EncryptionKeys read the values stored
	// without them (any value that does not begin as a sealed value does), and
	// write each back sealed: on its first read by Get or GetAndExtend, in a
	// compare-and-set that keeps its time to live, and by Migrate. It is for
	// switching a deployment's sessions to encryption without logging their
	// users out; while it is set, whoever can write to Redis can forge a
	// session, so remove it once Migrate has run. It requires EncryptionKeys.
	// Default false: a value that is not sealed is a *CorruptError.
	AcceptPlaintext bool

	// CompressAbove, when positive, deflates (compress/flate, BestSpeed) every
	// encoded session longer than CompressAbove bytes before it is sealed, and
	// keeps the result if it is shorter; a session at or below it is sealed as
	// it is, at no cost. It requires EncryptionKeys, whose header marks a
	// compressed value. A value that inflates to more than MaxSize reads as a
	// *CorruptError wrapping ErrTooLarge. Default 0: never. It must not be
	// negative.
	CompressAbove int

	// IDHashKey, when set, stores each session under Prefix followed by the
	// base64url HMAC-SHA-256, keyed with IDHashKey, of its id, so that whoever
	// reads Redis learns no usable id and cannot confirm a guessed one without
	// the key. Every operation hashes the ids it is given; IDs, All and OwnedBy
	// yield the hashes, which are the names of the keys and not ids: NameOf
	// gives the name of an id, DeleteByName deletes by name, and a store with
	// the same options but no IDHashKey reads by name. It must be at least
	// MinIDHashKeySize (32) random bytes, the same for every program sharing
	// the sessions; changing it loses every session. An Express app finds none
	// of the sessions. Default nil: keys hold the ids.
	IDHashKey []byte
}

// validate reports the first option that is out of range.
func (o *Options[T]) validate() error {
	switch {
	case o.TTL < 0:
		return fmt.Errorf("negative TTL %v", o.TTL)
	case o.ScanCount < 0:
		return fmt.Errorf("negative ScanCount %d", o.ScanCount)
	case o.MaxSize < 0:
		return fmt.Errorf("negative MaxSize %d", o.MaxSize)
	case o.UpdateAttempts < 0:
		return fmt.Errorf("negative UpdateAttempts %d", o.UpdateAttempts)
	case o.TouchSlack < 0:
		return fmt.Errorf("negative TouchSlack %v", o.TouchSlack)
	case o.PipelineWrites < 0:
		return fmt.Errorf("negative PipelineWrites %d", o.PipelineWrites)
	case o.MaxPerOwner < 0:
		return fmt.Errorf("negative MaxPerOwner %d", o.MaxPerOwner)
	case o.MaxPerOwner > 0 && o.Owner == nil:
		return errors.New("MaxPerOwner needs Owner, which says whose each session is")
	case o.OwnerPrefix != "" && o.Owner == nil:
		return errors.New("OwnerPrefix needs Owner, which says whose each session is")
	case o.Version < 0:
		return fmt.Errorf("negative Version %d", o.Version)
	case o.Version == 0 && (o.VersionKey != "" || o.Migrations != nil):
		return errors.New("VersionKey and Migrations need Version, the version of the shape of T that the store writes")
	}
	if err := checkAtRest(o.EncryptionKeys, o.CompressAbove, o.IDHashKey); err != nil {
		return err
	}
	if o.AcceptPlaintext && o.EncryptionKeys == nil {
		return errors.New("AcceptPlaintext needs EncryptionKeys, which seal what it reads in clear")
	}
	for _, c := range []byte(o.VersionKey) {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return fmt.Errorf("VersionKey %q: use printable ASCII without quotes or backslashes, which JSON stores as they are", o.VersionKey)
		}
	}
	for n := range o.Migrations {
		if n < 0 || n >= o.Version {
			return fmt.Errorf("a migration from version %d: Migrations go from versions 0 to Version-1 (%d) to the next", n, o.Version-1)
		}
	}
	d := o.withDefaults()
	if o.Owner != nil && (strings.HasPrefix(d.OwnerPrefix, d.Prefix) || strings.HasPrefix(d.Prefix, d.OwnerPrefix)) {
		return fmt.Errorf("OwnerPrefix %q and Prefix %q overlap: neither may begin with the other, or index keys would be taken for sessions", d.OwnerPrefix, d.Prefix)
	}
	if err := checkPointerEmbeds[T](); err != nil {
		return err
	}
	if _, json := o.Codec.(JSONCodec[T]); o.Codec == nil || json {
		// Only the JSON codec reads the tag; another codec decides the
		// stored shape itself.
		if err := checkCookieTag[T](); err != nil {
			return err
		}
	}
	return nil
}

// withDefaults returns o with the documented defaults in place of zero
// values.
func (o Options[T]) withDefaults() Options[T] {
	o.Prefix = cmp.Or(o.Prefix, DefaultPrefix)
	o.TTL = cmp.Or(o.TTL, DefaultTTL)
	o.ScanCount = cmp.Or(o.ScanCount, DefaultScanCount)
	o.MaxSize = cmp.Or(o.MaxSize, DefaultMaxSize)
	o.UpdateAttempts = cmp.Or(o.UpdateAttempts, DefaultUpdateAttempts)
	o.PipelineWrites = cmp.Or(o.PipelineWrites, DefaultPipelineWrites)
	o.OwnerPrefix = cmp.Or(o.OwnerPrefix, DefaultOwnerPrefix+o.Prefix)
	if o.Version > 0 {
		o.VersionKey = cmp.Or(o.VersionKey, DefaultVersionKey)
	}
	if o.Codec == nil {
		o.Codec = JSONCodec[T]{}
	}
	return o
}
