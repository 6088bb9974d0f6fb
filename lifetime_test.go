package typedstore_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/redistest"
	"github.com/typedstore/typedstore/internal/storeapi"
)

// Lifetime is stored at the top level of the session under the embedding
// field's JSON name, in Unix milliseconds, and an unknown time is left out.
func TestLifetimeJSON(t *testing.T) {
	type withLifetime struct {
		typedstore.Cookie   `json:"cookie"`
		typedstore.Lifetime `json:"lifetime"`
		UserID              int `json:"userId"`
	}
	start := time.UnixMilli(1764676800123).UTC()
	v := withLifetime{Lifetime: typedstore.Lifetime{StartedAt: start.UnixMilli(), IssuedAt: start.UnixMilli() + 1000}, UserID: 1}
	b, err := typedstore.JSONCodec[withLifetime]{}.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	if got, want := string(top["lifetime"]), `{"startedAt":1764676800123,"issuedAt":1764676801123}`; got != want {
		t.Errorf("stored lifetime %s; want %s", got, want)
	}
	if got := v.Started(); !got.Equal(start) {
		t.Errorf("Started() = %v; want %v", got, start)
	}
	if got := v.Issued(); !got.Equal(start.Add(time.Second)) {
		t.Errorf("Issued() = %v; want %v", got, start.Add(time.Second))
	}
	b, _ = typedstore.JSONCodec[withLifetime]{}.Encode(withLifetime{})
	if err := json.Unmarshal(b, &top); err != nil || string(top["lifetime"]) != `{}` {
		t.Errorf("stored zero lifetime %s; want {}", top["lifetime"])
	}
	if !(typedstore.Lifetime{}).Started().IsZero() || !(typedstore.Lifetime{}).Issued().IsZero() {
		t.Error("an unknown time is not the zero time")
	}
}

// The record of a renewed id: the first renewal's id wins, a second
// renewal learns it, it is read back, and it lasts only its time to live.
func TestForwardRenewedID(t *testing.T) {
	for name, newClient := range bothServers() {
		t.Run(name, func(t *testing.T) {
			client := newClient(t)
			prefix := redistest.UniquePrefix(t)
			s, err := typedstore.New(client, typedstore.Options[session]{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			f := storeapi.For[session](s)
			if f.ForwardErr != nil {
				t.Fatal(f.ForwardErr)
			}
			ctx := t.Context()
			if to, err := f.Forwarded(ctx, "old"); to != "" || err != nil {
				t.Errorf("Forwarded before any renewal = %q, %v; want \"\", nil", to, err)
			}
			if to, err := f.Forward(ctx, "old", "first", time.Minute); to != "first" || err != nil {
				t.Errorf("first Forward = %q, %v; want first", to, err)
			}
			if to, err := f.Forward(ctx, "old", "second", time.Minute); to != "first" || err != nil {
				t.Errorf("second Forward = %q, %v; want the first's id", to, err)
			}
			if to, err := f.Forwarded(ctx, "old"); to != "first" || err != nil {
				t.Errorf("Forwarded = %q, %v; want first", to, err)
			}
			ttl := client.PTTL(ctx, "renewed:"+prefix+"old").Val()
			if ttl <= 0 || ttl > time.Minute {
				t.Errorf("the record's time to live %v; want up to a minute", ttl)
			}
			if _, err := f.Forward(ctx, "", "x", time.Minute); err == nil {
				t.Error("Forward of an empty id = nil error")
			}
		})
	}
	mr, _, s := newMini(t, typedstore.Options[session]{})
	f := storeapi.For[session](s)
	f.Forward(t.Context(), "old", "new", time.Minute)
	mr.FastForward(time.Minute)
	if to, err := f.Forwarded(t.Context(), "old"); to != "" || err != nil {
		t.Errorf("Forwarded after the record's time to live = %q, %v; want \"\", nil", to, err)
	}
}
