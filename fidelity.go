package typedstore

import (
	"reflect"

	"github.com/typedstore/typedstore/internal/jsonfields"
)

// Extra keeps the members of a stored session that the session's type does
// not declare, such as the fields an Express app sharing the session keeps
// in it, so that a [Store.Get] followed by a [Store.Set] writes them back
// unchanged. Embed it in the session type (it has no JSON members of its
// own):
//
//	type Session struct {
//		typedstore.Cookie `json:"cookie"`
//		typedstore.Extra
//		UserID int64 `json:"userId"`
//	}
//
// Without it, the store still keeps those members on the writes that read
// the stored session first: [Store.Update], and the saves of package
// httpsession. Only the top level of the session is kept this way: an
// unknown member inside a member the type declares is lost. Extra applies
// with the JSON codec only, to a struct type that does not decode itself
// (implement json.Unmarshaler).
type Extra struct {
	members []byte // `"name":value,…` as stored
}

// Len returns the number of bytes of members kept.
func (e Extra) Len() int { return len(e.members) }

// SessionExtra returns e itself. Through it, a session type that embeds
// Extra implements [ExtraCarrier].
func (e *Extra) SessionExtra() *Extra { return e }

// ExtraCarrier is implemented by a pointer to any type that embeds [Extra].
type ExtraCarrier interface {
	SessionExtra() *Extra
}

// fidelityOf returns the names that T declares, when the store keeps the
// members it does not (the JSON codec, a struct T that does not decode
// itself), and whether *T carries them in an Extra.
func fidelityOf[T any](codec Codec[T]) (*jsonfields.Set, bool) {
	if _, ok := codec.(JSONCodec[T]); !ok {
		return nil, false
	}
	fields := jsonfields.Of(reflect.TypeFor[T]())
	var zero T
	_, carrier := any(&zero).(ExtraCarrier)
	return fields, carrier && fields != nil
}
