package typedstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
)

// Session is the application's own session type. The embedded Cookie gives
// it express-session's stored shape and its cookie's expiry.
type Session struct {
	typedstore.Cookie `json:"cookie"`
	UserID            int64    `json:"userId"`
	Cart              []string `json:"cart,omitempty"`
}

func Example() {
	mr, _ := miniredis.Run() // an in-process Redis; use your server's address
	defer mr.Close()
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer client.Close()

	store, err := typedstore.New(client, typedstore.Options[Session]{TTL: time.Hour})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	_ = store.Set(ctx, "alice-session", Session{UserID: 1, Cart: []string{"apple"}})
	_ = store.Set(ctx, "bob-session", Session{UserID: 2})

	sess, err := store.Get(ctx, "alice-session")
	fmt.Println(sess.UserID, sess.Cart, err)

	_, err = store.Get(ctx, "nobody")
	fmt.Println(errors.Is(err, typedstore.ErrNotFound))

	all, errf := store.All(ctx)
	var users []int64
	for _, s := range all {
		users = append(users, s.UserID)
	}
	if err := errf(); err != nil {
		panic(err)
	}
	slices.Sort(users)
	fmt.Println(users)

	mr.FastForward(2 * time.Hour) // time passes: both sessions expire
	n, _ := store.Len(ctx)
	fmt.Println(n)
	// Output:
	// 1 [apple] <nil>
	// true
	// [1 2]
	// 0
}

func ExampleStore_Set_cookieExpiry() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer client.Close()
	store, _ := typedstore.New(client, typedstore.Options[Session]{})
	ctx := context.Background()

	// The cookie's expiry, not the store's TTL, decides how long the
	// session lives.
	expires := time.Now().Add(30 * time.Minute)
	_ = store.Set(ctx, "s1", Session{Cookie: typedstore.Cookie{ExpiresAt: &expires}, UserID: 1})
	fmt.Println(mr.TTL("sess:s1").Round(time.Minute))

	// An expiry in the past deletes the session, as in connect-redis.
	past := time.Now().Add(-time.Second)
	_ = store.Set(ctx, "s1", Session{Cookie: typedstore.Cookie{ExpiresAt: &past}, UserID: 1})
	fmt.Println(mr.Exists("sess:s1"))
	// Output:
	// 30m0s
	// false
}

func ExampleStore_IDs() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer client.Close()
	store, _ := typedstore.New(client, typedstore.Options[Session]{Prefix: "app[1]:"})
	ctx := context.Background()

	_ = store.Set(ctx, "a", Session{UserID: 1})
	_ = store.Set(ctx, "b", Session{UserID: 2})
	mr.Set("app1:not-ours", "another app's key") // matched by the unescaped glob app[1]:*

	ids, errf := store.IDs(ctx)
	sorted := slices.Sorted(ids)
	fmt.Println(sorted, errf())
	// Output:
	// [a b] <nil>
}

func ExampleCorruptError() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer client.Close()
	store, _ := typedstore.New(client, typedstore.Options[Session]{})

	mr.Set("sess:broken", `{"userId":`) // truncated JSON
	_, err := store.Get(context.Background(), "broken")
	var ce *typedstore.CorruptError
	fmt.Println(errors.Is(err, typedstore.ErrCorrupt), errors.As(err, &ce) && ce.ID == "broken")
	// Output:
	// true true
}

func ExampleStore_DeleteOwned() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer client.Close()

	// Owner says whose each session is; "" for an anonymous one.
	store, err := typedstore.New(client, typedstore.Options[Session]{
		Owner: func(s Session) string {
			if s.UserID == 0 {
				return ""
			}
			return strconv.FormatInt(s.UserID, 10)
		},
		MaxPerOwner: 10, // an eleventh login ends the least recently active one
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	_ = store.Set(ctx, "laptop", Session{UserID: 7})
	_ = store.Set(ctx, "phone", Session{UserID: 7})
	_ = store.Set(ctx, "tablet", Session{UserID: 7})
	_ = store.Set(ctx, "visitor", Session{}) // anonymous: not indexed

	// The devices of user 7, read through their index: a few round
	// trips, however many other sessions there are.
	devices, errf := store.OwnedBy(ctx, "7")
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range devices {
			if !yield(id) {
				return
			}
		}
	})
	fmt.Println(ids, errf())

	// The password changed: log out everywhere but on this laptop.
	n, err := store.DeleteOwned(ctx, "7", "laptop")
	fmt.Println(n, err)
	left, err := store.CountOwned(ctx, "7")
	fmt.Println(left, err)
	// Output:
	// [laptop phone tablet] <nil>
	// 2 <nil>
	// 1 <nil>
}
