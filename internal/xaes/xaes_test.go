package xaes

import (
	"bytes"
	"crypto/cipher"
	"encoding/hex"
	"testing"
)

var _ cipher.AEAD = (*AEAD)(nil)

// The vectors of the specification, c2sp.org/XAES-256-GCM.
func TestVectors(t *testing.T) {
	for _, tc := range []struct {
		key, ad, want string
	}{
		{"0101010101010101010101010101010101010101010101010101010101010101", "", "ce546ef63c9cc60765923609b33a9a1974e96e52daf2fcf7075e2271"},
		{"0303030303030303030303030303030303030303030303030303030303030303", "c2sp.org/XAES-256-GCM", "986ec1832593df5443a179437fd083bf3fdb41abd740a21f71eb769d"},
	} {
		key, _ := hex.DecodeString(tc.key)
		a, err := New(key)
		if err != nil {
			t.Fatal(err)
		}
		nonce, plaintext := []byte("ABCDEFGHIJKLMNOPQRSTUVWX"), []byte("XAES-256-GCM")
		got := a.Seal(nil, nonce, plaintext, []byte(tc.ad))
		if hex.EncodeToString(got) != tc.want {
			t.Errorf("Seal under %.4s…: got %x; want %s", tc.key, got, tc.want)
		}
		back, err := a.Open(nil, nonce, got, []byte(tc.ad))
		if err != nil || !bytes.Equal(back, plaintext) {
			t.Errorf("Open: got %q, %v; want %q", back, err, plaintext)
		}
	}
}

func TestOpenRejectsTampering(t *testing.T) {
	a, err := New(make([]byte, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, NonceSize)
	sealed := a.Seal(nil, nonce, []byte("a session"), []byte("sess:1"))
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 1
		if _, err := a.Open(nil, nonce, bad, []byte("sess:1")); err != ErrOpen {
			t.Errorf("byte %d flipped: got %v; want ErrOpen", i, err)
		}
	}
	for i := range nonce {
		bad := bytes.Clone(nonce)
		bad[i] ^= 1
		if _, err := a.Open(nil, bad, sealed, []byte("sess:1")); err != ErrOpen {
			t.Errorf("nonce byte %d flipped: got %v; want ErrOpen", i, err)
		}
	}
	if _, err := a.Open(nil, nonce, sealed, []byte("sess:2")); err != ErrOpen {
		t.Errorf("other additional data: got %v; want ErrOpen", err)
	}
	if _, err := a.Open(nil, nonce, sealed[:Overhead-1], nil); err != ErrOpen {
		t.Errorf("shorter than a tag: got %v; want ErrOpen", err)
	}
}

func TestNewRejectsWrongKeySizes(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New with a %d-byte key: got nil error", n)
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	a, _ := New(make([]byte, KeySize))
	nonce, msg := make([]byte, NonceSize), make([]byte, 200)
	buf := make([]byte, 0, len(msg)+Overhead)
	b.ReportAllocs()
	for b.Loop() {
		buf = a.Seal(buf[:0], nonce, msg, nil)
	}
}
