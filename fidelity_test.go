package typedstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
)

// expressStored is a session as express-session stores it, with members an
// Express app keeps for itself (passport's user, connect-flash's messages,
// csurf's secret, a return URL) beside those of the Go type.
const expressStored = `{"cookie":{"originalMaxAge":3600000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/","sameSite":"lax"},` +
	`"passport":{"user":"7"},"flash":{"info":["Welcome back"]},"csrfSecret":"x\"y\u00e9","userId":7,"name":"Ada","returnTo":null,"views":12}`

// theExpressMembers are the members of expressStored that session does not
// declare.
var theExpressMembers = []string{"passport", "flash", "csrfSecret", "returnTo", "views"}

// members returns the top-level members of the JSON object data.
func members(t *testing.T, data string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatalf("stored %s: %v", data, err)
	}
	return m
}

// checkKept fails the test unless stored has each of names as want has it.
func checkKept(t *testing.T, stored, want string, names []string) {
	t.Helper()
	got, orig := members(t, stored), members(t, want)
	for _, name := range names {
		if string(got[name]) != string(orig[name]) {
			t.Errorf("member %q: %s; want %s, as stored before", name, got[name], orig[name])
		}
	}
}

// Update keeps the members of the stored session that T does not declare,
// with no change to T: an Express app's data survives a Go change. A
// declared member that is now zero under omitempty is removed.
func TestUpdateKeepsUnknownMembers(t *testing.T) {
	for name, newClient := range bothServers() {
		t.Run(name, func(t *testing.T) {
			client := newClient(t)
			s, err := typedstore.New(client, typedstore.Options[session]{Prefix: "fidelity:" + name + ":"})
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			key := s.Prefix() + "apple"
			client.Set(ctx, key, expressStored, time.Hour)
			t.Cleanup(func() { client.Del(context.Background(), key) })
			if err := s.Update(ctx, "apple", func(v *session) error {
				v.Cart = append(v.Cart, "book")
				v.Name = "" // omitempty: removed
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			stored := client.Get(ctx, key).Val()
			checkKept(t, stored, expressStored, theExpressMembers)
			m := members(t, stored)
			if string(m["cart"]) != `["book"]` || string(m["userId"]) != "7" {
				t.Errorf("stored %s; want the change and the declared members", stored)
			}
			if _, ok := m["name"]; ok {
				t.Errorf("stored %s; want name removed (zero, omitempty)", stored)
			}
		})
	}
}

// withExtra is session with an Extra, which keeps the unknown members
// across a Get and a Set.
type withExtra struct {
	typedstore.Cookie `json:"cookie"`
	typedstore.Extra
	UserID int64    `json:"userId"`
	Name   string   `json:"name,omitempty"`
	Cart   []string `json:"cart,omitempty"`
}

func TestExtraKeepsUnknownMembersThroughGetAndSet(t *testing.T) {
	mr, _, s := newMini(t, typedstore.Options[withExtra]{})
	mr.Set("sess:apple", expressStored)
	ctx := t.Context()
	v, err := s.Get(ctx, "apple")
	if err != nil {
		t.Fatal(err)
	}
	if v.Extra.Len() == 0 {
		t.Error("Extra is empty after Get; want the Express app's members")
	}
	v.Cart = []string{"book"}
	if err := s.Set(ctx, "copy", v); err != nil {
		t.Fatal(err)
	}
	stored, _ := mr.Get("sess:copy")
	checkKept(t, stored, expressStored, theExpressMembers)
	// The value's own JSON has no trace of Extra.
	b, _ := json.Marshal(withExtra{Extra: v.Extra})
	if got := members(t, string(b)); len(got) != 2 { // cookie, userId
		t.Errorf("json.Marshal of a value with an Extra = %s; want no member of Extra's", b)
	}
}

// Without an Extra, a Get followed by a Set has nowhere to keep them: the
// documented limit.
func TestGetAndSetWithoutExtraLoseUnknownMembers(t *testing.T) {
	mr, _, s := newMini(t, typedstore.Options[session]{})
	mr.Set("sess:apple", expressStored)
	v, err := s.Get(t.Context(), "apple")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(t.Context(), "apple", v); err != nil {
		t.Fatal(err)
	}
	stored, _ := mr.Get("sess:apple")
	if _, ok := members(t, stored)["passport"]; ok {
		t.Errorf("stored %s; a Get and a Set without Extra cannot keep unknown members", stored)
	}
}

// plainJSON is a codec other than JSONCodec, with the same bytes.
type plainJSON[T any] struct{}

func (plainJSON[T]) Encode(v T) ([]byte, error)     { return json.Marshal(v) }
func (plainJSON[T]) Decode(data []byte, v *T) error { return json.Unmarshal(data, v) }

// Another codec decides the stored shape itself: the store adds nothing.
func TestOtherCodecsKeepNothing(t *testing.T) {
	mr, _, s := newMini(t, typedstore.Options[session]{Codec: plainJSON[session]{}})
	mr.Set("sess:apple", expressStored)
	mr.SetTTL("sess:apple", time.Hour)
	if err := s.Update(t.Context(), "apple", func(v *session) error { return nil }); err != nil {
		t.Fatal(err)
	}
	stored, _ := mr.Get("sess:apple")
	if _, ok := members(t, stored)["passport"]; ok {
		t.Errorf("stored %s; a codec other than JSONCodec gets no members added", stored)
	}
}

// For any stored object that decodes, a change through Update writes back
// every member the type does not declare, unchanged, and a value with an
// Extra does the same through Get and Set.
func FuzzUnknownMembersSurvive(f *testing.F) {
	f.Add([]byte(expressStored))
	f.Add([]byte(`{"userId":1,"x":{"y":[1,{"z":"}"}]},"Y":"\u2028"}`))
	f.Add([]byte(`{"USERID":2,"cart":null,"extra":-0.5e-3}`))
	mr := miniredis.RunT(f)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	f.Cleanup(func() { client.Close() })
	plain, err := typedstore.New(client, typedstore.Options[session]{TTL: time.Hour, MaxSize: 8192})
	if err != nil {
		f.Fatal(err)
	}
	extra, err := typedstore.New(client, typedstore.Options[withExtra]{TTL: time.Hour, MaxSize: 8192})
	if err != nil {
		f.Fatal(err)
	}
	declared := map[string]bool{"cookie": true, "userid": true, "name": true, "cart": true}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		var orig map[string]json.RawMessage
		if json.Unmarshal(data, &orig) != nil || len(data) > 4096 {
			return
		}
		check := func(how, key string) {
			stored, _ := mr.Get(key)
			var got map[string]json.RawMessage
			if err := json.Unmarshal([]byte(stored), &got); err != nil {
				t.Fatalf("%s: stored %q is not an object: %v", how, stored, err)
			}
			for name, raw := range orig {
				if declared[lower(name)] {
					continue
				}
				if !jsonEqual(got[name], raw) {
					t.Fatalf("%s: member %q is %s after the write; want %s", how, name, got[name], raw)
				}
			}
		}
		mr.FlushAll()
		mr.Set("sess:fuzz", string(data))
		mr.SetTTL("sess:fuzz", time.Hour)
		var expires time.Time
		err := plain.Update(ctx, "fuzz", func(v *session) error {
			v.Cart = append(v.Cart, "x")
			expires = v.Expires()
			return nil
		})
		var ce *typedstore.CorruptError
		switch {
		case errors.As(err, &ce), errors.Is(err, typedstore.ErrTooLarge):
			return // not a session of this type, or too large
		case err != nil:
			t.Fatalf("Update: %v", err)
		}
		if !expires.IsZero() && !expires.After(time.Now()) {
			// Its own cookie has expired: the write deletes it, as documented.
			if mr.Exists("sess:fuzz") {
				t.Fatalf("Update of a session whose cookie expired at %v left it stored; want it deleted", expires)
			}
			return
		}
		check("Update", "sess:fuzz")

		mr.Set("sess:fuzz", string(data))
		v, err := extra.Get(ctx, "fuzz")
		if err != nil {
			t.Fatalf("Get of what Update read: %v", err)
		}
		v.Cart = append(v.Cart, "x")
		if err := extra.Set(ctx, "fuzz2", v); errors.Is(err, typedstore.ErrTooLarge) {
			return
		} else if err != nil {
			t.Fatalf("Set: %v", err)
		}
		if mr.Exists("sess:fuzz2") {
			check("Get and Set with Extra", "sess:fuzz2")
		}
	})
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
