package typedstore

import (
	"errors"
	"fmt"

	"github.com/typedstore/typedstore/internal/atrest"
)

// EncryptionKeySize is the size, in bytes, of each of
// [Options.EncryptionKeys].
const EncryptionKeySize = atrest.KeySize

// MinIDHashKeySize is the shortest [Options.IDHashKey], in bytes.
const MinIDHashKeySize = atrest.MinHashKeySize

// checkAtRest validates the options of sessions at rest.
func checkAtRest(keys [][]byte, compressAbove int, idHashKey []byte) error {
	if keys != nil && len(keys) == 0 {
		return errors.New("EncryptionKeys is empty: give at least one key, or nil to store values unsealed")
	}
	seen := map[[4]byte]int{}
	for i, k := range keys {
		if len(k) != EncryptionKeySize {
			return fmt.Errorf("EncryptionKeys[%d] is %d bytes long; an AES-256 key is %d", i, len(k), EncryptionKeySize)
		}
		id := atrest.KeyID(k)
		if j, ok := seen[id]; ok {
			return fmt.Errorf("EncryptionKeys[%d] is EncryptionKeys[%d] again", i, j)
		}
		seen[id] = i
	}
	switch {
	case compressAbove < 0:
		return fmt.Errorf("negative CompressAbove %d", compressAbove)
	case compressAbove > 0 && len(keys) == 0:
		return errors.New("CompressAbove needs EncryptionKeys: a compressed value is marked as such in the sealed value's header")
	case idHashKey != nil && len(idHashKey) < MinIDHashKeySize:
		return fmt.Errorf("IDHashKey is %d bytes long; use at least %d random bytes", len(idHashKey), MinIDHashKeySize)
	}
	return nil
}

// sealState says how a stored value was sealed.
type sealState int

const (
	sealedFirst sealState = iota // under the first of EncryptionKeys, or stored without them by a store without them
	sealedOld                    // under another of EncryptionKeys: Migrate reseals it
	inClear                      // not sealed, and read under AcceptPlaintext: any read reseals it
)

// unseal returns the plaintext of data, the stored value of id under key,
// read by op, and how it was sealed; without Options.EncryptionKeys, data
// itself. It fails with an error wrapping a *CorruptError for a value
// longer than MaxSize allows, or one that does not open (wrapping
// ErrUnauthenticated too).
func (s *Store[T]) unseal(op, id, key string, data []byte) ([]byte, sealState, error) {
	corrupt := func(err error) error { return opErr(op, &CorruptError{ID: id, Err: err}) }
	sealed := s.sealer != nil && atrest.IsSealed(data)
	limit := s.opts.MaxSize
	if sealed {
		limit += atrest.Overhead
	}
	if len(data) > limit {
		var err error = fmt.Errorf("%w: %d bytes stored, more than MaxSize %d", ErrTooLarge, len(data), s.opts.MaxSize)
		if s.sealer != nil {
			err = unauthenticated{err} // not opened: anyone's bytes
		}
		return nil, sealedFirst, corrupt(err)
	}
	switch {
	case s.sealer == nil:
		return data, sealedFirst, nil
	case !sealed && s.opts.AcceptPlaintext:
		return data, inClear, nil
	}
	plain, old, err := s.sealer.Open(key, data)
	switch {
	case errors.Is(err, atrest.ErrTooLarge):
		return nil, sealedFirst, corrupt(fmt.Errorf("%w: the sealed value inflates to more than MaxSize %d", ErrTooLarge, s.opts.MaxSize))
	case err != nil:
		return nil, sealedFirst, corrupt(unauthenticated{err})
	case old:
		return plain, sealedOld, nil
	}
	return plain, sealedFirst, nil
}

// unauthenticated is the error of a value that does not open under
// EncryptionKeys: err says why, and errors.Is reports ErrUnauthenticated.
type unauthenticated struct{ err error }

func (e unauthenticated) Error() string        { return e.err.Error() }
func (e unauthenticated) Unwrap() error        { return e.err }
func (e unauthenticated) Is(target error) bool { return target == ErrUnauthenticated }
