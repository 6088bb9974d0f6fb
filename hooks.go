package typedstore

import (
	"context"
	"errors"
	"time"

	"github.com/typedstore/typedstore/internal/redact"
)

// Hooks observe a store: each operation as it begins and ends, for a
// tracer or a latency histogram, and each event in the life of a session
// (created, loaded, saved, touched, deleted, evicted, revoked, corrupt, a
// conflict, an expiry), for counters and audit logs. Module
// github.com/typedstore/typedstore/extra/typedstoreotel turns them into
// OpenTelemetry spans and metrics. Every hook is optional.
//
// Hooks run synchronously, in the goroutine of the call they observe, so
// they add their own cost to it: keep them fast, and never block in one. A
// store with no hook set does no work for them and allocates nothing for
// them (BenchmarkHooks shows it).
//
// The order is fixed: Start as the operation begins, before it sends
// anything to Redis; then Event, once for each event, after Redis has
// answered for the change it reports; then End, once, as the operation
// returns. An iterator ([Store.IDs], [Store.All], [Store.OwnedBy]) is one
// operation for each range over it: Start as the range begins, End as it
// ends, however it ends. Operations that other operations call internally
// (CountOwned ranges over OwnedBy) are not reported twice: each exported
// method is one operation. When a function of the caller's panics (the
// body of a range loop, the fn of [Store.Update], the Progress of
// [Store.Migrate]), End is still called, as the panic goes up, with an
// Err that says so.
//
// A hook that panics is not recovered: the panic goes up through the
// store's method to its caller, as a panic in a function passed to
// [Store.Update] does ([Store.WatchExpired] carries a panic of Event over
// to its own caller). What the operation did in Redis before the panic
// stands (an Event reports a change that is already made), what it had
// still to do is not done (a write's evictions under MaxPerOwner, which
// come after the write's Event), and the store stays usable.
//
// No hook is ever handed a whole session id, which is a credential: an
// [Event] names its session by a hint (its first few characters), and
// Start and End receive none.
type Hooks struct {
	// Start, when set, is called as each operation begins, with the
	// caller's context. The context it returns becomes the operation's: the
	// operation's Redis commands run under it, and End and Event receive
	// it, so a tracer can start a span here (of which go-redis's own
	// tracing then makes the commands children). It must return a context
	// derived from ctx, or ctx itself.
	Start func(ctx context.Context, op Op) context.Context

	// End, when set, is called once as each operation returns, with what
	// it did.
	End func(ctx context.Context, op Op, r Result)

	// Event, when set, is called once for each event in the life of a
	// session (see [EventKind]), during the operation that caused it.
	Event func(ctx context.Context, e Event)
}

// set reports whether any hook is set.
func (h *Hooks) set() bool { return h.Start != nil || h.End != nil || h.Event != nil }

// Op is a store operation, as [Hooks] report it: one for each exported
// method that talks to Redis. (GetAndExtend is OpGetAndExtend even where it
// sends a plain GET.)
type Op uint8

// The operations, one per method of [Store].
const (
	OpGet Op = iota + 1
	OpGetAndExtend
	OpSet
	OpCreate
	OpReplace
	OpTouch
	OpDelete
	OpUpdate
	OpIDs
	OpAll
	OpLen
	OpEstimateLen
	OpClear
	OpOwnedBy
	OpCountOwned
	OpDeleteOwned
	OpMigrate
)

var opNames = [...]string{
	OpGet:          "get",
	OpGetAndExtend: "get_and_extend",
	OpSet:          "set",
	OpCreate:       "create",
	OpReplace:      "replace",
	OpTouch:        "touch",
	OpDelete:       "delete",
	OpUpdate:       "update",
	OpIDs:          "ids",
	OpAll:          "all",
	OpLen:          "len",
	OpEstimateLen:  "estimate_len",
	OpClear:        "clear",
	OpOwnedBy:      "owned_by",
	OpCountOwned:   "count_owned",
	OpDeleteOwned:  "delete_owned",
	OpMigrate:      "migrate",
}

// String returns the operation's name in snake case ("get_and_extend"), a
// name fit for a span or a metric attribute.
func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return "unknown"
}

// Result is what an operation did, as [Hooks.End] receives it.
type Result struct {
	// Err is the error the operation returned, or nil. A load of a session
	// that is not there (a miss) has an Err wrapping ErrNotFound. An error
	// that carries a *CorruptError, whose ID is a whole session id, is
	// handed over as an error with the same message that wraps the same
	// sentinel errors (ErrCorrupt, and any of ErrNotFound, ErrConflict,
	// ErrTooLarge and the context's errors), without the *CorruptError.
	Err error
	// Duration is the time from Start to End.
	Duration time.Duration
	// Bytes is the size of the encoded session that an operation on one
	// session wrote, or, when it wrote nothing (a load, an Update that
	// deleted, gave up or whose fn failed), read; 0 for others, and when
	// nothing was read or written.
	Bytes int
	// Sessions is the number of sessions an operation on many yielded,
	// counted or deleted: IDs, All, OwnedBy and Migrate (read), Len,
	// EstimateLen and CountOwned (counted), Delete, Clear and DeleteOwned
	// (deleted).
	Sessions int
	// Attempts is the number of attempts Update began, each a read and,
	// unless it failed first, a compare-and-set; 0 for other operations.
	Attempts int
}

// EventKind is what happened to a session.
type EventKind uint8

