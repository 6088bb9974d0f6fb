package typedstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/typedstore/typedstore/internal/redact"
)

var (
	// ErrNotFound occurs when a session does not exist: it was never written,
	// it has been deleted, or it has expired. [Store.Get], [Store.Touch],
	// [Store.Update] and [Store.Replace] report it.
	ErrNotFound = errors.New("typedstore: session not found")

	// ErrCorrupt occurs when a stored value cannot be decoded by the store's
	// codec, is larger than Options.MaxSize, or is not a string. Errors that
	// wrap it are *CorruptError values carrying the id.
	ErrCorrupt = errors.New("typedstore: corrupt session")

	// ErrUnauthenticated occurs when a stored value does not open under
	// Options.EncryptionKeys: it is not sealed (stored without encryption,
	// or shorter than a sealed value can be), it is sealed under a key the
	// store does not have, or it does not authenticate (altered, cut short,
	// or moved from another session's key). Errors that wrap it are
	// *CorruptError values; the stored bytes of such a value are anyone's
	// who can write to Redis.
	ErrUnauthenticated = errors.New("typedstore: stored value not authenticated")

	// ErrInvalidID occurs when a session id is empty or longer than
	// MaxIDLen. Nothing is sent to Redis.
	ErrInvalidID = errors.New("typedstore: invalid session id")

	// ErrTooLarge occurs when an encoded session is larger than
	// Options.MaxSize: on a write, nothing is written; on a read, it is
	// wrapped in a *CorruptError.
	ErrTooLarge = errors.New("typedstore: session too large")

	// ErrExists occurs when [Store.Create] finds its id already in use.
	// Nothing is written.
	ErrExists = errors.New("typedstore: session id already in use")

	// ErrConflict occurs when [Store.Update] finds the session changed by
	// someone else on every one of its attempts. Nothing is written.
	ErrConflict = errors.New("typedstore: session changed concurrently")

	// ErrInvalidOwner occurs when [Options.Owner] returns an owner longer
	// than MaxOwnerLen (the write fails before anything is sent), and when
	// [Store.OwnedBy], [Store.CountOwned] or [Store.DeleteOwned] are given
	// an empty owner or one longer than MaxOwnerLen.
	ErrInvalidOwner = errors.New("typedstore: invalid owner")

	// ErrNoOwnerIndex occurs when [Store.OwnedBy], [Store.CountOwned] or
	// [Store.DeleteOwned] are called on a store without [Options.Owner],
	// which therefore keeps no index of its sessions' owners.
	ErrNoOwnerIndex = errors.New("typedstore: the store keeps no owner index (Options.Owner is nil)")
)

// CorruptError reports a stored session that the codec could not decode.
// errors.Is(err, ErrCorrupt) reports true for it. The stored bytes are left
// as they are: the store overwrites or deletes a value it cannot read only
// when [Options.OnDecodeError] says so (a GetAndExtend that finds one has
// already reset its time to live, in the same command that read it).
//
// Its message shows only a hint of the id, since an id is a credential; ID
// holds the whole of it.
type CorruptError struct {
	ID  string // the session id; under Options.IDHashKey, from an iteration or Migrate, its name
	Err error  // the codec's error, ErrTooLarge, or Redis's WRONGTYPE error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("typedstore: corrupt session %s: %v", redact.ID(e.ID), e.Err)
}

// Unwrap returns both ErrCorrupt and the codec's error.
func (e *CorruptError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

// opError is an error of one operation of the store. Its message is
// "typedstore: <op>: <the error's message>", without the error's own
// "typedstore: " prefix.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string {
	return "typedstore: " + e.op + ": " + strings.TrimPrefix(e.err.Error(), "typedstore: ")
}

func (e *opError) Unwrap() error { return e.err }

// opErr returns err as an error of op, or nil.
func opErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return &opError{op, err}
}

// The not-found errors of the reads, made once: a miss allocates nothing.
var notFound = map[string]error{}

func init() {
	for _, op := range []string{"get", "get and extend", "touch", "update", "replace"} {
		notFound[op] = &opError{op, ErrNotFound}
	}
}

// notFoundErr returns the error of op for a missing session.
func notFoundErr(op string) error {
	if err, ok := notFound[op]; ok {
		return err
	}
	return &opError{op, ErrNotFound}
}

// wrapErr returns a Redis error as an error of op. When the context is done
// it wraps the context's error too, whatever the client reported, so that
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
		return opErr(op, fmt.Errorf("%w (%w)", cerr, err))
	}
	return opErr(op, err)
}
