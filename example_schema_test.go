package typedstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
)

// Profile is version 2 of a session type: version 1 kept a full name.
type Profile struct {
	First string `json:"first"`
	Last  string `json:"last,omitempty"`
}

// This example changes a session type: a session saved by version 1 is
// read as version 2 and written back in its new shape, with the member that
// an Express app keeps in it.
func ExampleOptions_migrations() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer client.Close()
	// A session saved by version 1, with connect-flash's messages.
	mr.Set("sess:ada", `{"schemaVersion":1,"name":"Ada Lovelace","flash":["Welcome"]}`)

	store, err := typedstore.New(client, typedstore.Options[Profile]{
		Version: 2,
		Migrations: map[int]func([]byte) ([]byte, error){
			1: splitName, // from version 1 to version 2
		},
	})
	if err != nil {
		panic(err)
	}

	p, err := store.Get(context.Background(), "ada")
	if err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", p)
	stored, _ := mr.Get("sess:ada")
	fmt.Println(stored)
	// Output:
	// {First:Ada Last:Lovelace}
	// {"first":"Ada","last":"Lovelace","schemaVersion":2,"flash":["Welcome"]}
}

// splitName turns a session of version 1, {"name":"Ada Lovelace"}, into
// one of version 2, {"first":"Ada","last":"Lovelace"}, and keeps every
// other member.
func splitName(old []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(old, &m); err != nil {
		return nil, err
	}
	var name string
	if err := json.Unmarshal(m["name"], &name); err != nil {
		return nil, fmt.Errorf("name: %w", err)
	}
	delete(m, "name")
	first, last, _ := strings.Cut(name, " ")
	m["first"], _ = json.Marshal(first)
	m["last"], _ = json.Marshal(last)
	return json.Marshal(m)
}
