package typedstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
)

// FuzzDecodeStoredValue stores arbitrary bytes under a session key and reads
// them through Get and All: each must give a session or a *CorruptError for
// that id, never a panic or another error, and must leave the bytes as they
// were. A value that decodes must survive a write and a read back.
func FuzzDecodeStoredValue(f *testing.F) {
	for _, seed := range []string{
		`{"cookie":{"originalMaxAge":86400000,"expires":"2026-11-24T12:00:00.000Z","secure":false,"httpOnly":true,"path":"/","sameSite":"lax"},"userId":7}`,
		`{"cookie":{"sameSite":true,"expires":null},"cart":["a","b"]}`,
		`{"userId":"7"}`,
		`{"cookie":{"expires":"not a date"}}`,
		`{"userId":1e400}`,
		`null`,
		`[]`,
		"\xff\xfe\x00",
		`{"cookie":{"originalMaxAge":-1,"expires":"0001-01-01T00:00:00Z"}}`,
	} {
		f.Add([]byte(seed))
	}
	mr := miniredis.RunT(f)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	f.Cleanup(func() { client.Close() })
	s, err := typedstore.New(client, typedstore.Options[session]{MaxSize: 4096})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		mr.FlushAll()
		mr.Set("sess:fuzz", string(data))
		v, err := s.Get(ctx, "fuzz")
		var ce *typedstore.CorruptError
		if err != nil && (!errors.As(err, &ce) || ce.ID != "fuzz") {
			t.Fatalf("Get = %v; want a session or a *CorruptError for the id", err)
		}
		all, errf := s.All(ctx)
		n := 0
		for range all {
			n++
		}
		if allErr := errf(); (err == nil) != (n == 1) || (err != nil) != errors.Is(allErr, typedstore.ErrCorrupt) {
			t.Fatalf("Get error %v, but All yielded %d sessions with error %v", err, n, allErr)
		}
		if got, _ := mr.Get("sess:fuzz"); got != string(data) {
			t.Fatalf("stored bytes changed to %q", got)
		}
		if err != nil {
			return
		}
		// Sessions with an expiry in the past are deleted by Set; that is
		// the TTL rule, not a decoding problem.
		if s.TTLOf(v) <= 0 {
			return
		}
		if err := s.Set(ctx, "again", v); errors.Is(err, typedstore.ErrTooLarge) {
			return // re-encoding may escape characters and grow past MaxSize
		} else if err != nil {
			t.Fatalf("Set of a decoded session: %v", err)
		}
		if _, err := s.Get(ctx, "again"); err != nil {
			t.Fatalf("Get of a re-encoded session: %v", err)
		}
	})
}
