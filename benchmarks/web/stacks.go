package main

import (
	"context"
	"encoding/gob"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/gorilla/sessions"
	"github.com/rbcervilla/redisstore/v9"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
)

// The four flows, the same on every stack:
//
//	GET  /anon   a page that never touches the session, for a visitor
//	             without a cookie
//	GET  /me     a logged-in page that reads the session
//	POST /cart   a logged-in request that changes the session
//	POST /login  a login: a new session id, the user written into it
//
// The session holds a user, a name, the number of changes and a cart of at
// most maxCart items; every change adds an item and counts, so that it is
// a change for every stack's dirty check.
const maxCart = 20

// sessionTTL is every stack's session lifetime, and cookie max-age.
const sessionTTL = time.Hour

// secret signs the cookies of the stacks that sign them.
const secret = "a benchmark secret of thirty-two bytes or more"

// webSession is the typedstore stack's session, in express-session's shape.
type webSession struct {
	typedstore.Cookie `json:"cookie"`
	UserID            int64    `json:"userId,omitempty"`
	Name              string   `json:"name,omitempty"`
	Cart              []string `json:"cart,omitempty"`
	Changes           int      `json:"changes,omitempty"`
}

// serve runs the HTTP server of the stack name on addr, its sessions in
// the Redis at redisAddr, until the process is killed.
func serve(name, addr, redisAddr string) error {
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	var h http.Handler
	var err error
	switch name {
	case "typedstore":
		h, err = typedstoreStack(client)
	case "scs":
		h = scsStack(client)
	case "gorilla":
		h, err = gorillaStack(client)
	default:
		return fmt.Errorf("no stack %q", name)
	}
	if err != nil {
		return err
	}
	fmt.Println("listening")
	return http.ListenAndServe(addr, h)
}

// typedstoreStack is net/http with httpsession on typedstore, as its
// documentation sets it up: express-session's cookie and stored shape, a
// max-age, so that a read loads and extends in one GETEX.
func typedstoreStack(client *redis.Client) (http.Handler, error) {
	store, err := typedstore.New(client, typedstore.Options[webSession]{Prefix: "ts:"})
	if err != nil {
		return nil, err
	}
	m, err := httpsession.New(store, httpsession.Options{Secrets: []string{secret}, MaxAge: sessionTTL})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /anon", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") })
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		fmt.Fprintf(w, "user=%d name=%s cart=%d", s.Data.UserID, s.Data.Name, len(s.Data.Cart))
	})
	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		s.Data.Changes++
		s.Data.Cart = addToCart(s.Data.Cart, s.Data.Changes)
		fmt.Fprintf(w, "cart=%d", len(s.Data.Cart))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		if err := s.Regenerate(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		s.Data.UserID, s.Data.Name = 42, "Ada"
		fmt.Fprint(w, "ok")
	})
	return m.Handler(mux), nil
}

// scsStack is net/http with scs's LoadAndSave on goredisstore.
func scsStack(client *redis.Client) http.Handler {
	sm := scs.New()
	sm.Store = goredisstore.New(client)
	sm.Lifetime = sessionTTL
	mux := http.NewServeMux()
	mux.HandleFunc("GET /anon", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") })
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		cart, _ := sm.Get(r.Context(), "cart").([]string)
		fmt.Fprintf(w, "user=%d name=%s cart=%d", sm.GetInt64(r.Context(), "userId"), sm.GetString(r.Context(), "name"), len(cart))
	})
	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
		cart, _ := sm.Get(r.Context(), "cart").([]string)
		n := sm.GetInt(r.Context(), "changes") + 1
		cart = addToCart(cart, n)
		sm.Put(r.Context(), "cart", cart)
		sm.Put(r.Context(), "changes", n)
		fmt.Fprintf(w, "cart=%d", len(cart))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := sm.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		sm.Put(r.Context(), "userId", int64(42))
		sm.Put(r.Context(), "name", "Ada")
		fmt.Fprint(w, "ok")
	})
	return sm.LoadAndSave(mux)
}

// gorillaName is the gorilla stack's cookie.
const gorillaName = "sid"

// gorillaStack is net/http with gorilla/sessions on rbcervilla/redisstore,
// which has no middleware: each handler loads the session and saves what
// it changed, as that library's users write it.
func gorillaStack(client *redis.Client) (http.Handler, error) {
	gob.Register([]string(nil))
	store, err := redisstore.NewRedisStore(context.Background(), client)
	if err != nil {
		return nil, err
	}
	store.KeyPrefix("gorilla:")
	opts := sessions.Options{Path: "/", MaxAge: int(sessionTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteLaxMode}
	store.Options(opts)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /anon", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") })
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		s, err := store.Get(r, gorillaName)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		cart, _ := s.Values["cart"].([]string)
		fmt.Fprintf(w, "user=%v name=%v cart=%d", s.Values["userId"], s.Values["name"], len(cart))
	})
	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
		s, err := store.Get(r, gorillaName)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		cart, _ := s.Values["cart"].([]string)
		n, _ := s.Values["changes"].(int)
		n++
		cart = addToCart(cart, n)
		s.Values["cart"], s.Values["changes"] = cart, n
		if err := s.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "cart=%d", len(cart))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// No regenerate in gorilla/sessions: delete the old session (a
		// negative MaxAge) and save a new one under a new id.
		if old, err := store.Get(r, gorillaName); err == nil && !old.IsNew {
			old.Options.MaxAge = -1
			if err := old.Save(r, w); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		s := sessions.NewSession(store, gorillaName)
		o := opts
		s.Options, s.IsNew = &o, true
		s.Values["userId"], s.Values["name"] = int64(42), "Ada"
		if err := s.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	})
	return mux, nil
}

// addToCart adds item n to cart, keeping at most maxCart.
func addToCart(cart []string, n int) []string {
	cart = append(cart, "item-"+strconv.Itoa(n))
	if len(cart) > maxCart {
		cart = cart[len(cart)-maxCart:]
	}
	return cart
}
