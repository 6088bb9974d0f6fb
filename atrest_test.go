package typedstore_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"pgregory.net/rapid"

	"github.com/typedstore/typedstore"
)

// testKey returns a 32-byte key made of b.
func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, typedstore.EncryptionKeySize) }

// hashedName is the documented name of id's key under IDHashKey key:
// base64url, unpadded, of HMAC-SHA-256.
func hashedName(key []byte, id string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// sealedKeyID returns the id of the key that the sealed value data records.
func sealedKeyID(t *testing.T, data string) string {
	t.Helper()
	if len(data) < 46 || data[0] != 0xA5 {
		t.Fatalf("stored value %q is not sealed", data)
	}
	return data[2:6]
}

func TestAtRestOptionsAreValidated(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef0123456789") // never in a message
	tests := []struct {
		name string
		opts typedstore.Options[session]
		want string
	}{
		{"empty key", typedstore.Options[session]{EncryptionKeys: [][]byte{{}}}, "EncryptionKeys[0] is 0 bytes long; an AES-256 key is 32"},
		{"no keys", typedstore.Options[session]{EncryptionKeys: [][]byte{}}, "EncryptionKeys is empty"},
		{"AES-128 key", typedstore.Options[session]{EncryptionKeys: [][]byte{testKey(1), secret[:16]}}, "EncryptionKeys[1] is 16 bytes long"},
		{"long key", typedstore.Options[session]{EncryptionKeys: [][]byte{secret}}, "EncryptionKeys[0] is 42 bytes long"},
		{"key twice", typedstore.Options[session]{EncryptionKeys: [][]byte{testKey(1), testKey(2), testKey(1)}}, "EncryptionKeys[2] is EncryptionKeys[0] again"},
		{"negative CompressAbove", typedstore.Options[session]{EncryptionKeys: [][]byte{testKey(1)}, CompressAbove: -1}, "negative CompressAbove"},
		{"CompressAbove alone", typedstore.Options[session]{CompressAbove: 1024}, "CompressAbove needs EncryptionKeys"},
		{"short IDHashKey", typedstore.Options[session]{IDHashKey: secret[:31]}, "IDHashKey is 31 bytes long; use at least 32"},
		{"empty IDHashKey", typedstore.Options[session]{IDHashKey: []byte{}}, "IDHashKey is 0 bytes long"},
	}
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { client.Close() })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := typedstore.New(client, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: got %v; want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), string(secret[:16])) {
				t.Errorf("New's error %q shows the key", err)
			}
		})
	}
	for _, ok := range []typedstore.Options[session]{
		{EncryptionKeys: [][]byte{testKey(1), testKey(2)}, CompressAbove: 1, IDHashKey: secret},
		{IDHashKey: secret[:32]},
	} {
		if _, err := typedstore.New(client, ok); err != nil {
			t.Errorf("New(%d keys, IDHashKey of %d bytes): %v", len(ok.EncryptionKeys), len(ok.IDHashKey), err)
		}
	}
}

func TestSealedValues(t *testing.T) {
	ctx := context.Background()
	mr, _, s := newMini(t, typedstore.Options[session]{EncryptionKeys: [][]byte{testKey(1)}})
	v := expiring(7, time.Hour)
	v.Name = "alice"
	if err := s.Set(ctx, "id-1", v); err != nil {
		t.Fatal(err)
	}
	stored, err := mr.Get("sess:id-1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, "alice") || strings.Contains(stored, "userId") {
		t.Errorf("stored value %q shows the session", stored)
	}
	plain, _ := typedstore.JSONCodec[session]{}.Encode(v)
	if got, want := len(stored), len(plain)+46; got != want {
		t.Errorf("sealed value is %d bytes; want the encoding's %d + 46", got, len(plain))
	}
	got, err := s.Get(ctx, "id-1")
	if err != nil || !sameSession(got, v) {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, v)
	}
	if err := s.Set(ctx, "id-1", v); err != nil {
		t.Fatal(err)
	}
	if again, _ := mr.Get("sess:id-1"); again == stored {
		t.Error("two writes of one session stored the same bytes: the nonce is not fresh")
	}

	// A store without the key, or with another, reads no session.
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	for name, opts := range map[string]typedstore.Options[session]{
		"no keys":   {},
		"other key": {EncryptionKeys: [][]byte{testKey(2)}},
	} {
		other, err := typedstore.New(client, opts)
		if err != nil {
			t.Fatal(err)
		}
		var ce *typedstore.CorruptError
		_, err = other.Get(ctx, "id-1")
		if !errors.As(err, &ce) {
			t.Fatalf("%s: Get = %v; want a *CorruptError", name, err)
		}
		if got := errors.Is(err, typedstore.ErrUnauthenticated); got != (opts.EncryptionKeys != nil) {
			t.Errorf("%s: errors.Is(%v, ErrUnauthenticated) = %v", name, err, got)
		}
		if want := "a key the store does not have"; opts.EncryptionKeys != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Get = %v; want it to say %q", name, err, want)
		}
	}
	// Nor does the store read a value stored without encryption.
	mr.Set("sess:plain", string(plain))
	var ce *typedstore.CorruptError
	if _, err := s.Get(ctx, "plain"); !errors.As(err, &ce) || !strings.Contains(err.Error(), "not sealed") {
		t.Errorf("Get of a plaintext value = %v; want a *CorruptError saying it is not sealed", err)
	}
}

