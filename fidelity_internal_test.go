package typedstore

import (
	"testing"
	"time"
)

type benchFidelitySession struct {
	Cookie `json:"cookie"`
	UserID int64    `json:"userId"`
	Name   string   `json:"name,omitempty"`
	Cart   []string `json:"cart,omitempty"`
}

// BenchmarkFidelity measures what keeping unknown members costs a load and
// a save (decode, find the unknown members, encode with them) without the
// round trips: with the JSON codec on a session of only declared members,
// and on one with an Express app's members too; against JSONCodec's own
// decode and encode, which keep nothing.
//
//	go test -run '^$' -bench Fidelity -count 5 .
func BenchmarkFidelity(b *testing.B) {
	const known = `{"cookie":{"originalMaxAge":3600000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/","sameSite":"lax"},"userId":7,"name":"Ada","cart":["book","pen"]}`
	const extra = `{"cookie":{"originalMaxAge":3600000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/","sameSite":"lax"},"userId":7,"name":"Ada","cart":["book","pen"],"passport":{"user":"7"},"flash":{"info":["Welcome back"]},"csrfSecret":"Zk3p-9qLw","returnTo":"/cart?x=1"}`
	opts := Options[benchFidelitySession]{TTL: time.Hour}
	for _, bc := range []struct {
		name, data string
		keep       bool
	}{
		{"codec only, declared members", known, false},
		{"kept, declared members", known, true},
		{"codec only, with Express members", extra, false},
		{"kept, with Express members", extra, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := &Store[benchFidelitySession]{opts: opts.withDefaults()}
			if bc.keep {
				s.fields, s.carrier = fidelityOf(s.opts.Codec)
			}
			data := []byte(bc.data)
			b.ReportAllocs()
			for b.Loop() {
				v, unknown, _, err := s.decodeStored("get", "id", "sess:id", data, true)
				if err != nil {
					b.Fatal(err)
				}
				v.Cart = append(v.Cart, "x")
				if _, err := s.encode("set", "sess:id", v, unknown); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
