package typedstore_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"pgregory.net/rapid"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/redistest"
)

// Three shapes of one session type. Version 1 (and 0, before versions)
// keeps a full name and a cart of SKUs; version 2 splits the name; version
// 3 turns the cart into items with quantities.
type (
	shapeV1 struct {
		Name string   `json:"name"`
		Cart []string `json:"cart,omitempty"`
	}
	shapeV2 struct {
		First string   `json:"first"`
		Last  string   `json:"last,omitempty"`
		Cart  []string `json:"cart,omitempty"`
	}
	item struct {
		SKU string `json:"sku"`
		Qty int    `json:"qty"`
	}
	shapeV3 struct {
		First string `json:"first"`
		Last  string `json:"last,omitempty"`
		Items []item `json:"items,omitempty"`
	}
)

// migrations are the steps 1→2 and 2→3, on raw JSON; the members they do
// not touch (an Express app's) pass through.
var migrations = map[int]func([]byte) ([]byte, error){
	1: func(old []byte) ([]byte, error) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(old, &m); err != nil {
			return nil, err
		}
		var name string
		if err := json.Unmarshal(m["name"], &name); err != nil && m["name"] != nil {
			return nil, err
		}
		first, last, _ := strings.Cut(name, " ")
		delete(m, "name")
		m["first"], _ = json.Marshal(first)
		if last != "" {
			m["last"], _ = json.Marshal(last)
		}
		return json.Marshal(m)
	},
	2: func(old []byte) ([]byte, error) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(old, &m); err != nil {
			return nil, err
		}
		var cart []string
		if m["cart"] != nil {
			if err := json.Unmarshal(m["cart"], &cart); err != nil {
				return nil, err
			}
		}
		delete(m, "cart")
		var items []item
		for _, sku := range cart {
			if n := len(items); n > 0 && items[n-1].SKU == sku {
				items[n-1].Qty++
				continue
			}
			items = append(items, item{sku, 1})
		}
		if items != nil {
			m["items"], _ = json.Marshal(items)
		}
		return json.Marshal(m)
	},
}

// modelV3 is what a version-1 session becomes, computed directly.
func modelV3(v shapeV1) shapeV3 {
	first, last, _ := strings.Cut(v.Name, " ")
	out := shapeV3{First: first, Last: last}
	for _, sku := range v.Cart {
		if n := len(out.Items); n > 0 && out.Items[n-1].SKU == sku {
			out.Items[n-1].Qty++
			continue
		}
		out.Items = append(out.Items, item{sku, 1})
	}
	return out
}

// storedAs returns v, with the members extra, as a program at version ver
// stores it (ver 0: no version member).
func storedAs(t interface{ Fatal(...any) }, v shapeV1, ver int, extra map[string]json.RawMessage) string {
	data, _ := json.Marshal(v)
	for n := 1; n < ver; n++ {
		var err error
		if data, err = migrations[n](data); err != nil {
			t.Fatal(err)
		}
	}
	var m map[string]json.RawMessage
	json.Unmarshal(data, &m)
	for k, raw := range extra {
		m[k] = raw
	}
	if ver > 0 {
		m[typedstore.DefaultVersionKey] = json.RawMessage(fmt.Sprint(ver))
	}
	out, _ := json.Marshal(m)
	return string(out)
}

// Any stored version loads as the current type, equal to the model's
// migration of it; the load writes it back in the current shape, with the
// current version and the members the type does not declare, and the next
// load finds nothing to migrate.
func TestMigrationChain(t *testing.T) {
	mr, _, s := newMini(t, typedstore.Options[shapeV3]{Version: 3, Migrations: migrations, TTL: time.Hour})
	rapid.Check(t, func(rt *rapid.T) {
		v := shapeV1{
			Name: rapid.SampledFrom([]string{"", "Ada", "Ada Lovelace", "Grace Brewster Hopper"}).Draw(rt, "name"),
			Cart: rapid.SliceOfN(rapid.SampledFrom([]string{"book", "pen", "ink"}), 0, 5).Draw(rt, "cart"),
		}
		ver := rapid.IntRange(0, 3).Draw(rt, "stored version")
		extra := map[string]json.RawMessage{}
		if rapid.Bool().Draw(rt, "express members") {
			extra["passport"] = json.RawMessage(`{"user":"7"}`)
			extra["flash"] = json.RawMessage(`["hi"]`)
		}
		mr.FlushAll()
		mr.Set("sess:k", storedAs(rt, v, ver, extra))
		mr.SetTTL("sess:k", time.Hour)
		got, err := s.Get(t.Context(), "k")
		if err != nil {
			rt.Fatalf("Get: %v", err)
		}
		if want := modelV3(v); fmt.Sprint(got) != fmt.Sprint(want) {
			rt.Fatalf("loaded %+v; want %+v", got, modelV3(v))
		}
		stored, _ := mr.Get("sess:k")
		var m map[string]json.RawMessage
		json.Unmarshal([]byte(stored), &m)
		if string(m[typedstore.DefaultVersionKey]) != "3" {
			rt.Fatalf("stored %s after the load; want it written back at version 3", stored)
		}
		for k, raw := range extra {
			if string(m[k]) != string(raw) {
				rt.Fatalf("member %q is %s after the migration; want %s", k, m[k], raw)
			}
		}
		for _, old := range []string{"name", "cart"} {
			if _, ok := m[old]; ok {
				rt.Fatalf("stored %s still has the old member %q", stored, old)
			}
		}
		if ttl := mr.TTL("sess:k"); ttl != time.Hour {
			rt.Fatalf("time to live %v after the write-back; want it kept, 1h", ttl)
		}
	})
}

