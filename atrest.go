package typedstore

import (
	"bytes"
	"compress/flate"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/typedstore/typedstore/internal/xaes"
)

// EncryptionKeySize is the size, in bytes, of each of
// [Options.EncryptionKeys].
const EncryptionKeySize = xaes.KeySize

// MinIDHashKeySize is the shortest [Options.IDHashKey], in bytes.
const MinIDHashKeySize = 32

// A sealed value is sealHeader bytes (the format, the flags, the id of the
// key), the nonce, the ciphertext and the tag. The header and the session's
// Redis key are its associated data.
const (
	sealFormat     = 0xA5 // the first byte of a sealed value: no JSON document begins so
	sealCompressed = 1    // the flag of a value deflated before it was sealed
	sealHeader     = 1 + 1 + 4
	sealOverhead   = sealHeader + xaes.NonceSize + xaes.Overhead
)

// errNotSealed and the others below are the causes of a *CorruptError for
// a value that a store with EncryptionKeys cannot open. None of them says
// anything of the value's content.
var (
	errNotSealed = errors.New("the value is not sealed: it was stored without encryption, or by another program")
	errSealAuth  = errors.New("the sealed value does not authenticate: it was altered, or moved from another session's key")
)

// sealer seals and opens stored values under Options.EncryptionKeys, after
// deflating those longer than Options.CompressAbove.
type sealer struct {
	keys []sealKey // the first seals; all open
	// compressAbove is Options.CompressAbove; 0: never.
	compressAbove int
	// maxSize is Options.MaxSize, which also bounds a value inflated.
	maxSize int
}

// sealKey is one of Options.EncryptionKeys.
type sealKey struct {
	id   [4]byte // the first bytes of SHA-256 of the key: it names the key, and reveals nothing of it
	aead *xaes.AEAD
}

// newSealer returns the sealer of opts, or nil when opts has no
// EncryptionKeys. opts has been validated.
func newSealer(keys [][]byte, compressAbove, maxSize int) *sealer {
	if len(keys) == 0 {
		return nil
	}
	s := &sealer{compressAbove: compressAbove, maxSize: maxSize}
	for _, k := range keys {
		aead, err := xaes.New(k)
		if err != nil {
			panic("typedstore: " + err.Error()) // validate checked the size
		}
		s.keys = append(s.keys, sealKey{id: keyID(k), aead: aead})
	}
	return s
}

// keyID returns the id under which a value sealed with key records it.
func keyID(key []byte) [4]byte {
	sum := sha256.Sum256(append([]byte("typedstore encryption key id\x00"), key...))
	return [4]byte(sum[:4])
}

