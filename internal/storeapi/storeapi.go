// Package storeapi lends package httpsession the parts of a
// typedstore.Store that are plumbing rather than API: how the store would
// encode a value and what time to live it would give it, its settings, and
// a delete that reports whether the session was there, and the records of
// renewed ids.
//
// Package typedstore registers [Of] when it is initialised; httpsession
// calls [For] once per Manager.
package storeapi

import (
	"context"
	"time"
)

// Funcs are a store's internals for values of type T.
type Funcs[T any] struct {
	// TTL returns the time to live that a write of v would give it now;
	// zero or less means that the write would delete the session. It
	// ignores DisableTTL.
	TTL func(v T) time.Duration
	// Encode encodes v with the store's codec.
	Encode func(v T) ([]byte, error)
	// Unlink deletes the session stored under id and reports whether there
	// was one.
	Unlink func(ctx context.Context, id string) (bool, error)
	// Owner is the store's Options.Owner, or nil.
	Owner func(v T) string
	// Load returns the session stored under id, extending it to ttl in the
	// same command when ttl > 0, and the stored members that T does not
	// declare (nil when none, or when T keeps them itself).
	Load func(ctx context.Context, id string, ttl time.Duration) (T, []byte, error)
	// Write writes v under id as w says.
	Write func(ctx context.Context, id string, v T, w Write) error
	// Forward records for ttl that the session under the renewed id from
	// lives under to now, unless another renewal of from got there first;
	// it returns the id that from forwards to.
	Forward func(ctx context.Context, from, to string, ttl time.Duration) (string, error)
	// Forwarded returns the id that the renewed id from forwards to, or "".
	Forwarded func(ctx context.Context, from string) (string, error)
	// ForwardErr is the error that keeps the store from keeping renewed
	// ids (its prefixes overlap those keys), or nil.
	ForwardErr error
	// CookieTagErr is the error that typedstore.New gives for a T that
	// embeds typedstore.Cookie under a JSON name other than "cookie", or
	// nil.
	CookieTagErr error
	Settings
}

// Settings are the options of a store that decide its expiries.
type Settings struct {
	TTL          time.Duration // Options.TTL after defaults
	TTLFunc      bool          // Options.TTLFunc is set
	Expirer      bool          // T or *T implements typedstore.Expirer
	Lifetime     bool          // *T implements typedstore.LifetimeCarrier
	DisableTTL   bool
	DisableTouch bool
}

// Of returns the Funcs[T] of a *typedstore.Store[T], as an any. Package
// typedstore sets it.
var Of func(store any) any

// For returns the Funcs of store, a *typedstore.Store[T].
func For[T any](store any) Funcs[T] { return Of(store).(Funcs[T]) }

// Write says how Funcs.Write writes.
type Write struct {
	Cond     string // "NX": create; "XX": replace
	Replaces string // the session that a create renews under a new id
	Unknown  []byte // the stored members that T does not declare, from Load
}
