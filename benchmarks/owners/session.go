package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	goccy "github.com/goccy/go-json"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
)

// Session is the session of the comparison in ../session.go, about 500
// bytes of JSON in express-session's shape, with the user id as a string:
// the owner of the session.
type Session struct {
	typedstore.Cookie `json:"cookie"`
	UserID            string    `json:"userId"`
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

// ownerOf is Options.Owner of the indexed store.
func ownerOf(v Session) string { return v.UserID }

const (
	prefix     = "sess:"
	sessionTTL = 24 * time.Hour
)

// newSession returns a session of user whose cookie expires at exp.
func newSession(user string, exp time.Time) Session {
	maxAge := sessionTTL.Milliseconds()
	return Session{
		Cookie:   typedstore.Cookie{OriginalMaxAge: &maxAge, ExpiresAt: &exp, HTTPOnly: true, Path: "/"},
		UserID:   user,
		Name:     "Ada Lovelace",
		Email:    "ada.lovelace@example.com",
		Roles:    []string{"user", "beta", "billing"},
		Cart:     []CartRow{{"SKU-000123-BLUE-M", 1, 1999}, {"SKU-004567-RED-L", 2, 450}, {"SKU-089012-GREEN-S", 1, 12900}},
		CSRF:     "f3b1c2d4e5a6978812ab34cd56ef7890a1b2c3d4e5f60718293a4b5c6d7e8f90",
		Flash:    "Your changes have been saved.",
		LastSeen: exp.Add(-sessionTTL).UnixMilli(),
	}
}

// makeIDs returns n distinct session ids of 32 characters, the length of
// express-session's: 26 random characters, then the index in base 64, which
// keeps them distinct without a set of a million strings.
func makeIDs(n int) []string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	r := rand.New(rand.NewPCG(1, 2))
	ids := make([]string, n)
	for i := range ids {
		var b [32]byte
		for j := range 26 {
			b[j] = alphabet[r.IntN(len(alphabet))]
		}
		for j, k := 31, i; j >= 26; j, k = j-1, k/64 {
			b[j] = alphabet[k%64]
		}
		ids[i] = string(b[:])
	}
	return ids
}

// population is what the preload writes: ids[i] belongs to
// user(i % owners), so each owner has about ten sessions, scattered over the
// key space.
type population struct {
	ids    []string
	owners int
	exp    time.Time // every cookie's expiry
}

func user(k int) string { return "user-" + strconv.Itoa(k) }

func (p *population) ownerOf(i int) string { return user(i % p.owners) }

// idsOf returns the ids of owner k.
func (p *population) idsOf(k int) []string {
	var out []string
	for i := k; i < len(p.ids); i += p.owners {
		out = append(out, p.ids[i])
	}
	return out
}

// indexSlack is the store's: an index entry reaches a quarter of the time
// to live past the session's expiry, at most an hour (owner.go).
func indexSlack(ttl time.Duration) time.Duration { return min(ttl/4, time.Hour) }

// ceilMillis rounds d up to a whole millisecond, as the store does.
func ceilMillis(d time.Duration) time.Duration {
	if r := d % time.Millisecond; r > 0 {
		d += time.Millisecond - r
	}
	return d
}

// preload writes, for each owner, what a Store with Options.Owner leaves in
// Redis after a Set of each of their sessions: SET key data PX ttl per
// session, then one ZADD of the index (owner:sess:<owner>) with every id
// scored by the Unix millisecond up to which its entry is valid (now + ttl +
// slack), and PEXPIRE of the index to its highest score. Pipelines of
// ownersPerPipeline owners go out from a few connections at once.
func preload(ctx context.Context, addr string, p *population) error {
	const ownersPerPipeline, conns = 1000, 4
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	next := make(chan int)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: addr})
			defer c.Close()
			for start := range next {
				if err := preloadOwners(ctx, c, p, start, min(start+ownersPerPipeline, p.owners)); err != nil {
					errs <- err
					for range next {
					}
					return
				}
			}
		}()
	}
	for start := 0; start < p.owners; start += ownersPerPipeline {
		next <- start
	}
	close(next)
	wg.Wait()
	close(errs)
	return <-errs
}

func preloadOwners(ctx context.Context, c *redis.Client, p *population, from, to int) error {
	now := time.Now()
	ttl := ceilMillis(p.exp.Sub(now))
	score := now.UnixMilli() + ttl.Milliseconds() + ceilMillis(indexSlack(ttl)).Milliseconds()
	_, err := c.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for k := from; k < to; k++ {
			data, err := goccy.Marshal(newSession(user(k), p.exp))
			if err != nil {
				return err
			}
			ids := p.idsOf(k)
			members := make([]redis.Z, len(ids))
			for j, id := range ids {
				pipe.Set(ctx, prefix+id, data, ttl)
				members[j] = redis.Z{Score: float64(score), Member: id}
			}
			key := "owner:" + prefix + user(k)
			pipe.ZAdd(ctx, key, members...)
			pipe.PExpire(ctx, key, time.Duration(score-now.UnixMilli())*time.Millisecond)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("preload owners %d to %d: %w", from, to, err)
	}
	return nil
}

// verifyPreload checks, with the store's own OwnedBy, that the index of a
// few preloaded owners (the first, the last and some at random) yields
// exactly their sessions, each with its owner.
func verifyPreload(ctx context.Context, st *typedstore.Store[Session], p *population) error {
	r := rand.New(rand.NewPCG(3, 4))
	ks := []int{0, p.owners - 1}
	for range 8 {
		ks = append(ks, r.IntN(p.owners))
	}
	for _, k := range ks {
		want := p.idsOf(k)
		seq, errf := st.OwnedBy(ctx, user(k))
		var got []string
		for id, v := range seq {
			if v.UserID != user(k) {
				return fmt.Errorf("OwnedBy(%q) yielded %s of %q", user(k), id, v.UserID)
			}
			got = append(got, id)
		}
		if err := errf(); err != nil {
			return fmt.Errorf("OwnedBy(%q): %w", user(k), err)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			return fmt.Errorf("OwnedBy(%q) yielded %d sessions %v; want the %d preloaded %v", user(k), len(got), got, len(want), want)
		}
	}
	return nil
}