// checkAtRest validates the options of sessions at rest.
func checkAtRest(keys [][]byte, compressAbove int, idHashKey []byte) error {
	seen := map[[4]byte]int{}
	for i, k := range keys {
		if len(k) != EncryptionKeySize {
			return fmt.Errorf("EncryptionKeys[%d] is %d bytes long; an AES-256 key is %d", i, len(k), EncryptionKeySize)
		}
		id := keyID(k)
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

// seal returns plain sealed under the first key for the session stored
// under key.
func (s *sealer) seal(key string, plain []byte) []byte {
	var flags byte
	if s.compressAbove > 0 && len(plain) > s.compressAbove {
		if small := deflate(plain); len(small) < len(plain) {
			plain, flags = small, sealCompressed
		}
	}
	k := &s.keys[0]
	out := make([]byte, sealHeader+xaes.NonceSize, sealOverhead+len(plain))
	out[0], out[1] = sealFormat, flags
	copy(out[2:sealHeader], k.id[:])
	nonce := out[sealHeader : sealHeader+xaes.NonceSize]
	_, _ = rand.Read(nonce) // never fails (crypto/rand)
	return k.aead.Seal(out, nonce, plain, associated(out[:sealHeader], key))
}

// open returns the plaintext of data, the sealed value stored under key,
// and whether it was sealed under a key other than the first.
func (s *sealer) open(key string, data []byte) (plain []byte, old bool, err error) {
	if len(data) < sealOverhead || data[0] != sealFormat {
		return nil, false, errNotSealed
	}
	if flags := data[1]; flags&^sealCompressed != 0 {
		return nil, false, fmt.Errorf("the sealed value has flags %#x, which this version does not know", flags)
	}
	id := [4]byte(data[2:sealHeader])
	i := 0
	for i < len(s.keys) && s.keys[i].id != id {
		i++
	}
	if i == len(s.keys) {
		return nil, false, fmt.Errorf("the value is sealed under a key the store does not have (key id %x)", id)
	}
	nonce := data[sealHeader : sealHeader+xaes.NonceSize]
	plain, err = s.keys[i].aead.Open(nil, nonce, data[sealHeader+xaes.NonceSize:], associated(data[:sealHeader], key))
	if err != nil {
		return nil, false, errSealAuth
	}
	if data[1]&sealCompressed != 0 {
		if plain, err = inflate(plain, s.maxSize); err != nil {
			return nil, false, err
		}
	}
	return plain, i > 0, nil
}

// associated returns the associated data of a value with header, stored
// under key: the value cannot be moved to another key, nor its header
// changed.
func associated(header []byte, key string) []byte {
	ad := make([]byte, 0, len(header)+len(key))
	return append(append(ad, header...), key...)
}

// writers are flate writers at BestSpeed, reused: one costs hundreds of
// kilobytes to make.
var writers = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

// deflate returns data compressed.
func deflate(data []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(data) / 2)
	w := writers.Get().(*flate.Writer)
	w.Reset(&buf)
	_, _ = w.Write(data) // a bytes.Buffer does not fail
	_ = w.Close()
	writers.Put(w)
	return buf.Bytes()
}

// readers are flate readers, reused.
var readers sync.Pool

// inflate returns data decompressed, or an error when it is not deflated
// data or inflates to more than max bytes.
func inflate(data []byte, max int) ([]byte, error) {
	src := bytes.NewReader(data)
	r, _ := readers.Get().(io.ReadCloser)
	if r == nil {
		r = flate.NewReader(src)
	} else {
		_ = r.(flate.Resetter).Reset(src, nil)
	}
	defer readers.Put(r)
	var out bytes.Buffer
	out.Grow(2 * len(data))
	n, err := out.ReadFrom(io.LimitReader(r, int64(max)+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("the sealed value does not inflate: %w", err)
	case n > int64(max):
		return nil, fmt.Errorf("%w: the sealed value inflates to more than MaxSize %d", ErrTooLarge, max)
	}
	return out.Bytes(), nil
}

// idHasher turns session ids into the names their keys are made of, under
// Options.IDHashKey: base64url of HMAC-SHA-256.
type idHasher struct {
	macs sync.Pool // of hash.Hash, keyed
	// renewed seals the ids that the keys of renewed ids forward to, which
	// would otherwise stand in clear beside the hashes.
	renewed *xaes.AEAD
}

func newIDHasher(key []byte) *idHasher {
	if key == nil {
		return nil
	}
	key = bytes.Clone(key)
	h := &idHasher{}
	h.macs.New = func() any { return hmac.New(sha256.New, key) }
	derived := hmac.New(sha256.New, key)
	derived.Write([]byte("typedstore renewed ids"))
	h.renewed, _ = xaes.New(derived.Sum(nil))
	return h
}

// name returns the name of id's key.
func (h *idHasher) name(id string) string {
	mac := h.macs.Get().(hash.Hash)
	mac.Reset()
	_, _ = io.WriteString(mac, id)
	var sum [sha256.Size]byte
	name := base64.RawURLEncoding.EncodeToString(mac.Sum(sum[:0]))
	h.macs.Put(mac)
	return name
}

// sealID seals id, stored under key.
func (h *idHasher) sealID(key, id string) []byte {
	out := make([]byte, xaes.NonceSize, xaes.NonceSize+len(id)+xaes.Overhead)
	_, _ = rand.Read(out)
	return h.renewed.Seal(out, out, []byte(id), []byte(key))
}

// openID returns the id sealed in data, stored under key, or "" if data
// is not one.
func (h *idHasher) openID(key string, data []byte) string {
	if len(data) < xaes.NonceSize+xaes.Overhead {
		return ""
	}
	id, err := h.renewed.Open(nil, data[:xaes.NonceSize], data[xaes.NonceSize:], []byte(key))
	if err != nil {
		return ""
	}
	return string(id)
}