// Every byte of a sealed value is covered: flipping any one, or cutting the
// value short, makes it a *CorruptError, never a panic or a session.
func TestTamperedValuesAreCorrupt(t *testing.T) {
	ctx := context.Background()
	for _, compress := range []int{0, 16} {
		t.Run(fmt.Sprintf("CompressAbove %d", compress), func(t *testing.T) {
			mr, _, s := newMini(t, typedstore.Options[session]{EncryptionKeys: [][]byte{testKey(1)}, CompressAbove: compress})
			v := expiring(7, time.Hour)
			v.Cart = slices.Repeat([]string{"apples"}, 20)
			if err := s.Set(ctx, "id", v); err != nil {
				t.Fatal(err)
			}
			stored, _ := mr.Get("sess:id")
			if compress > 0 && stored[1] != 1 {
				t.Fatalf("flags %#x: want the session compressed", stored[1])
			}
			for i := range len(stored) {
				for _, bad := range []string{
					stored[:i] + string(stored[i]^0x01) + stored[i+1:],
					stored[:i] + string(stored[i]^0x80) + stored[i+1:],
					stored[:i],
				} {
					mr.Set("sess:bad", bad)
					got, err := s.Get(ctx, "bad")
					var ce *typedstore.CorruptError
					if !errors.As(err, &ce) || ce.ID != "bad" || !errors.Is(err, typedstore.ErrCorrupt) || !errors.Is(err, typedstore.ErrUnauthenticated) {
						t.Fatalf("byte %d altered: Get = %v; want a *CorruptError", i, err)
					}
					if got.UserID != 0 || got.Cart != nil {
						t.Fatalf("byte %d altered: Get returned data %+v with its error", i, got)
					}
				}
			}
		})
	}
}

