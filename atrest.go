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

// unseal returns the plaintext of data, the stored value of id under key,
// read by op, and whether it was sealed under a key other than the first of
// Options.EncryptionKeys (or, under AcceptPlaintext, not sealed); without
// them, data itself. It fails with an error
// wrapping a *CorruptError for a value longer than MaxSize allows or one
// that does not open.
func (s *Store[T]) unseal(op, id, key string, data []byte) (plain []byte, old bool, err error) {
	limit := s.opts.MaxSize
	if s.sealer != nil {
		limit += atrest.Overhead
	}
	if len(data) > limit {
		return nil, false, opErr(op, &CorruptError{ID: id, Err: fmt.Errorf("%w: %d bytes stored, more than MaxSize %d", ErrTooLarge, len(data), s.opts.MaxSize)})
	}
	if s.sealer == nil {
		return data, false, nil
	}
	if s.opts.AcceptPlaintext && !atrest.IsSealed(data) {
		return data, true, nil
	}
	if plain, old, err = s.sealer.Open(key, data); err != nil {
		if errors.Is(err, atrest.ErrTooLarge) {
			err = fmt.Errorf("%w: the sealed value inflates to more than MaxSize %d", ErrTooLarge, s.opts.MaxSize)
		}
		return nil, false, opErr(op, &CorruptError{ID: id, Err: err})
	}
	return plain, old, nil
}
