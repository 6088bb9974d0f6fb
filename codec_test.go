package typedstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/typedstore/typedstore"
)

// gobCodec is a custom codec for the test: the store must use it for both
// directions and report its errors.
type upperCodec struct{}

func (upperCodec) Encode(v string) ([]byte, error) {
	if v == "" {
		return nil, errors.New("empty value")
	}
	return []byte("v1:" + v), nil
}

func (upperCodec) Decode(data []byte, v *string) error {
	s, ok := strings.CutPrefix(string(data), "v1:")
	if !ok {
		return errors.New("missing version tag")
	}
	*v = s
	return nil
}

func TestCustomCodec(t *testing.T) {
	ctx := context.Background()
	mr, _, s := newMini(t, typedstore.Options[string]{Codec: upperCodec{}})
	if err := s.Set(ctx, "k", "hello"); err != nil {
		t.Fatal(err)
	}
	if raw, _ := mr.Get("sess:k"); raw != "v1:hello" {
		t.Errorf("stored %q; want the codec's encoding %q", raw, "v1:hello")
	}
	if got, err := s.Get(ctx, "k"); got != "hello" || err != nil {
		t.Errorf("Get = %q, %v; want hello, nil", got, err)
	}
	if err := s.Set(ctx, "k", ""); err == nil || !strings.Contains(err.Error(), "empty value") {
		t.Errorf("Set with an encode error = %v; want the codec's error", err)
	}
	if raw, _ := mr.Get("sess:k"); raw != "v1:hello" {
		t.Errorf("a failed encode changed the stored value to %q", raw)
	}
	mr.Set("sess:old", "hello")
	if _, err := s.Get(ctx, "old"); !errors.Is(err, typedstore.ErrCorrupt) {
		t.Errorf("Get of undecodable value = %v; want ErrCorrupt", err)
	}
}
