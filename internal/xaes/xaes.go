// Package xaes implements XAES-256-GCM (https://c2sp.org/XAES-256-GCM):
// AES-256-GCM under a key derived, for each message, from the key and the
// first half of a 192-bit nonce, with the standard NIST SP 800-108r1 KDF in
// counter mode on AES-256-CMAC.
//
// Its nonces can be drawn at random for about 2⁸⁰ messages under one key
// (collision risk 2⁻³²), where AES-256-GCM's 96-bit random nonces allow
// 2³²: a session store writing 2,000 values a second reaches that within a
// month. The price is one AES key schedule per message.
package xaes

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
)

const (
	// KeySize is the size of a key, in bytes.
	KeySize = 32
	// NonceSize is the size of a nonce, in bytes.
	NonceSize = 24
	// Overhead is the size of the tag that Seal appends, in bytes.
	Overhead = 16
)

// AEAD is XAES-256-GCM under one key. It is a cipher.AEAD and is safe for
// concurrent use.
type AEAD struct {
	block cipher.Block
	k1    [aes.BlockSize]byte // the CMAC subkey of block
}

// New returns XAES-256-GCM under key, which must be KeySize bytes long.
func New(key []byte) (*AEAD, error) {
	if len(key) != KeySize {
		return nil, errors.New("xaes: the key must be 32 bytes long")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	a := &AEAD{block: block}
	block.Encrypt(a.k1[:], a.k1[:]) // L = AES-256_K(0¹²⁸)
	msb := a.k1[0] >> 7
	for i := range len(a.k1) - 1 {
		a.k1[i] = a.k1[i]<<1 | a.k1[i+1]>>7
	}
	a.k1[len(a.k1)-1] = a.k1[len(a.k1)-1]<<1 ^ msb*0x87
	return a, nil
}

// NonceSize returns NonceSize.
func (*AEAD) NonceSize() int { return NonceSize }

// Overhead returns Overhead.
func (*AEAD) Overhead() int { return Overhead }

// derive returns AES-256-GCM under the key of nonce's first half.
func (a *AEAD) derive(nonce []byte) cipher.AEAD {
	var m, kx [2 * aes.BlockSize]byte
	for i, c := range [2]byte{1, 2} {
		b := m[i*aes.BlockSize : (i+1)*aes.BlockSize]
		b[1], b[2] = c, 'X' // [0, counter, "X", 0] || nonce[:12]
		copy(b[4:], nonce[:12])
		for j := range b {
			b[j] ^= a.k1[j]
		}
		a.block.Encrypt(kx[i*aes.BlockSize:], b)
	}
	block, err := aes.NewCipher(kx[:])
	if err != nil {
		panic("xaes: " + err.Error()) // a 32-byte key is always valid
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic("xaes: " + err.Error()) // AES has GCM's block size
	}
	return gcm
}

// Seal appends the encryption and tag of plaintext, authenticated with
// additionalData, to dst, as cipher.AEAD's Seal does. It panics if nonce is
// not NonceSize bytes long.
func (a *AEAD) Seal(dst, nonce, plaintext, additionalData []byte) []byte {
	if len(nonce) != NonceSize {
		panic("xaes: the nonce must be 24 bytes long")
	}
	return a.derive(nonce).Seal(dst, nonce[12:], plaintext, additionalData)
}

// ErrOpen is the error of Open for a ciphertext that does not authenticate.
var ErrOpen = errors.New("xaes: message authentication failed")

// Open appends the decryption of ciphertext to dst if it authenticates
// with additionalData, as cipher.AEAD's Open does; otherwise it returns
// ErrOpen. It panics if nonce is not NonceSize bytes long.
func (a *AEAD) Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error) {
	if len(nonce) != NonceSize {
		panic("xaes: the nonce must be 24 bytes long")
	}
	out, err := a.derive(nonce).Open(dst, nonce[12:], ciphertext, additionalData)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}
