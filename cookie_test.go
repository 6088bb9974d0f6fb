package typedstore_test

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
)

// flattened embeds the Cookie with no JSON name, which would store its
// fields at the top level of the session.
type flattened struct {
	typedstore.Cookie
	UserID int64 `json:"userId"`
}

// flattenedOmitEmpty has a tag, but still no name.
type flattenedOmitEmpty struct {
	typedstore.Cookie `json:",omitempty"`
	UserID            int64 `json:"userId"`
}

// flattenedCodec stores flattened with a codec of its own, which decides
// the stored shape itself.
type flattenedCodec struct{}

func (flattenedCodec) Encode(flattened) ([]byte, error) { return []byte("x"), nil }
func (flattenedCodec) Decode([]byte, *flattened) error  { return nil }

func TestNewRejectsCookieWithoutJSONName(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: closedAddr(t)})
	t.Cleanup(func() { client.Close() })
	for name, newStore := range map[string]func() error{
		"no tag": func() error {
			_, err := typedstore.New(client, typedstore.Options[flattened]{})
			return err
		},
		"tag without a name": func() error {
			_, err := typedstore.New(client, typedstore.Options[flattenedOmitEmpty]{})
			return err
		},
		"explicit JSON codec": func() error {
			_, err := typedstore.New(client, typedstore.Options[flattened]{Codec: typedstore.JSONCodec[flattened]{}})
			return err
		},
	} {
		err := newStore()
		if err == nil || !strings.Contains(err.Error(), "`json:\"cookie\"`") {
			t.Errorf("%s: New = %v; want an error naming the tag `json:\"cookie\"`", name, err)
		}
	}
	if _, err := typedstore.New(client, typedstore.Options[flattened]{Codec: flattenedCodec{}}); err != nil {
		t.Errorf("New with a codec of its own = %v; want nil: that codec decides the shape", err)
	}
	if _, err := typedstore.New(client, typedstore.Options[session]{}); err != nil {
		t.Errorf("New with the tag = %v; want nil", err)
	}
}
