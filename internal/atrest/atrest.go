// Package atrest seals the values of typedstore's sessions and hashes their
// ids, for typedstore.Options.EncryptionKeys, CompressAbove and IDHashKey:
// the library and the command-line tool share it, so that both read what
// either writes.
package atrest

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

// KeySize is the size of an encryption key, in bytes.
const KeySize = xaes.KeySize

// MinHashKeySize is the shortest key of a Hasher, in bytes.
const MinHashKeySize = 32

// A sealed value is headerSize bytes (the format, the flags, the id of the
// key), the nonce, the ciphertext and the tag. The header and the session's
// Redis key are its associated data.
const (
	Format         = 0xA5 // the first byte of a sealed value: no JSON document begins so
	flagCompressed = 1    // the flag of a value deflated before it was sealed
	headerSize     = 1 + 1 + 4
	Overhead       = headerSize + xaes.NonceSize + xaes.Overhead
)

// The errors of Open that say why a value does not open; typedstore wraps
// them in a *CorruptError. None says anything of the value's content.
var (
	ErrNotSealed = errors.New("the value is not sealed: it was stored without encryption, or by another program")
	ErrAuth      = errors.New("the sealed value does not authenticate: it was altered, or moved from another session's key")
	ErrTooLarge  = errors.New("the sealed value inflates to more than MaxSize")
)

// Sealer seals and opens stored values under Options.EncryptionKeys, after
// deflating those longer than Options.CompressAbove. It is safe for
// concurrent use.
type Sealer struct {
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

// NewSealer returns the Sealer of keys, each KeySize bytes long, or nil
// when there are none. It panics on a key of another size.
func NewSealer(keys [][]byte, compressAbove, maxSize int) *Sealer {
	if len(keys) == 0 {
		return nil
	}
	s := &Sealer{compressAbove: compressAbove, maxSize: maxSize}
	for _, k := range keys {
		aead, err := xaes.New(k)
		if err != nil {
			panic("atrest: " + err.Error())
		}
		s.keys = append(s.keys, sealKey{id: KeyID(k), aead: aead})
	}
	return s
}

// KeyID returns the id under which a value sealed with key records it.
func KeyID(key []byte) [4]byte {
	sum := sha256.Sum256(append([]byte("typedstore encryption key id\x00"), key...))
	return [4]byte(sum[:4])
}

// Seal returns plain sealed under the first key for the session stored
// under key.
func (s *Sealer) Seal(key string, plain []byte) []byte {
	var flags byte
	if s.compressAbove > 0 && len(plain) > s.compressAbove {
		if small := deflate(plain); len(small) < len(plain) {
			plain, flags = small, flagCompressed
		}
	}
	k := &s.keys[0]
	out := make([]byte, headerSize+xaes.NonceSize, Overhead+len(plain))
	out[0], out[1] = Format, flags
	copy(out[2:headerSize], k.id[:])
	nonce := out[headerSize : headerSize+xaes.NonceSize]
	_, _ = rand.Read(nonce) // never fails (crypto/rand)
	return k.aead.Seal(out, nonce, plain, associated(out[:headerSize], key))
}

// IsSealed reports whether data begins as a sealed value does.
func IsSealed(data []byte) bool { return len(data) > 0 && data[0] == Format }

// Open returns the plaintext of data, the sealed value stored under key,
// and whether it was sealed under a key other than the first.
func (s *Sealer) Open(key string, data []byte) (plain []byte, old bool, err error) {
	if len(data) < Overhead || data[0] != Format {
		return nil, false, ErrNotSealed
	}
	if flags := data[1]; flags&^flagCompressed != 0 {
		return nil, false, fmt.Errorf("the sealed value has flags %#x, which this version does not know", flags)
	}
	id := [4]byte(data[2:headerSize])
	i := 0
	for i < len(s.keys) && s.keys[i].id != id {
		i++
	}
	if i == len(s.keys) {
		return nil, false, fmt.Errorf("the value is sealed under a key the store does not have (key id %x)", id)
	}
	nonce := data[headerSize : headerSize+xaes.NonceSize]
	plain, err = s.keys[i].aead.Open(nil, nonce, data[headerSize+xaes.NonceSize:], associated(data[:headerSize], key))
	if err != nil {
		return nil, false, ErrAuth
	}
	if data[1]&flagCompressed != 0 {
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
		return nil, ErrTooLarge
	}
	return out.Bytes(), nil
}

// Hasher turns session ids into the names their keys are made of, under
// Options.IDHashKey: base64url of HMAC-SHA-256. It is safe for concurrent
// use.
type Hasher struct {
	macs sync.Pool // of hash.Hash, keyed
	// forwards seals, under a key derived from the hash key, the ids that
	// the keys of renewed ids forward to, which would otherwise stand in
	// clear beside the hashes.
	forwards *Sealer
}

// NewHasher returns the Hasher under key, or nil when key is nil.
func NewHasher(key []byte) *Hasher {
	if key == nil {
		return nil
	}
	key = bytes.Clone(key)
	h := &Hasher{}
	h.macs.New = func() any { return hmac.New(sha256.New, key) }
	derived := hmac.New(sha256.New, key)
	derived.Write([]byte("typedstore renewed ids"))
	h.forwards = NewSealer([][]byte{derived.Sum(nil)}, 0, 0)
	return h
}

// Name returns the name of id's key.
func (h *Hasher) Name(id string) string {
	mac := h.macs.Get().(hash.Hash)
	mac.Reset()
	_, _ = io.WriteString(mac, id)
	var sum [sha256.Size]byte
	name := base64.RawURLEncoding.EncodeToString(mac.Sum(sum[:0]))
	h.macs.Put(mac)
	return name
}

// Forwards returns the Sealer, under a key derived from the hash key, of
// the values that would otherwise stand in clear beside the hashes: the
// ids that renewed ids forward to.
func (h *Hasher) Forwards() *Sealer { return h.forwards }
