package httpsession

import (
	"context"

	"github.com/typedstore/typedstore/internal/redact"
)

// EventKind is what happened to a request's session, as
// [Options.OnEvent] hears of it.
type EventKind uint8

// The events of a session's life over HTTP. Each is reported once, by the
// request in which it happened, after the store has answered for it. (The
// store's own hooks, [typedstore.Hooks], report the commands behind them.)
const (
	// EventLoaded: the request's cookie named a session, and the
	// middleware looked it up: Hit says whether it was there (and loaded,
	// followed to its renewed id if need be). A request without a valid
	// cookie loads nothing and reports nothing.
	EventLoaded EventKind = iota + 1
	// EventCreated: a new session was stored for the first time, so a
	// visitor has a session (saved when the response went out, or by
	// Session.Save, or after Regenerate).
	EventCreated
	// EventSaved: a stored session was written again: it changed, or
	// Resave or a moved expiry asked for it, or Session.Update.
	EventSaved
	// EventTouched: an unchanged session's expiry was reset, by the touch
	// at the end of the request or by the GETEX that loaded it.
	EventTouched
	// EventRegenerated: Session.Regenerate moved the session to a new id
	// (a login); the new id's first save follows as EventCreated.
	EventRegenerated
	// EventRenewed: Options.RenewAfter gave the session a new id.
	EventRenewed
	// EventDestroyed: Session.Destroy deleted the stored session (a
	// logout); none when it was no longer there.
	EventDestroyed
	// EventRevoked: Session.DestroyOthers deleted Count other sessions of
	// the session's owner (never 0).
	EventRevoked
	// EventCorrupt: the stored session could not be decoded; Err says why
	// and Options.OnCorrupt what came of it.
	EventCorrupt
	// EventEnded: the request's cookie named a session that ended by the
	// lifetime policy: Reason is ExpiredIdle or ExpiredLifetime (see
	// Session.Expired).
	EventEnded
	// EventLost: a save or an update found that the session had left the
	// store during the request (destroyed by another request, or expired),
	// and wrote nothing (ErrGone).
	EventLost
)

var eventNames = [...]string{
	EventLoaded:      "loaded",
	EventCreated:     "created",
	EventSaved:       "saved",
	EventTouched:     "touched",
	EventRegenerated: "regenerated",
	EventRenewed:     "renewed",
	EventDestroyed:   "destroyed",
	EventRevoked:     "revoked",
	EventCorrupt:     "corrupt",
	EventEnded:       "ended",
	EventLost:        "lost",
}

// String returns the event's name ("created").
func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "unknown"
}

// Event is one event in the life of a request's session, as
// [Options.OnEvent] receives it.
type Event struct {
	Kind EventKind
	// Session is a hint of the session's id, as the middleware's log
	// lines give it (at most its first six characters, quoted, then "…"):
	// enough to tell sessions apart, never a usable id. After Regenerate
	// and a renewal it is the hint of the new id.
	Session string
	// Hit says, for EventLoaded, whether the session was there.
	Hit bool
	// Reason is why the session ended, for EventEnded.
	Reason ExpiryReason
	// Count is the number of sessions of EventRevoked; 1 otherwise.
	Count int
	// Err is why the stored session is corrupt, for EventCorrupt (the
	// codec's error, without the id); nil otherwise.
	Err error
}

// emit reports e, about session id, to Options.OnEvent.
func (m *Manager[T]) emit(ctx context.Context, id string, e Event) {
	if m.opts.OnEvent == nil {
		return
	}
	if id != "" {
		e.Session = redact.ID(id)
	}
	if e.Count == 0 {
		e.Count = 1
	}
	m.opts.OnEvent(ctx, e)
}