// A sealed value is bound to its key: copied under another id, or another
// prefix, it does not open.
func TestMovedValuesAreCorrupt(t *testing.T) {
	ctx := context.Background()
	for name, opts := range map[string]typedstore.Options[session]{
		"ids":    {EncryptionKeys: [][]byte{testKey(1)}},
		"hashed": {EncryptionKeys: [][]byte{testKey(1)}, IDHashKey: testKey(9)},
	} {
		t.Run(name, func(t *testing.T) {
			mr, client, s := newMini(t, opts)
			if err := s.Set(ctx, "victim", expiring(1, time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := s.Set(ctx, "attacker", expiring(2, time.Hour)); err != nil {
				t.Fatal(err)
			}
			victim, attacker := "sess:victim", "sess:attacker"
			if opts.IDHashKey != nil {
				victim, attacker = "sess:"+hashedName(opts.IDHashKey, "victim"), "sess:"+hashedName(opts.IDHashKey, "attacker")
			}
			stored, _ := mr.Get(victim)
			mr.Set(attacker, stored)
			var ce *typedstore.CorruptError
			if v, err := s.Get(ctx, "attacker"); !errors.As(err, &ce) || !strings.Contains(err.Error(), "moved from another session's key") {
				t.Errorf("Get of the victim's value under another id = %+v, %v; want a *CorruptError", v, err)
			}
			opts.Prefix = "other:"
			other, err := typedstore.New(client, opts)
			if err != nil {
				t.Fatal(err)
			}
			mr.Set("other:"+strings.TrimPrefix(victim, "sess:"), stored)
			if _, err := other.Get(ctx, "victim"); !errors.As(err, &ce) {
				t.Errorf("Get of the value under another prefix = %v; want a *CorruptError", err)
			}
		})
	}
}

// The first key seals; every key opens; a read leaves a session under the
// key it is sealed with (stores with the keys in either order, as during a
// rollout, would otherwise reseal it back and forth); Migrate reseals them
// all, keeping their times to live, after which the old key can go.
func TestKeyRotation(t *testing.T) {
	ctx := context.Background()
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	storeWith := func(keys ...[]byte) *typedstore.Store[session] {
		t.Helper()
		s, err := typedstore.New(client, typedstore.Options[session]{EncryptionKeys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	old, next := storeWith(testKey(1)), storeWith(testKey(2), testKey(1))
	ids := []string{"a", "b", "c", "d"}
	for i, id := range ids {
		if err := old.Set(ctx, id, expiring(int64(i), time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := mr.Get("sess:a")
	oldID := sealedKeyID(t, a)
	ttl := mr.TTL("sess:a")

	for _, s := range []*typedstore.Store[session]{next, old, next} {
		if v, err := s.Get(ctx, "a"); err != nil || v.UserID != 0 {
			t.Fatalf("Get = %+v, %v; want session a", v, err)
		}
		if again, _ := mr.Get("sess:a"); again != a {
			t.Fatal("a read rewrote the session")
		}
	}
	if err := next.Set(ctx, "b", expiring(1, time.Hour)); err != nil {
		t.Fatal(err)
	}
	if b, _ := mr.Get("sess:b"); sealedKeyID(t, b) == oldID {
		t.Error("a write under the new keys sealed under the old one")
	}

	dry, err := next.Migrate(ctx, typedstore.MigrateOptions{DryRun: true})
	if err != nil || dry.Sessions != 4 || dry.OldKey != 3 || dry.Migrated != 3 {
		t.Fatalf("Migrate dry run = %+v, %v; want 4 sessions, 3 under the old key, 3 to reseal", dry, err)
	}
	r, err := next.Migrate(ctx, typedstore.MigrateOptions{})
	if err != nil || r.OldKey != 3 || r.Migrated != 3 || r.Failed != 0 {
		t.Fatalf("Migrate = %+v, %v; want 3 resealed", r, err)
	}
	for _, id := range ids {
		if data, _ := mr.Get("sess:" + id); sealedKeyID(t, data) == oldID {
			t.Errorf("session %s is still sealed under the old key after Migrate", id)
		}
	}
	if got := mr.TTL("sess:a"); got != ttl {
		t.Errorf("resealing changed the time to live from %v to %v", ttl, got)
	}
	if r, err := next.Migrate(ctx, typedstore.MigrateOptions{}); err != nil || r.OldKey != 0 || r.Migrated != 0 {
		t.Errorf("a second Migrate = %+v, %v; want nothing to do", r, err)
	}
	newest := storeWith(testKey(2))
	got, err := collectAll(t, newest)
	if err != nil || len(got) != 4 {
		t.Fatalf("All under the new key alone = %d sessions, %v; want 4", len(got), err)
	}
	for i, id := range ids {
		if got[id].UserID != int64(i) {
			t.Errorf("session %s = %+v; want user %d", id, got[id], i)
		}
	}
}

// Compression applies above the threshold only, and a value that would
// inflate past MaxSize is corrupt, not a burden.
func TestCompressAbove(t *testing.T) {
	ctx := context.Background()
	const threshold = 200
	mr, client, s := newMini(t, typedstore.Options[session]{EncryptionKeys: [][]byte{testKey(1)}, CompressAbove: threshold})
	small, large := expiring(1, time.Hour), expiring(2, time.Hour)
	large.Cart = slices.Repeat([]string{"a pound of apples"}, 500)
	for id, v := range map[string]session{"small": small, "large": large} {
		if err := s.Set(ctx, id, v); err != nil {
			t.Fatal(err)
		}
		plain, _ := typedstore.JSONCodec[session]{}.Encode(v)
		stored, _ := mr.Get("sess:" + id)
		compressed := stored[1] == 1
		if want := len(plain) > threshold; compressed != want {
			t.Errorf("%s session of %d bytes: compressed %v; want %v", id, len(plain), compressed, want)
		}
		if !compressed && len(stored) != len(plain)+46 {
			t.Errorf("%s session of %d bytes, not compressed, stored in %d; want 46 more", id, len(plain), len(stored))
		}
		if compressed && len(stored) > len(plain)/4 {
			t.Errorf("%s session of %d bytes stored in %d; want far fewer", id, len(plain), len(stored))
		}
		if got, err := s.Get(ctx, id); err != nil || !slices.Equal(got.Cart, v.Cart) || got.UserID != v.UserID || got.Name != v.Name {
			t.Errorf("Get(%s) = %d items, %v; want %d", id, len(got.Cart), err, len(v.Cart))
		}
	}
	// Above the threshold, a value that deflate does not shrink is kept as
	// it is.
	raw, err := typedstore.New(client, typedstore.Options[[]byte]{EncryptionKeys: [][]byte{testKey(1)}, CompressAbove: 1, Codec: rawCodec{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Set(ctx, "short", []byte("x7q2")); err != nil {
		t.Fatal(err)
	}
	if stored, _ := mr.Get("sess:short"); stored[1] != 0 || len(stored) != 4+46 {
		t.Errorf("a value that does not deflate shorter: flags %#x, %d bytes; want it sealed as it is", stored[1], len(stored))
	}
	if got, err := raw.Get(ctx, "short"); err != nil || string(got) != "x7q2" {
		t.Errorf("Get = %q, %v", got, err)
	}

	// Stored by a store with a larger MaxSize, the large session inflates
	// past the MaxSize of this one.
	plain, _ := typedstore.JSONCodec[session]{}.Encode(large)
	strict, err := typedstore.New(client, typedstore.Options[session]{EncryptionKeys: [][]byte{testKey(1)}, MaxSize: len(plain) - 1})
	if err != nil {
		t.Fatal(err)
	}
	var ce *typedstore.CorruptError
	if _, err := strict.Get(ctx, "large"); !errors.As(err, &ce) || !errors.Is(err, typedstore.ErrTooLarge) || errors.Is(err, typedstore.ErrUnauthenticated) {
		t.Errorf("Get of a value that inflates past MaxSize = %v; want a *CorruptError wrapping ErrTooLarge", err)
	}
}

// OnDecodeError sees the plaintext of a sealed value that opens but does
// not decode, and the stored bytes of one that does not open.
func TestOnDecodeErrorOfSealedValues(t *testing.T) {
	ctx := context.Background()
	var seen [][]byte
	var unauthenticated []bool
	mr, client, s := newMini(t, typedstore.Options[session]{
		EncryptionKeys: [][]byte{testKey(1)},
		OnDecodeError: func(data []byte, err error) (session, typedstore.DecodeAction) {
			seen = append(seen, bytes.Clone(data))
			unauthenticated = append(unauthenticated, errors.Is(err, typedstore.ErrUnauthenticated))
			return session{}, typedstore.DecodeMissing
		},
	})
	raw, err := typedstore.New(client, typedstore.Options[[]byte]{EncryptionKeys: [][]byte{testKey(1)}, Codec: rawCodec{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Set(ctx, "undecodable", []byte(`{"userId":"not a number"}`)); err != nil {
		t.Fatal(err)
	}
	mr.Set("sess:unsealed", "garbage")
	for _, id := range []string{"undecodable", "unsealed"} {
		if _, err := s.Get(ctx, id); !errors.Is(err, typedstore.ErrNotFound) {
			t.Errorf("Get(%s) = %v; want ErrNotFound from DecodeMissing", id, err)
		}
	}
	mr.Set("sess:huge", "\xa5"+strings.Repeat("x", typedstore.DefaultMaxSize+100))
	if _, err := s.Get(ctx, "huge"); !errors.Is(err, typedstore.ErrNotFound) {
		t.Errorf("Get(huge) = %v; want ErrNotFound from DecodeMissing", err)
	}
	if len(seen) != 3 || string(seen[0]) != `{"userId":"not a number"}` || string(seen[1]) != "garbage" || len(seen[2]) <= typedstore.DefaultMaxSize {
		t.Errorf("OnDecodeError saw %.40q; want the plaintext, then the stored bytes twice", seen)
	}
	if !slices.Equal(unauthenticated, []bool{false, true, true}) {
		t.Errorf("OnDecodeError's errors wrap ErrUnauthenticated: %v; want all but the first's (a value too large to open too)", unauthenticated)
	}
}

// rawCodec stores bytes as they are.
type rawCodec struct{}

func (rawCodec) Encode(v []byte) ([]byte, error)     { return v, nil }
func (rawCodec) Decode(data []byte, v *[]byte) error { *v = bytes.Clone(data); return nil }

// byUserID is the Owner of the tests of hashed ids.
func byUserID(v session) string {
	if v.UserID == 0 {
		return ""
	}
	return fmt.Sprint(v.UserID)
}

// Under IDHashKey, every operation hashes the ids it is given; no key and
// no index entry holds an id; the iterations yield the hashes, which a
// store without IDHashKey takes for ids.
func TestHashedIDs(t *testing.T) {
	ctx := context.Background()
	hashKey := testKey(9)
	opts := typedstore.Options[session]{IDHashKey: hashKey, EncryptionKeys: [][]byte{testKey(1)}, Owner: byUserID}
	mr, client, s := newMini(t, opts)
	ids := []string{"phone-id", "laptop-id", "tablet-id"}
	for _, id := range ids {
		if err := s.Create(ctx, id, expiring(42, time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Replace(ctx, "phone-id", expiring(42, 2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Touch(ctx, "laptop-id", expiring(42, 2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, "tablet-id", func(v *session) error { v.Name = "tablet"; return nil }); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetAndExtend(ctx, "tablet-id", time.Hour); err != nil || v.Name != "tablet" {
		t.Fatalf("GetAndExtend = %+v, %v; want the updated session", v, err)
	}
	if err := s.Create(ctx, "phone-id", expiring(42, time.Hour)); !errors.Is(err, typedstore.ErrExists) {
		t.Errorf("Create of a hashed id in use = %v; want ErrExists", err)
	}
	var names []string
	for _, id := range ids {
		names = append(names, hashedName(hashKey, id))
	}
	slices.Sort(names)
	for _, k := range mr.Keys() {
		for _, id := range ids {
			if strings.Contains(k, id) {
				t.Errorf("key %q holds the id %q", k, id)
			}
		}
		if !mr.Exists(k) {
			continue
		}
		if members, err := mr.ZMembers(k); err == nil {
			for _, m := range members {
				if !slices.Contains(names, m) {
					t.Errorf("index %q has the member %q; want only hashes", k, m)
				}
			}
		}
	}
	if got, err := collectIDs(t, s); err != nil || !slices.Equal(got, names) {
		t.Errorf("IDs = %q, %v; want the hashes %q", got, err, names)
	}
	if all, err := collectAll(t, s); err != nil || len(all) != 3 || all[hashedName(hashKey, "tablet-id")].Name != "tablet" {
		t.Errorf("All = %v, %v; want the 3 sessions by hash", all, err)
	}
	seq, errf := s.OwnedBy(ctx, "42")
	owned := slices.Sorted(func(yield func(string) bool) {
		for name := range seq {
			if !yield(name) {
				return
			}
		}
	})
	if err := errf(); err != nil || !slices.Equal(owned, names) {
		t.Errorf("OwnedBy = %q, %v; want the hashes %q", owned, err, names)
	}

	// Under another IDHashKey, or none, the sessions are not found by id.
	for name, other := range map[string][]byte{"other IDHashKey": testKey(8), "no IDHashKey": nil} {
		o, err := typedstore.New(client, typedstore.Options[session]{IDHashKey: other, EncryptionKeys: opts.EncryptionKeys})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o.Get(ctx, "phone-id"); !errors.Is(err, typedstore.ErrNotFound) {
			t.Errorf("%s: Get = %v; want ErrNotFound", name, err)
		}
	}

	// The hashes are no ids: the store does not find a session by its hash.
	if _, err := s.Get(ctx, hashedName(hashKey, "phone-id")); !errors.Is(err, typedstore.ErrNotFound) {
		t.Errorf("Get of a hash = %v; want ErrNotFound", err)
	}
	// A store without IDHashKey reads and deletes by hash.
	byName, err := typedstore.New(client, typedstore.Options[session]{EncryptionKeys: opts.EncryptionKeys, Owner: byUserID})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := byName.Get(ctx, hashedName(hashKey, "tablet-id")); err != nil || v.Name != "tablet" {
		t.Errorf("Get by hash without IDHashKey = %+v, %v; want the tablet's session", v, err)
	}
	if err := byName.Delete(ctx, hashedName(hashKey, "tablet-id")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "tablet-id"); !errors.Is(err, typedstore.ErrNotFound) {
		t.Errorf("Get after a delete by hash = %v; want ErrNotFound", err)
	}

	// NameOf finds a session among those OwnedBy yields; DeleteByName
	// deletes what an iteration found.
	if got, want := s.NameOf("laptop-id"), hashedName(hashKey, "laptop-id"); got != want {
		t.Errorf("NameOf = %q; want %q", got, want)
	}
	if got := byName.NameOf("laptop-id"); got != "laptop-id" {
		t.Errorf("NameOf without IDHashKey = %q; want the id", got)
	}
	if err := s.DeleteByName(ctx, s.NameOf("laptop-id")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "laptop-id"); !errors.Is(err, typedstore.ErrNotFound) {
		t.Errorf("Get after DeleteByName = %v; want ErrNotFound", err)
	}
	if err := s.DeleteByName(ctx, ""); !errors.Is(err, typedstore.ErrInvalidID) {
		t.Errorf("DeleteByName of an empty name = %v; want ErrInvalidID", err)
	}
	if err := s.Create(ctx, "laptop-id", expiring(42, time.Hour)); err != nil {
		t.Fatal(err)
	}

	// DeleteOwned keeps the sessions whose ids it is given.
	if n, err := s.DeleteOwned(ctx, "42", "phone-id"); err != nil || n != 1 {
		t.Errorf("DeleteOwned keeping the phone = %d, %v; want 1 deleted", n, err)
	}
	if _, err := s.Get(ctx, "phone-id"); err != nil {
		t.Errorf("Get of the kept session = %v", err)
	}
	if err := s.Delete(ctx, "phone-id"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Len(ctx); err != nil || n != 0 {
		t.Errorf("Len after deleting every session = %d, %v; want 0", n, err)
	}
}

// FuzzSealedValue stores hostile bytes under a session's key and reads
// them through a store with EncryptionKeys and CompressAbove: each read is
// a *CorruptError that names the id only by a hint, never a panic, unless
// the bytes are a value sealed under the store's keys.
func FuzzSealedValue(f *testing.F) {
	mr := miniredis.RunT(f)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	f.Cleanup(func() { client.Close() })
	s, err := typedstore.New(client, typedstore.Options[session]{
		EncryptionKeys: [][]byte{testKey(1), testKey(2)}, CompressAbove: 64, MaxSize: 4096,
	})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	v := expiring(7, time.Hour)
	for _, large := range []bool{false, true} {
		if large {
			v.Cart = slices.Repeat([]string{"apples"}, 30)
		}
		if err := s.Set(ctx, "fuzzed-session-id", v); err != nil {
			f.Fatal(err)
		}
		sealed, _ := mr.Get("sess:fuzzed-session-id")
		f.Add([]byte(sealed))
		f.Add([]byte(sealed + "\x00"))
		f.Add([]byte(sealed[:46]))
	}
	f.Add([]byte{0xA5, 0x01, 0, 0, 0, 0})
	f.Add([]byte(`{"userId":7}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		mr.Set("sess:fuzzed-session-id", string(data))
		got, err := s.Get(ctx, "fuzzed-session-id")
		if err == nil {
			// Only a value sealed under the store's keys opens: one of
			// the seeds, sealed here or by another fuzzing process.
			if got.UserID != 7 || (len(got.Cart) != 0 && len(got.Cart) != 30) {
				t.Fatalf("Get of hostile bytes = %+v; want a *CorruptError", got)
			}
			return
		}
		var ce *typedstore.CorruptError
		if !errors.As(err, &ce) || ce.ID != "fuzzed-session-id" {
			t.Fatalf("Get of hostile bytes = %+v, %v; want a *CorruptError", got, err)
		}
		if strings.Contains(err.Error(), "fuzzed-session-id") {
			t.Fatalf("error %q shows the id", err)
		}
		if stored, _ := mr.Get("sess:fuzzed-session-id"); stored != string(data) {
			t.Fatal("the read changed the stored bytes")
		}
	})
}

// atRestMachine checks a store with EncryptionKeys (and, as drawn,
// IDHashKey and CompressAbove) against a map model, through rotations of
// its keys: Rotate puts a new random key first, keeping the old ones, so
// that sessions stay sealed under any of them; Migrate reseals every
// session under the first key, and then drops the others, which All would
// find if a session were still sealed under one.
type atRestMachine struct {
	ctx    context.Context
	mr     *miniredis.Miniredis
	client *redis.Client
	opts   typedstore.Options[session]
	s      *typedstore.Store[session]
	model  map[string]session
}

func (m *atRestMachine) rebuild(t *rapid.T) {
	s, err := typedstore.New(m.client, m.opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	m.s = s
}

func (m *atRestMachine) name(id string) string {
	if m.opts.IDHashKey == nil {
		return id
	}
	return hashedName(m.opts.IDHashKey, id)
}

func (m *atRestMachine) Set(t *rapid.T) {
	id := rapid.SampledFrom(machineIDs).Draw(t, "id")
	v := expiring(rapid.Int64().Draw(t, "user"), time.Hour)
	v.Name = rapid.String().Draw(t, "name")
	v.Cart = rapid.SliceOfN(rapid.StringMatching(`[a-z ]{0,40}`), 0, 60).Draw(t, "cart")
	if err := m.s.Set(m.ctx, id, v); err != nil {
		t.Fatalf("Set(%q): %v", id, err)
	}
	m.model[id] = v
}

func (m *atRestMachine) Get(t *rapid.T) {
	id := rapid.SampledFrom(machineIDs).Draw(t, "id")
	got, err := m.s.Get(m.ctx, id)
	want, ok := m.model[id]
	switch {
	case !ok && !errors.Is(err, typedstore.ErrNotFound):
		t.Fatalf("Get(%q) = %+v, %v; want ErrNotFound", id, got, err)
	case ok && (err != nil || !sameSession(got, want) || !slices.Equal(got.Cart, want.Cart)):
		t.Fatalf("Get(%q) = %+v, %v; want %+v", id, got, err, want)
	}
}

func (m *atRestMachine) Update(t *rapid.T) {
	id := rapid.SampledFrom(machineIDs).Draw(t, "id")
	item := rapid.StringMatching(`[a-z]{1,10}`).Draw(t, "item")
	err := m.s.Update(m.ctx, id, func(v *session) error { v.Cart = append(v.Cart, item); return nil })
	want, ok := m.model[id]
	if !ok {
		if !errors.Is(err, typedstore.ErrNotFound) {
			t.Fatalf("Update(%q) of a missing session = %v; want ErrNotFound", id, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Update(%q): %v", id, err)
	}
	want.Cart = append(slices.Clone(want.Cart), item)
	m.model[id] = want
}

func (m *atRestMachine) Delete(t *rapid.T) {
	id := rapid.SampledFrom(machineIDs).Draw(t, "id")
	if err := m.s.Delete(m.ctx, id); err != nil {
		t.Fatalf("Delete(%q): %v", id, err)
	}
	delete(m.model, id)
}

func (m *atRestMachine) Rotate(t *rapid.T) {
	key := rapid.SliceOfN(rapid.Byte(), typedstore.EncryptionKeySize, typedstore.EncryptionKeySize).Draw(t, "key")
	for _, k := range m.opts.EncryptionKeys {
		if bytes.Equal(k, key) {
			t.Skip("a key the store has already")
		}
	}
	m.opts.EncryptionKeys = append([][]byte{key}, m.opts.EncryptionKeys...)
	m.rebuild(t)
}

func (m *atRestMachine) Migrate(t *rapid.T) {
	r, err := m.s.Migrate(m.ctx, typedstore.MigrateOptions{})
	if err != nil || r.Sessions != len(m.model) || r.Failed != 0 || r.Migrated != r.OldKey {
		t.Fatalf("Migrate = %+v, %v; want %d sessions, those under old keys resealed", r, err, len(m.model))
	}
	m.opts.EncryptionKeys = m.opts.EncryptionKeys[:1]
	m.rebuild(t)
}

func (m *atRestMachine) Check(t *rapid.T) {
	all, errf := m.s.All(m.ctx)
	got := map[string]session{}
	for name, v := range all {
		got[name] = v
	}
	if err := errf(); err != nil || len(got) != len(m.model) {
		t.Fatalf("All = %d sessions, %v; want %d", len(got), err, len(m.model))
	}
	for id, want := range m.model {
		if g, ok := got[m.name(id)]; !ok || !sameSession(g, want) || !slices.Equal(g.Cart, want.Cart) {
			t.Fatalf("All[%q] = %+v, %v; want %+v", m.name(id), g, ok, want)
		}
	}
}

func TestAtRestMachine(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		mr := miniredis.RunT(t)
		client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		defer client.Close()
		m := &atRestMachine{ctx: context.Background(), mr: mr, client: client, model: map[string]session{}}
		m.opts = typedstore.Options[session]{
			EncryptionKeys: [][]byte{testKey(1)},
			CompressAbove:  rapid.SampledFrom([]int{0, 1, 300}).Draw(t, "compressAbove"),
			ScanCount:      rapid.IntRange(1, 5).Draw(t, "scanCount"),
		}
		if rapid.Bool().Draw(t, "hashed") {
			m.opts.IDHashKey = testKey(0xEE)
		}
		m.rebuild(t)
		t.Repeat(rapid.StateMachineActions(m))
	})
}

// AcceptPlaintext switches a deployment to encryption without logging its
// users out: the values stored in clear are read, and sealed on their
// first read or by Migrate, after which the option can go.
func TestAcceptPlaintext(t *testing.T) {
	ctx := context.Background()
	mr, client, plain := newMini(t, typedstore.Options[session]{})
	for i, id := range []string{"read", "migrated", "also-migrated"} {
		if err := plain.Set(ctx, id, expiring(int64(i+1), time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	switching, err := typedstore.New(client, typedstore.Options[session]{EncryptionKeys: [][]byte{testKey(1)}, AcceptPlaintext: true})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := switching.Get(ctx, "read"); err != nil || v.UserID != 1 {
		t.Fatalf("Get of a plaintext session = %+v, %v; want it", v, err)
	}
	if data, _ := mr.Get("sess:read"); !strings.HasPrefix(data, "\xa5") {
		t.Errorf("the plaintext session read is still stored %q; want it sealed", data)
	}
	r, err := switching.Migrate(ctx, typedstore.MigrateOptions{})
	if err != nil || r.Sessions != 3 || r.OldKey != 2 || r.Migrated != 2 {
		t.Fatalf("Migrate = %+v, %v; want the 2 plaintext sessions left sealed", r, err)
	}
	sealed, err := typedstore.New(client, typedstore.Options[session]{EncryptionKeys: [][]byte{testKey(1)}})
	if err != nil {
		t.Fatal(err)
	}
	if all, err := collectAll(t, sealed); err != nil || len(all) != 3 || all["also-migrated"].UserID != 3 {
		t.Errorf("All without AcceptPlaintext = %v, %v; want the 3 sessions", all, err)
	}
	// A value that begins as a sealed one is opened, and fails as one.
	mr.Set("sess:forged", "\xa5"+`{"userId":666}`)
	var ce *typedstore.CorruptError
	if _, err := switching.Get(ctx, "forged"); !errors.As(err, &ce) {
		t.Errorf("Get of a broken sealed value under AcceptPlaintext = %v; want a *CorruptError", err)
	}
	for _, tc := range []struct {
		keys [][]byte
		want string
	}{{nil, "AcceptPlaintext needs EncryptionKeys"}, {[][]byte{}, "EncryptionKeys is empty"}} {
		if _, err := typedstore.New(client, typedstore.Options[session]{AcceptPlaintext: true, EncryptionKeys: tc.keys}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New with AcceptPlaintext and %d keys = %v; want %q", len(tc.keys), err, tc.want)
		}
	}
	// The reseal of a value read in clear keeps what T does not declare.
	mr.Set("sess:express", `{"userId":9,"passport":{"user":"alice"}}`)
	if v, err := switching.Get(ctx, "express"); err != nil || v.UserID != 9 {
		t.Fatalf("Get = %+v, %v", v, err)
	}
	raw, err := typedstore.New(client, typedstore.Options[[]byte]{EncryptionKeys: [][]byte{testKey(1)}, Codec: rawCodec{}})
	if err != nil {
		t.Fatal(err)
	}
	if stored, err := raw.Get(ctx, "express"); err != nil || !bytes.Contains(stored, []byte(`"passport":{"user":"alice"}`)) {
		t.Errorf("the resealed value = %s, %v; want the members T does not declare kept", stored, err)
	}
	// MaxSize bounds a value read in clear as it does without keys.
	small, err := typedstore.New(client, typedstore.Options[session]{EncryptionKeys: [][]byte{testKey(1)}, AcceptPlaintext: true, MaxSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	mr.Set("sess:big", `{"userId":1,"name":"`+strings.Repeat("x", 100)+`"}`)
	if _, err := small.Get(ctx, "big"); !errors.Is(err, typedstore.ErrTooLarge) {
		t.Errorf("Get of a plaintext value over MaxSize = %v; want ErrTooLarge", err)
	}
}

// A value read earlier and written back under the same key opens: sealing
// does not detect a replay, as the threat model says.
func TestReplayedValueOpens(t *testing.T) {
	ctx := context.Background()
	mr, _, s := newMini(t, typedstore.Options[session]{EncryptionKeys: [][]byte{testKey(1)}})
	if err := s.Set(ctx, "id", expiring(1, time.Hour)); err != nil {
		t.Fatal(err)
	}
	old, _ := mr.Get("sess:id")
	if err := s.Set(ctx, "id", expiring(2, time.Hour)); err != nil {
		t.Fatal(err)
	}
	mr.Set("sess:id", old)
	if v, err := s.Get(ctx, "id"); err != nil || v.UserID != 1 {
		t.Errorf("Get of a replayed value = %+v, %v; want the older session", v, err)
	}
}

// DecodeRepair of a value that does not open keeps nothing of it: the
// repaired session is sealed with the members OnDecodeError gives, and
// none that whoever wrote the unsealed value added.
func TestRepairKeepsNothingUnsealed(t *testing.T) {
	ctx := context.Background()
	mr, _, s := newMini(t, typedstore.Options[session]{
		EncryptionKeys: [][]byte{testKey(1)},
		OnDecodeError: func(data []byte, err error) (session, typedstore.DecodeAction) {
			return expiring(0, time.Hour), typedstore.DecodeRepair
		},
	})
	mr.Set("sess:forged", `{"userId":1,"passport":{"user":"admin"}}`)
	v, err := s.Get(ctx, "forged")
	if err != nil || v.UserID != 0 {
		t.Fatalf("Get = %+v, %v; want the repaired session", v, err)
	}
	raw, err := typedstore.New(redis.NewClient(&redis.Options{Addr: mr.Addr()}), typedstore.Options[[]byte]{EncryptionKeys: [][]byte{testKey(1)}, Codec: rawCodec{}})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := raw.Get(ctx, "forged")
	if err != nil || bytes.Contains(stored, []byte("passport")) {
		t.Errorf("the repaired session stored %s, %v; want it sealed without the forged members", stored, err)
	}
}

// A session under an older key that does not decode counts in Failed, not
// in OldKey: a Migrate that resealed all it could reports OldKey 0 again.
func TestMigrateCountsOldKeysItCanReseal(t *testing.T) {
	ctx := context.Background()
	_, client, old := newMini(t, typedstore.Options[[]byte]{EncryptionKeys: [][]byte{testKey(1)}, Codec: rawCodec{}})
	_ = old.Set(ctx, "good", []byte(`{"userId":1}`))
	_ = old.Set(ctx, "broken", []byte(`{"userId":`))
	next, err := typedstore.New(client, typedstore.Options[session]{EncryptionKeys: [][]byte{testKey(2), testKey(1)}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for run, want := range []int{1, 0} {
		r, err := next.Migrate(ctx, typedstore.MigrateOptions{})
		if err != nil || r.Sessions != 2 || r.OldKey != want || r.Migrated != want || r.Failed != 1 {
			t.Errorf("Migrate run %d = %+v, %v; want %d under the old key resealed, 1 failed", run+1, r, err, want)
		}
	}
}

// A session under an older key that decodes but does not encode again
// within MaxSize counts in Failed, not in OldKey.
func TestMigrateOldKeyThatDoesNotEncode(t *testing.T) {
	ctx := context.Background()
	_, client, old := newMini(t, typedstore.Options[[]byte]{EncryptionKeys: [][]byte{testKey(1)}, Codec: rawCodec{}})
	// JSON escapes \u003c as it decodes it to <, and encodes < as \u003c:
	// fewer bytes stored than the session encodes to.
	_ = old.Set(ctx, "grows", []byte(`{"name":"`+strings.Repeat("<", 60)+`"}`))
	next, err := typedstore.New(client, typedstore.Options[session]{EncryptionKeys: [][]byte{testKey(2), testKey(1)}, TTL: time.Hour, MaxSize: 200})
	if err != nil {
		t.Fatal(err)
	}
	for run := range 2 {
		r, err := next.Migrate(ctx, typedstore.MigrateOptions{})
		if err != nil || r.Sessions != 1 || r.OldKey != 0 || r.Failed != 1 {
			t.Errorf("Migrate run %d = %+v, %v; want 1 failed and none counted under the old key", run+1, r, err)
		}
	}
}

// The error that Hooks.End receives keeps ErrUnauthenticated.
func TestHooksSeeErrUnauthenticated(t *testing.T) {
	var got error
	mr, _, s := newMini(t, typedstore.Options[session]{
		EncryptionKeys: [][]byte{testKey(1)},
		Hooks:          typedstore.Hooks{End: func(ctx context.Context, op typedstore.Op, r typedstore.Result) { got = r.Err }},
	})
	mr.Set("sess:forged", `{"userId":1}`)
	if _, err := s.Get(context.Background(), "forged"); !errors.Is(err, typedstore.ErrUnauthenticated) {
		t.Fatalf("Get = %v; want ErrUnauthenticated", err)
	}
	if !errors.Is(got, typedstore.ErrUnauthenticated) || !errors.Is(got, typedstore.ErrCorrupt) {
		t.Errorf("Hooks.End's error = %v; want ErrCorrupt and ErrUnauthenticated", got)
	}
}
