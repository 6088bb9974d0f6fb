package typedstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
)

// Sessions sealed with EncryptionKeys, under keys that hold a keyed hash of
// their ids (IDHashKey): Redis holds neither the data nor the ids, and the
// iterations yield the hashes, which NameOf gives for an id.
func ExampleOptions_encryptionKeys() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer client.Close()

	key, idKey := make([]byte, typedstore.EncryptionKeySize), make([]byte, 32)
	rand.Read(key) // in production: from a secret store, the same on every instance
	rand.Read(idKey)
	store, err := typedstore.New(client, typedstore.Options[Session]{
		TTL:            time.Hour,
		EncryptionKeys: [][]byte{key}, // the first seals; add older keys after it to rotate
		IDHashKey:      idKey,
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	_ = store.Set(ctx, "alice-session-id", Session{UserID: 1, Cart: []string{"apple"}})

	for _, k := range mr.Keys() {
		stored, _ := mr.Get(k)
		fmt.Println(strings.Contains(k, "alice-session-id"), strings.Contains(stored, "apple"))
	}
	sess, err := store.Get(ctx, "alice-session-id")
	fmt.Println(sess.UserID, sess.Cart, err)

	seq, errf := store.IDs(ctx)
	for name := range seq {
		fmt.Println(name == store.NameOf("alice-session-id"))
	}
	if err := errf(); err != nil {
		panic(err)
	}

	_, err = typedstore.New(client, typedstore.Options[Session]{EncryptionKeys: [][]byte{bytes.Repeat([]byte{1}, 16)}})
	fmt.Println(err)
	// Output:
	// false false
	// 1 [apple] <nil>
	// true
	// typedstore: New: EncryptionKeys[0] is 16 bytes long; an AES-256 key is 32
}
