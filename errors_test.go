package typedstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
)

// secretID is a session id long enough that any part of it worth stealing
// is recognisable in a message.
const secretID = "SECRET-SESSION-ID-0123456789abcdefghij"

// leaksID reports whether msg holds a recognisable part of id: any eight
// consecutive bytes of it.
func leaksID(msg, id string) bool {
	for i := 0; i+8 <= len(id); i++ {
		if strings.Contains(msg, id[i:i+8]) {
			return true
		}
	}
	return false
}

// failCodec fails to encode and decode.
type failCodec struct{}

func (failCodec) Encode(session) ([]byte, error) { return nil, errors.New("cannot encode") }
func (failCodec) Decode([]byte, *session) error  { return errors.New("cannot decode") }

// No error message of the store holds a session id, which is a credential;
// the id of a corrupt session stays reachable through CorruptError.ID.
func TestErrorsNeverHoldTheID(t *testing.T) {
	ctx := context.Background()
	big := session{Name: strings.Repeat("x", 500)}
	tests := []struct {
		name string
		opts typedstore.Options[session]
		prep func(mr interface{ Set(k, v string) error }, client *redis.Client)
		call func(s *typedstore.Store[session]) error
		want error
	}{
		{"Get of a corrupt value", typedstore.Options[session]{}, func(mr interface{ Set(k, v string) error }, _ *redis.Client) {
			mr.Set("sess:"+secretID, "{")
		}, func(s *typedstore.Store[session]) error { _, err := s.Get(ctx, secretID); return err }, typedstore.ErrCorrupt},
		{"Get of a value over MaxSize", typedstore.Options[session]{MaxSize: 10}, func(mr interface{ Set(k, v string) error }, _ *redis.Client) {
			mr.Set("sess:"+secretID, `{"name":"more than ten bytes"}`)
		}, func(s *typedstore.Store[session]) error { _, err := s.Get(ctx, secretID); return err }, typedstore.ErrTooLarge},
		{"Get of a hash", typedstore.Options[session]{}, func(_ interface{ Set(k, v string) error }, c *redis.Client) {
			c.HSet(ctx, "sess:"+secretID, "f", "v")
		}, func(s *typedstore.Store[session]) error { _, err := s.Get(ctx, secretID); return err }, typedstore.ErrCorrupt},
		{"Get of a missing session", typedstore.Options[session]{}, nil,
			func(s *typedstore.Store[session]) error { _, err := s.Get(ctx, secretID); return err }, typedstore.ErrNotFound},
		{"GetAndExtend of a missing session", typedstore.Options[session]{}, nil,
			func(s *typedstore.Store[session]) error {
				_, err := s.GetAndExtend(ctx, secretID, time.Hour)
				return err
			}, typedstore.ErrNotFound},
		{"Set that fails to encode", typedstore.Options[session]{Codec: failCodec{}}, nil,
			func(s *typedstore.Store[session]) error { return s.Set(ctx, secretID, session{}) }, nil},
		{"Set over MaxSize", typedstore.Options[session]{MaxSize: 200}, nil,
			func(s *typedstore.Store[session]) error { return s.Set(ctx, secretID, big) }, typedstore.ErrTooLarge},
		{"Create over an existing session", typedstore.Options[session]{}, func(mr interface{ Set(k, v string) error }, _ *redis.Client) {
			mr.Set("sess:"+secretID, "{}")
		}, func(s *typedstore.Store[session]) error { return s.Create(ctx, secretID, session{}) }, typedstore.ErrExists},
		{"Replace of a missing session", typedstore.Options[session]{}, nil,
			func(s *typedstore.Store[session]) error { return s.Replace(ctx, secretID, session{}) }, typedstore.ErrNotFound},
		{"Touch of a missing session", typedstore.Options[session]{}, nil,
			func(s *typedstore.Store[session]) error { return s.Touch(ctx, secretID, session{}) }, typedstore.ErrNotFound},
		{"Update of a missing session", typedstore.Options[session]{}, nil,
			func(s *typedstore.Store[session]) error {
				return s.Update(ctx, secretID, func(*session) error { return nil })
			}, typedstore.ErrNotFound},
		{"Update over MaxSize", typedstore.Options[session]{MaxSize: 200}, func(mr interface{ Set(k, v string) error }, _ *redis.Client) {
			mr.Set("sess:"+secretID, "{}")
		}, func(s *typedstore.Store[session]) error {
			return s.Update(ctx, secretID, func(v *session) error { *v = big; return nil })
		}, typedstore.ErrTooLarge},
		{"Update that meets a change on every attempt", typedstore.Options[session]{UpdateAttempts: 2}, func(mr interface{ Set(k, v string) error }, c *redis.Client) {
			mr.Set("sess:"+secretID, "{}")
			n := 0
			c.AddHook(beforeCommand("evalsha", func() {
				n++
				mr.Set("sess:"+secretID, strings.Repeat(" ", n)+"{}")
			}))
		}, func(s *typedstore.Store[session]) error {
			return s.Update(ctx, secretID, func(v *session) error { v.UserID = 1; return nil })
		}, typedstore.ErrConflict},
		{"Get of an id over MaxIDLen", typedstore.Options[session]{}, nil, func(s *typedstore.Store[session]) error {
			_, err := s.Get(ctx, strings.Repeat(secretID, 30))
			return err
		}, typedstore.ErrInvalidID},
		{"All over a corrupt value", typedstore.Options[session]{}, func(mr interface{ Set(k, v string) error }, _ *redis.Client) {
			mr.Set("sess:"+secretID, "{")
		}, func(s *typedstore.Store[session]) error {
			seq, errf := s.All(ctx)
			for range seq {
			}
			return errf()
		}, typedstore.ErrCorrupt},
		{"OwnedBy over a corrupt session", typedstore.Options[session]{Owner: byName}, func(mr interface{ Set(k, v string) error }, c *redis.Client) {
			c.ZAdd(ctx, "owner:sess:alice", redis.Z{Score: 1 << 50, Member: secretID})
			mr.Set("sess:"+secretID, "{")
		}, func(s *typedstore.Store[session]) error {
			seq, errf := s.OwnedBy(ctx, "alice")
			for range seq {
			}
			return errf()
		}, typedstore.ErrCorrupt},
		{"DeleteOwned over a corrupt session", typedstore.Options[session]{Owner: byName}, func(mr interface{ Set(k, v string) error }, c *redis.Client) {
			c.ZAdd(ctx, "owner:sess:alice", redis.Z{Score: 1 << 50, Member: secretID})
			mr.Set("sess:"+secretID, "{")
		}, func(s *typedstore.Store[session]) error { _, err := s.DeleteOwned(ctx, "alice"); return err }, typedstore.ErrCorrupt},
		{"Set whose owner is too long", typedstore.Options[session]{Owner: byName}, nil, func(s *typedstore.Store[session]) error {
			return s.Set(ctx, secretID, session{Name: strings.Repeat(secretID, 30)})
		}, typedstore.ErrInvalidOwner},
		{"Set whose index fails", typedstore.Options[session]{Owner: byName}, func(_ interface{ Set(k, v string) error }, c *redis.Client) {
			c.AddHook(afterCommand("evalsha", func(cmd redis.Cmder) { cmd.SetErr(errors.New("ERR injected index failure")) }))
		}, func(s *typedstore.Store[session]) error { return s.Set(ctx, secretID, session{Name: "alice"}) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mr, client, s := newMini(t, tt.opts)
			if tt.prep != nil {
				tt.prep(mr, client)
			}
			err := tt.call(s)
			if err == nil {
				t.Fatal("err = nil; want an error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v; want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "typedstore: ") {
				t.Errorf("err = %q; want the prefix \"typedstore: \"", err)
			}
			if leaksID(err.Error(), secretID) {
				t.Errorf("err = %q; holds the session id", err)
			}
			var ce *typedstore.CorruptError
			if errors.As(err, &ce) && ce.ID != secretID {
				t.Errorf("CorruptError.ID = %q; want %q", ce.ID, secretID)
			}
		})
	}
}

// Errors name their operation: "typedstore: <op>: …".
func TestErrorsNameTheOperation(t *testing.T) {
	ctx := context.Background()
	mr, _, s := newMini(t, typedstore.Options[session]{})
	mr.Set("sess:corrupt-id", "{")
	tests := []struct {
		call func() error
		want string
	}{
		{func() error { _, err := s.Get(ctx, "missing"); return err }, "typedstore: get: session not found"},
		{func() error { return s.Replace(ctx, "missing", session{}) }, "typedstore: replace: session not found"},
		{func() error { return s.Touch(ctx, "missing", session{}) }, "typedstore: touch: session not found"},
		{func() error { return s.Delete(ctx, "") }, "typedstore: delete: invalid session id: empty"},
		{func() error { _, err := s.Get(ctx, "corrupt-id"); return err }, `typedstore: get: corrupt session "co…": unexpected end of JSON input`},
	}
	for _, tt := range tests {
		if err := tt.call(); err == nil || err.Error() != tt.want {
			t.Errorf("err = %v; want %q", err, tt.want)
		}
	}
}

func TestCorruptValue(t *testing.T) {
	ctx := context.Background()
	mr, _, s := newMini(t, typedstore.Options[session]{})
	corrupt := map[string]string{
		"truncated": `{"cookie":{"path":"/"},"userId":4`,
		"random":    "\x00\x01\x02garbage",
		"wrongtype": `{"userId":"not a number"}`,
	}
	for id, raw := range corrupt {
		mr.Set("sess:"+id, raw)
	}
	for id, raw := range corrupt {
		_, err := s.Get(ctx, id)
		var ce *typedstore.CorruptError
		if !errors.Is(err, typedstore.ErrCorrupt) || !errors.As(err, &ce) || ce.ID != id {
			t.Errorf("Get(%q) = %v; want a *CorruptError for that id wrapping ErrCorrupt", id, err)
		}
		if err != nil && strings.Contains(err.Error(), id) {
			t.Errorf("error %q holds the whole id %q; want at most a hint", err, id)
		}
		if got, _ := mr.Get("sess:" + id); got != raw {
			t.Errorf("stored bytes of %q = %q; want them untouched (%q)", id, got, raw)
		}
	}
}