// The events of a session's life. Each is reported once, by the operation
// that caused it, after Redis has answered.
const (
	// EventCreated: Create stored a new session.
	EventCreated EventKind = iota + 1
	// EventLoaded: Get or GetAndExtend looked a session up: Hit says
	// whether it was there. A load that fails (a Redis error, a corrupt
	// value) reports no EventLoaded.
	EventLoaded
	// EventSaved: Set, Replace or Update wrote a session.
	EventSaved
	// EventTouched: Touch extended a session that was there (or, under
	// Options.TouchSlack, found it with enough time left).
	EventTouched
	// EventDeleted: Delete, Clear or a write with a time to live of zero
	// or less deleted Count sessions (never 0).
	EventDeleted
	// EventEvicted: a write for Owner deleted Count of their other sessions
	// to keep them within Options.MaxPerOwner.
	EventEvicted
	// EventRevoked: DeleteOwned deleted Count sessions of Owner (never 0).
	EventRevoked
	// EventCorrupt: a read met a stored value that cannot be decoded, or
	// is not a string; Err says why (the codec's error, without the id).
	// Options.OnDecodeError decides what comes of it afterwards.
	EventCorrupt
	// EventConflict: Update gave up after Count attempts, each of which
	// met a concurrent change (ErrConflict).
	EventConflict
	// EventExpired: Redis expired a session (Store.WatchExpired; best
	// effort: see there).
	EventExpired
)

var eventNames = [...]string{
	EventCreated:  "created",
	EventLoaded:   "loaded",
	EventSaved:    "saved",
	EventTouched:  "touched",
	EventDeleted:  "deleted",
	EventEvicted:  "evicted",
	EventRevoked:  "revoked",
	EventCorrupt:  "corrupt",
	EventConflict: "conflict",
	EventExpired:  "expired",
}

// String returns the event's name ("created").
func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "unknown"
}

// Event is one event in the life of a session, as [Hooks.Event] receives
// it.
type Event struct {
	Kind EventKind
	// Op is the operation in which it happened; 0 for EventExpired.
	Op Op
	// Session is a hint of the session's id, as the store's error messages
	// give it (at most its first six characters, quoted, then "…"): enough
	// to tell sessions apart in a log, never a usable id. It is empty for
	// an event about several sessions.
	Session string
	// Owner is the owner of the session or sessions (Options.Owner), where
	// the store knows it: EventCreated and EventSaved of an owned session,
	// EventEvicted, EventRevoked. It is an account's id, not a credential;
	// treat it as the personal data it may be.
	Owner string
	// Hit says, for EventLoaded, whether the session was there.
	Hit bool
	// Bytes is the size of the encoded session loaded, created or saved.
	Bytes int
	// Count is the number of sessions of EventDeleted, EventEvicted and
	// EventRevoked, and the attempts of EventConflict; 1 otherwise.
	Count int
	// Err is why a value is corrupt, for EventCorrupt; nil otherwise.
	Err error
}

// probe follows one operation for the store's hooks; its zero value, for a
// store without hooks, does nothing.
type probe struct {
	h     *Hooks
	op    Op
	start time.Time
}

// observe starts operation op: it calls Hooks.Start and returns the
// context the operation runs under.
func (s *Store[T]) observe(ctx context.Context, op Op) (context.Context, probe) {
	h := s.hooks
	if h == nil {
		return ctx, probe{}
	}
	if h.Start != nil {
		ctx = h.Start(ctx, op)
	}
	p := probe{h: h, op: op}
	if h.End != nil {
		p.start = time.Now()
	}
	return ctx, p
}

// errPanicked is the error that End reports for an operation that a panic
// in a function of the caller's (the body of a range loop, Update's fn)
// ended.
var errPanicked = errors.New("typedstore: ended by a panic in the caller's function")

// unwind, deferred, reports to Hooks.End the end of an operation that a
// panic ended before it reported its end itself (*ended is false).
func (p probe) unwind(ctx context.Context, ended *bool, r *Result) {
	if *ended || p.h == nil || p.h.End == nil {
		return
	}
	res := *r
	res.Err = errPanicked
	p.end(ctx, res)
}

// end reports the end of the operation to Hooks.End.
func (p probe) end(ctx context.Context, r Result) {
	if p.h == nil || p.h.End == nil {
		return
	}
	r.Duration = time.Since(p.start)
	r.Err = withoutIDs(r.Err)
	p.h.End(ctx, p.op, r)
}

// withoutIDs returns err as Hooks.End may see it: unchanged, unless it
// carries a *CorruptError, whose ID is a session id.
func withoutIDs(err error) error {
	if err == nil || !errors.Is(err, ErrCorrupt) {
		return err // no allocation on the way to End
	}
	var ce *CorruptError
	if !errors.As(err, &ce) {
		return err
	}
	h := &hookError{msg: err.Error()}
	for _, sentinel := range []error{ErrCorrupt, ErrUnauthenticated, ErrNotFound, ErrConflict, ErrTooLarge, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, sentinel) {
			h.errs = append(h.errs, sentinel)
		}
	}
	return h
}

// hookError is an operation's error without the ids it carried.
type hookError struct {
	msg  string
	errs []error
}

func (e *hookError) Error() string   { return e.msg }
func (e *hookError) Unwrap() []error { return e.errs }

// event reports e, about the session id ("" for several), to Hooks.Event.
func (p probe) event(ctx context.Context, id string, e Event) {
	if p.h == nil || p.h.Event == nil {
		return
	}
	e.Op = p.op
	if id != "" {
		e.Session = redact.ID(id)
	}
	if e.Count == 0 {
		e.Count = 1
	}
	p.h.Event(ctx, e)
}

// corrupt reports err, an error wrapping a *CorruptError, as EventCorrupt.
func (p probe) corrupt(ctx context.Context, err error) {
	if p.h == nil || p.h.Event == nil {
		return
	}
	var ce *CorruptError
	if errors.As(err, &ce) {
		p.event(ctx, ce.ID, Event{Kind: EventCorrupt, Err: ce.Err})
	}
}
