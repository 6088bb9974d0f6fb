package typedstore

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// BenchmarkAtRestCPU measures what each option of sessions at rest costs a
// Get and a Set on the client's CPU, without the round trip: for a Set,
// making the key and the stored value (encode, compress, seal); for a Get,
// making the key and decoding the stored value (open, inflate, decode). The
// sessions are about 500 bytes and 8 KiB of JSON.
//
//	go test -run '^$' -bench AtRestCPU -benchmem .
func BenchmarkAtRestCPU(b *testing.B) {
	keys := [][]byte{bytes.Repeat([]byte{1}, EncryptionKeySize)}
	hashKey := bytes.Repeat([]byte{2}, 32)
	configs := []struct {
		name string
		opts Options[benchFidelitySession]
	}{
		{"plain", Options[benchFidelitySession]{}},
		{"sealed", Options[benchFidelitySession]{EncryptionKeys: keys}},
		{"hashed", Options[benchFidelitySession]{IDHashKey: hashKey}},
		{"sealed+hashed", Options[benchFidelitySession]{EncryptionKeys: keys, IDHashKey: hashKey}},
		{"sealed+compressed", Options[benchFidelitySession]{EncryptionKeys: keys, CompressAbove: 1024}},
	}
	exp := time.Now().Add(time.Hour).UTC()
	small := benchFidelitySession{Cookie: Cookie{ExpiresAt: &exp, HTTPOnly: true, Path: "/"}, UserID: 7, Name: "Ada Lovelace"}
	for i := range 24 {
		small.Cart = append(small.Cart, fmt.Sprintf("SKU-%06d", i*7919))
	}
	large := small
	for i := range 600 {
		large.Cart = append(large.Cart, fmt.Sprintf("SKU-%06d", i*7919%1000000))
	}
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	b.Cleanup(func() { client.Close() })
	const id = "Hkx6vL3yNqZ8cYwR2tF0uJ5mE9aB4sD7"
	for _, size := range []struct {
		name string
		v    benchFidelitySession
	}{{"small", small}, {"large", large}} {
		for _, c := range rotated(configs, &atRestCPURuns) {
			s, err := New(client, c.opts)
			if err != nil {
				b.Fatal(err)
			}
			key, _ := s.key("set", id)
			stored, err := s.encode("set", key, size.v, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(size.name+"/"+c.name+"/Set", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					key, _ := s.key("set", id)
					if _, err := s.encode("set", key, size.v, nil); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(stored)), "stored-B")
			})
			b.Run(size.name+"/"+c.name+"/Get", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					key, _ := s.key("get", id)
					if _, err := s.decode("get", id, key, stored); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(stored)), "stored-B")
			})
		}
	}
}

// atRestCPURuns counts the runs of BenchmarkAtRestCPU (see rotated).
var atRestCPURuns int

// rotated returns s rotated left by *runs, and counts the run: each
// repetition of -count starts at another configuration.
func rotated[S ~[]E, E any](s S, runs *int) S {
	k := *runs % len(s)
	*runs++
	return append(append(S(nil), s[k:]...), s[:k]...)
}
