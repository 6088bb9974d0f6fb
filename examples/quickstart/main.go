// Command quickstart shows typedstore at work: it stores a few typed
// sessions, reads one back, ranges over them all with their time to live,
// and deletes them.
//
// It runs on an in-process Redis (miniredis) unless REDIS_URL names a real
// server, such as redis://127.0.0.1:6379/0; there it works under a prefix of
// its own and deletes only what it wrote.
//
//	go run ./examples/quickstart
//	REDIS_URL=redis://127.0.0.1:6379/0 go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"slices"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/typedstore/typedstore"
)

// Session is this application's session: the express-session cookie plus
// typed data of its own.
type Session struct {
	typedstore.Cookie `json:"cookie"`
	UserID            int64    `json:"userId"`
	Name              string   `json:"name"`
	Cart              []string `json:"cart,omitempty"`
}

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	url := os.Getenv("REDIS_URL")
	prefix := fmt.Sprintf("quickstart:%d:", os.Getpid())
	if url == "" {
		mr, err := miniredis.Run()
		if err != nil {
			return err
		}
		defer mr.Close()
		url = "redis://" + mr.Addr()
		fmt.Println("Redis: embedded miniredis at", mr.Addr())
	} else {
		fmt.Println("Redis:", url)
	}

	store, err := typedstore.Open(url, typedstore.Options[Session]{Prefix: prefix, TTL: 2 * time.Hour})
	if err != nil {
		return err
	}
	defer store.Close()
	defer store.Clear(ctx) // tidy up even on an early return

	// Two sessions whose cookies expire, one with no cookie expiry (it takes
	// the store's TTL of two hours).
	in30m := time.Now().Add(30 * time.Minute)
	in1d := time.Now().Add(24 * time.Hour)
	sessions := map[string]Session{
		"ada":   {Cookie: typedstore.Cookie{ExpiresAt: &in30m, Path: "/", HTTPOnly: true}, UserID: 1, Name: "Ada", Cart: []string{"tea", "scones"}},
		"grace": {Cookie: typedstore.Cookie{ExpiresAt: &in1d, Path: "/", HTTPOnly: true}, UserID: 2, Name: "Grace"},
		"linus": {UserID: 3, Name: "Linus"},
	}
	for id, s := range sessions {
		if err := store.Set(ctx, id, s); err != nil {
			return err
		}
	}
	fmt.Printf("stored %d sessions under prefix %q\n", len(sessions), prefix)

	ada, err := store.Get(ctx, "ada")
	if err != nil {
		return err
	}
	fmt.Printf("Get(ada): user %d, %s, cart %v\n", ada.UserID, ada.Name, ada.Cart)

	if _, err := store.Get(ctx, "nobody"); errors.Is(err, typedstore.ErrNotFound) {
		fmt.Println("Get(nobody): not found")
	}

	all, errf := store.All(ctx)
	var lines []string
	for id, s := range all {
		ttl, err := store.Client().PTTL(ctx, prefix+id).Result()
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("  %-6s user %d %-6s TTL %v", id, s.UserID, s.Name, ttl.Round(time.Minute)))
	}
	if err := errf(); err != nil {
		return err
	}
	slices.Sort(lines)
	fmt.Println("All:")
	for _, l := range lines {
		fmt.Println(l)
	}

	if err := store.Delete(ctx, "ada", "grace", "linus"); err != nil {
		return err
	}
	n, err := store.Len(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("deleted them; %d sessions left\n", n)
	return nil
}
