package typedstore

import "time"

// Lifetime records when a session began and when its current id was issued,
// for lifetime policies such as those of package httpsession (an absolute
// lifetime, periodic renewal of the id). Embed it in the session type beside
// [Cookie], under a JSON name of its own:
//
//	type Session struct {
//		typedstore.Cookie   `json:"cookie"`
//		typedstore.Lifetime `json:"lifetime"`
//		UserID int64        `json:"userId"`
//	}
//
// It is stored at the top level of the session, where express-session keeps
// every field it does not know, so it survives an Express app's save of the
// session, as the cookie's own fields could not: express-session rewrites
// the stored cookie with only the fields it knows. Times are Unix
// milliseconds, as express-session writes numbers; zero means unknown.
type Lifetime struct {
	// StartedAt is when the session began: when it was created, or when
	// the user logged in to it (httpsession's Regenerate).
	StartedAt int64 `json:"startedAt,omitempty"`
	// IssuedAt is when the session's current id was issued: when the
	// session began, or when its id was last renewed.
	IssuedAt int64 `json:"issuedAt,omitempty"`
}

// Started returns StartedAt as a time, or the zero time when it is unknown.
func (l Lifetime) Started() time.Time { return unixMilli(l.StartedAt) }

// Issued returns IssuedAt as a time, or the zero time when it is unknown.
func (l Lifetime) Issued() time.Time { return unixMilli(l.IssuedAt) }

// SessionLifetime returns l itself. Through it, a session type that embeds
// Lifetime implements [LifetimeCarrier].
func (l *Lifetime) SessionLifetime() *Lifetime { return l }

// LifetimeCarrier is implemented by a pointer to any type that embeds
// [Lifetime].
type LifetimeCarrier interface {
	SessionLifetime() *Lifetime
}

func unixMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// isLifetimeCarrier reports whether *T implements LifetimeCarrier.
func isLifetimeCarrier[T any]() bool {
	var zero T
	_, ok := any(&zero).(LifetimeCarrier)
	return ok
}
