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
// # Sessions of a user
//
// With [Options.Owner] set, the store keeps an index of each owner's
// sessions (a sorted set per owner, under [Options.OwnerPrefix]), so that
// [Store.OwnedBy], [Store.CountOwned] and [Store.DeleteOwned] (log out
// everywhere, or everywhere but here) cost time in proportion to that
// owner's sessions rather than to all of them, and [Options.MaxPerOwner]
// can cap how many an owner has. Each write of an owned session sends one
// more command after its own, a script on the owner's index; loads and
// touches that extend a session send nothing to the index while the entry
// this process last wrote still covers the new expiry. The index needs no
// keyspace notifications: entries carry the time up to which they are
// valid, the index key expires with its last entry, and entries of deleted
// sessions are dropped when the index is next read. docs/users.md in the
// repository has the details, the guarantee of DeleteOwned and the tests
// that show it.
//
// # Changing the session type
//
// With the JSON codec, a write of a session that was read first ([Store.Update],
// the saves of package httpsession, a [Store.Set] of a value whose type
// embeds [Extra]) keeps the stored members that T does not declare, such as
// an Express app's, unchanged. [Options.Version] and [Options.Migrations]
// record the version of T's shape in each session and migrate older ones
// when they are read, writing them back once; [Store.Migrate] migrates them
// all, with a dry run first; [Options.OnDecodeError] decides what becomes
// of a session that cannot be decoded. docs/schema.md in the repository has
// the deploy recipe.
//
// # Errors
//
// A missing or expired session is not a failure of the system: [Store.Get]
// reports it as [ErrNotFound], never as go-redis's redis.Nil. A stored value
// that the codec cannot decode is reported as a [*CorruptError] (errors.As
// finds it), which wraps [ErrCorrupt] and carries the id; the stored bytes
// are left as they are (unless [Options.OnDecodeError] says otherwise).
// Every other error comes from Redis or from the context, wrapped with %w so
// that errors.Is finds context.Canceled, context.DeadlineExceeded or the
// go-redis error beneath. Messages read "typedstore: <operation>: …". No
// method panics on bad data or on a dead server.
//
// A session id is a credential, so no error message holds a whole one: where
// a message names a session, it shows a hint of its id (at most its first
// six bytes), and programs find the id itself in [CorruptError.ID].
//
// # Observability
//
// [Options.Hooks] observes the store: [Hooks.Start] and [Hooks.End] around
// every operation, for traces and latency, and [Hooks.Event] for every
// event of a session's life (created, loaded, saved, touched, deleted,
// evicted, revoked, corrupt, a conflict, an expiry). They cost nothing when
// unset. [Store.EstimateLen] counts sessions in constant time per server,
// without a scan, for a gauge; [Store.WatchExpired] reports expiries,
// best effort. Module github.com/typedstore/typedstore/extra/typedstoreotel
// turns all of it into OpenTelemetry spans and metrics; docs/observability.md
// in the repository shows a trace.
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
// # Sessions at rest
//
// [Options.EncryptionKeys] seal every stored value with XAES-256-GCM,
// bound to the session's key, under keys that rotate; [Options.IDHashKey]
// stores each session under a keyed hash of its id, which the iterations
// then yield (see [Store.NameOf] and [Store.DeleteByName]);
// [Options.CompressAbove] deflates large sessions before they are sealed.
// A Redis dump then shows neither the data nor a usable id. Each is
// opt-in, since an Express app reads neither; docs/at-rest.md has the
// threat model, the costs and the rotation procedure.
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
