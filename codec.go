package typedstore

import "github.com/goccy/go-json"

// Codec encodes session values to the bytes stored in Redis and decodes them
// back. Implementations must be safe for concurrent use. Decode must return
// an error, not panic, for bytes it cannot read: the store reports that error
// as a [*CorruptError].
type Codec[T any] interface {
	Encode(v T) ([]byte, error)
	Decode(data []byte, v *T) error
}

// JSONCodec is the default [Codec]: JSON through github.com/goccy/go-json,
// which reads and writes the same documents as encoding/json, faster. It is
// what connect-redis stores by default, so sessions of a type whose JSON
// matches express-session's can be shared with a Node app. The zero value is
// ready to use.
type JSONCodec[T any] struct{}

// Encode returns the JSON encoding of v.
func (JSONCodec[T]) Encode(v T) ([]byte, error) { return json.Marshal(v) }

// Decode parses the JSON in data into v.
func (JSONCodec[T]) Decode(data []byte, v *T) error { return json.Unmarshal(data, v) }
