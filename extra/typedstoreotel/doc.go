// Package typedstoreotel records OpenTelemetry traces and metrics of a
// [typedstore.Store] and of package httpsession's middleware, through their
// hooks. It is a module of its own, as go-redis keeps redisotel, so that the
// library's go.mod names no OpenTelemetry package.
//
//	hooks, err := typedstoreotel.NewHooks() // the global providers; see the options
//	store, err := typedstore.New(client, typedstore.Options[Session]{Hooks: hooks})
//	reg, err := typedstoreotel.ObserveSessions(store)  // the active-sessions gauge
//	onEvent, err := typedstoreotel.NewOnEvent()
//	sessions, err := httpsession.New(store, httpsession.Options{OnEvent: onEvent, …})
//
// # Traces
//
// Every store operation is a span named "typedstore." followed by the
// operation ([typedstore.Op]: "typedstore.get_and_extend"), of kind
// internal, a child of the span in the caller's context: in the middleware,
// the request's span, as otelhttp or any other instrumentation starts it.
// Redis commands traced by go-redis's redisotel are children of the store's
// span, but for a command that joins a pipeline under load, whose span
// belongs to the trace of the first caller in that pipeline. Its
// attributes:
//
//	typedstore.operation  the operation: "get", "update", …
//	typedstore.outcome    ok, miss, exists, conflict, corrupt, error
//	typedstore.bytes      the size of the encoded session read or written
//	typedstore.sessions   the sessions an iteration, count or delete saw
//	typedstore.attempts   Update's attempts
//
// Each event of a session's life during the operation is a span event
// named "typedstore.session.<event>" (created, loaded, …), with the
// session's hint (typedstore.session: a few characters of its id, never a
// usable id), and typedstore.owner where the store knows it. A failed
// operation records its error on the span and sets the span's status to
// Error; a miss, a Create that found a session and a conflict are outcomes,
// not errors.
//
// # Metrics
//
//	typedstore.operation.duration  histogram, s: each operation's time, by
//	                               typedstore.operation and
//	                               typedstore.outcome; its count is the
//	                               number of operations
//	typedstore.session.size        histogram, By: the encoded size of each
//	                               session loaded, created or saved
//	typedstore.session.events      counter: the store's events, by
//	                               typedstore.event (created, loaded, saved,
//	                               touched, deleted, evicted, revoked,
//	                               corrupt, conflict, expired) and, for
//	                               loaded, typedstore.hit; evicted, revoked
//	                               and deleted count sessions, every other
//	                               event (conflict: an Update that gave up)
//	                               counts one
//	typedstore.sessions.active     gauge: the sessions in Redis, from
//	                               [typedstore.Store.EstimateLen], which
//	                               never scans (see there for its accuracy)
//	httpsession.events             counter: the middleware's events, by
//	                               httpsession.event and, for loaded,
//	                               httpsession.hit, for ended,
//	                               httpsession.reason
//
// Expiries reach typedstore.session.events only from
// [typedstore.Store.WatchExpired], which is optional and best effort.
//
// # Cost
//
// A span and a histogram record per operation, and a counter add per
// event: BenchmarkOverhead in this module measures them beside a store
// with no hooks and one with no-op hooks.
package typedstoreotel
