package main

import (
	"context"
	"encoding/gob"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gorilla/sessions"
	"github.com/rbcervilla/redisstore/v9"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
)

// Session is the session every contender stores: about 500 bytes of JSON in
// express-session's shape (the cookie, a user, roles, a cart, a CSRF token).
// The JSON contenders store exactly these bytes; scs and the gorilla store
// keep the same Go value with their own default codec (gob), as their users
// do.
type Session struct {
	typedstore.Cookie `json:"cookie"`
	UserID            int64     `json:"userId"`
	Name              string    `json:"name"`
	Email             string    `json:"email"`
	Roles             []string  `json:"roles"`
	Cart              []CartRow `json:"cart"`
	CSRF              string    `json:"csrfToken"`
	Flash             string    `json:"flash,omitempty"`
	LastSeen          int64     `json:"lastSeen"`
}

// CartRow is one line of the session's cart.
type CartRow struct {
	SKU   string `json:"sku"`
	Qty   int    `json:"qty"`
	Price int64  `json:"priceCents"`
}

func init() {
	// scs and the gorilla store keep values in a map of interfaces, encoded
	// with gob, which needs the concrete type registered.
	gob.Register(Session{})
}

// sessionTTL is every session's lifetime: the cookie's max-age, the TTL of
// the raw contenders' SET and EXPIRE, and scs's and gorilla's lifetime.
const sessionTTL = 24 * time.Hour

// newSession returns the benchmark's session, whose cookie expires a day
// after now.
func newSession(now time.Time) Session {
	exp := now.Add(sessionTTL).UTC().Truncate(time.Millisecond)
	maxAge := sessionTTL.Milliseconds()
	return Session{
		Cookie:   typedstore.Cookie{OriginalMaxAge: &maxAge, ExpiresAt: &exp, HTTPOnly: true, Path: "/"},
		UserID:   4242,
		Name:     "Ada Lovelace",
		Email:    "ada.lovelace@example.com",
		Roles:    []string{"user", "beta", "billing"},
		Cart:     []CartRow{{"SKU-000123-BLUE-M", 1, 1999}, {"SKU-004567-RED-L", 2, 450}, {"SKU-089012-GREEN-S", 1, 12900}},
		CSRF:     "f3b1c2d4e5a6978812ab34cd56ef7890a1b2c3d4e5f60718293a4b5c6d7e8f90",
		Flash:    "Your changes have been saved.",
		LastSeen: now.UnixMilli(),
	}
}

// makeIDs returns n distinct session ids of 32 characters, the length of
// express-session's.
func makeIDs(n int) []string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	r := rand.New(rand.NewPCG(1, 2))
	seen := make(map[string]bool, n)
	ids := make([]string, 0, n)
	for len(ids) < n {
		b := make([]byte, 32)
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		if id := string(b); !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// Databases and key prefixes. The JSON contenders share database 0 and
// connect-redis's prefix; scs and the gorilla store, whose values are gob,
// have a database each with their own default prefix, so every SCAN walks
// exactly the sessions it iterates.
const (
	jsonDB        = 0
	jsonPrefix    = "sess:"
	scsDB         = 1
	scsPrefix     = "scs:session:"
	gorillaDB     = 2
	gorillaName   = "session"
	gorillaPrefix = "session:"
)

// preload writes a session under every id in the three databases, each in
// its contender's encoding, with a TTL of a day.
func preload(ctx context.Context, addr string, ids []string, sess Session, jsonData []byte) error {
	scsData, err := scs.GobCodec{}.Encode(sess.Cookie.Expires(), map[string]any{"session": sess})
	if err != nil {
		return err
	}
	gs := sessions.NewSession(nil, gorillaName)
	gs.Values["session"] = sess
	gorillaData, err := redisstore.GobSerializer{}.Serialize(gs)
	if err != nil {
		return err
	}
	for _, db := range []struct {
		n      int
		prefix string
		data   []byte
	}{{jsonDB, jsonPrefix, jsonData}, {scsDB, scsPrefix, scsData}, {gorillaDB, gorillaPrefix, gorillaData}} {
		c := redis.NewClient(&redis.Options{Addr: addr, DB: db.n})
		for start := 0; start < len(ids); start += 1000 {
			_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, id := range ids[start:min(start+1000, len(ids))] {
					p.Set(ctx, db.prefix+id, db.data, sessionTTL)
				}
				return nil
			})
			if err != nil {
				c.Close()
				return fmt.Errorf("preload db %d: %w", db.n, err)
			}
		}
		c.Close()
	}
	return nil
}