// Concurrent loads that migrate one session write it once: the first
// compare-and-set wins, the others find it changed and write nothing.
func TestConcurrentMigrationsWriteOnce(t *testing.T) {
	client := redistest.Client(t)
	prefix := redistest.UniquePrefix(t)
	s, err := typedstore.New(client, typedstore.Options[shapeV3]{Prefix: prefix, Version: 3, Migrations: migrations})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for round := range 20 {
		key := fmt.Sprintf("%sk%d", prefix, round)
		client.Set(ctx, key, storedAs(t, shapeV1{Name: "Ada Lovelace", Cart: []string{"pen", "pen"}}, 1, nil), time.Hour)
		before := redistest.CommandCalls(t, client)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := s.Get(ctx, key[len(prefix):]); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		after := redistest.CommandCalls(t, client)
		if sets := after["set"] - before["set"]; sets != 1 {
			t.Fatalf("round %d: %d SETs for 8 concurrent migrating loads; want 1", round, sets)
		}
	}
}

// A rolling deploy: while a new program (version 2) and an old one
// (version 1) share sessions, the old one's saves keep what the new one
// wrote, and the new one finds its data intact.
func TestRollingDeployKeepsNewerData(t *testing.T) {
	for name, newClient := range bothServers() {
		t.Run(name, func(t *testing.T) {
			client := newClient(t)
			prefix := redistest.UniquePrefix(t)
			type oldSession struct {
				Name string   `json:"name"`
				Cart []string `json:"cart,omitempty"`
			}
			type oldWithExtra struct {
				typedstore.Extra
				Name string   `json:"name"`
				Cart []string `json:"cart,omitempty"`
			}
			old, err := typedstore.New(client, typedstore.Options[oldSession]{Prefix: prefix, Version: 1})
			if err != nil {
				t.Fatal(err)
			}
			oldExtra, err := typedstore.New(client, typedstore.Options[oldWithExtra]{Prefix: prefix, Version: 1})
			if err != nil {
				t.Fatal(err)
			}
			newer, err := typedstore.New(client, typedstore.Options[shapeV2]{Prefix: prefix, Version: 2,
				Migrations: map[int]func([]byte) ([]byte, error){1: migrations[1]}})
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			// The new program writes version 2.
			if err := newer.Set(ctx, "s", shapeV2{First: "Ada", Last: "Lovelace"}); err != nil {
				t.Fatal(err)
			}
			// The old one loads and saves it, through Update and through a
			// Get and a Set of a type with an Extra.
			if err := old.Update(ctx, "s", func(v *oldSession) error { v.Cart = append(v.Cart, "pen"); return nil }); err != nil {
				t.Fatal(err)
			}
			v, err := oldExtra.Get(ctx, "s")
			if err != nil {
				t.Fatal(err)
			}
			v.Cart = append(v.Cart, "ink")
			if err := oldExtra.Set(ctx, "s", v); err != nil {
				t.Fatal(err)
			}
			// The new one loads it: its version-2 data intact, and not taken
			// for version 1 (which would split an empty name).
			got, err := newer.Get(ctx, "s")
			if err != nil {
				t.Fatal(err)
			}
			if want := (shapeV2{First: "Ada", Last: "Lovelace", Cart: []string{"pen", "ink"}}); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("new program loads %+v; want %+v", got, want)
			}
			raw := client.Get(ctx, prefix+"s").Val()
			var m map[string]json.RawMessage
			json.Unmarshal([]byte(raw), &m)
			if string(m[typedstore.DefaultVersionKey]) != "2" || strings.Count(raw, typedstore.DefaultVersionKey) != 1 {
				t.Errorf("stored %s; want version 2 kept through the old program's saves", raw)
			}
		})
	}
}

// New refuses versions it could not record.
func TestNewValidatesVersions(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { client.Close() })
	type declares struct {
		V int `json:"schemaVersion"`
	}
	nop := func(b []byte) ([]byte, error) { return b, nil }
	for name, err := range map[string]error{
		"negative":             newErr(client, typedstore.Options[shapeV3]{Version: -1}),
		"Migrations alone":     newErr(client, typedstore.Options[shapeV3]{Migrations: map[int]func([]byte) ([]byte, error){0: nop}}),
		"VersionKey alone":     newErr(client, typedstore.Options[shapeV3]{VersionKey: "v"}),
		"migration from ahead": newErr(client, typedstore.Options[shapeV3]{Version: 2, Migrations: map[int]func([]byte) ([]byte, error){2: nop}}),
		"declared member":      newErr(client, typedstore.Options[declares]{Version: 1}),
		"other codec":          newErr(client, typedstore.Options[shapeV3]{Version: 1, Codec: plainJSON[shapeV3]{}}),
		"not a struct":         newErr(client, typedstore.Options[map[string]any]{Version: 1}),
		"key with a quote":     newErr(client, typedstore.Options[shapeV3]{Version: 1, VersionKey: `a"b`}),
		"key with DEL":         newErr(client, typedstore.Options[shapeV3]{Version: 1, VersionKey: "del\x7f"}),
	} {
		if err == nil {
			t.Errorf("%s: New = nil error; want one", name)
		}
	}
	if err := newErr(client, typedstore.Options[declares]{Version: 1, VersionKey: "v"}); err != nil {
		t.Errorf("another VersionKey: New = %v; want nil", err)
	}
}

func newErr[T any](client redis.UniversalClient, opts typedstore.Options[T]) error {
	_, err := typedstore.New(client, opts)
	return err
}

// A version member that is not a version, or a migration that fails, makes
// the session a *CorruptError, and leaves it as stored.
func TestBadVersionsAreCorrupt(t *testing.T) {
	failing := map[int]func([]byte) ([]byte, error){1: func([]byte) ([]byte, error) { return nil, errors.New("no") }}
	mr, _, s := newMini(t, typedstore.Options[shapeV3]{Version: 3, Migrations: failing})
	for _, stored := range []string{`{"schemaVersion":"two"}`, `{"schemaVersion":-1}`, `{"schemaVersion":1.5}`, `{"schemaVersion":null}`,
		`{"SchemaVersion":"x"}`, `{"schema\u0056ersion":true}`, `{"schemaVersion":1,"name":"x"}`} {
		mr.Set("sess:k", stored)
		_, err := s.Get(t.Context(), "k")
		var ce *typedstore.CorruptError
		if !errors.As(err, &ce) {
			t.Errorf("Get of %s = %v; want a *CorruptError", stored, err)
		}
		if err != nil && (strings.Contains(err.Error(), "two") || strings.Contains(err.Error(), "1.5")) {
			t.Errorf("Get of %s = %v; want no part of the session in the message", stored, err)
		}
		if got, _ := mr.Get("sess:k"); got != stored {
			t.Errorf("stored %s after a failed load; want it left as %s", got, stored)
		}
	}
}

// All yields stale sessions migrated, without writing them back, and
// reports an undecodable one as corrupt whatever OnDecodeError says.
func TestAllMigratesWithoutWriting(t *testing.T) {
	mr, _, s := newMini(t, typedstore.Options[shapeV3]{Version: 3, Migrations: migrations,
		OnDecodeError: func([]byte, error) (shapeV3, typedstore.DecodeAction) { return shapeV3{}, typedstore.DecodeRepair }})
	old := storedAs(t, shapeV1{Name: "Ada Lovelace", Cart: []string{"pen"}}, 1, nil)
	mr.Set("sess:stale", old)
	mr.Set("sess:bad", `{"schemaVersion":1,"name":42}`)
	seq, errf := s.All(t.Context())
	n := 0
	for id, v := range seq {
		n++
		if want := modelV3(shapeV1{Name: "Ada Lovelace", Cart: []string{"pen"}}); id != "stale" || fmt.Sprint(v) != fmt.Sprint(want) {
			t.Errorf("All yielded %s: %+v; want stale: %+v", id, v, want)
		}
	}
	if n != 1 || !errors.Is(errf(), typedstore.ErrCorrupt) {
		t.Errorf("All yielded %d sessions, error %v; want 1, and the bad one reported corrupt", n, errf())
	}
	if got, _ := mr.Get("sess:stale"); got != old {
		t.Errorf("stored %s after All; want it left as %s", got, old)
	}
}

// The version member is found as the decoder finds members, case and
// escapes aside: a session of the current version under another spelling
// is not migrated again.
func TestVersionMemberIsFoundAsTheDecoderFindsIt(t *testing.T) {
	runs := 0
	count := map[int]func([]byte) ([]byte, error){0: func(b []byte) ([]byte, error) { runs++; return b, nil }}
	mr, _, s := newMini(t, typedstore.Options[shapeV3]{Version: 1, Migrations: count})
	for _, stored := range []string{`{"SchemaVersion":1,"first":"a"}`, `{"schema\u0056ersion":1,"first":"a"}`} {
		mr.Set("sess:k", stored)
		for range 2 {
			if _, err := s.Get(t.Context(), "k"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if runs != 0 {
		t.Errorf("the migration from version 0 ran %d times on sessions of version 1; want 0", runs)
	}
}
