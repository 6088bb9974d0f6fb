// Command webapp is a small site with typed sessions: log in with a name,
// fill a cart, count your visits, log out. Its sessions are kept by
// package httpsession in a typedstore.Store, in the shape that Express's
// express-session uses.
//
// It runs on an in-process Redis (miniredis) unless REDIS_URL names a real
// server, and signs cookies with SESSION_SECRET (a random secret when it is
// unset, so sessions do not survive a restart):
//
//	go run ./examples/webapp
//	go run ./examples/webapp -addr 127.0.0.1:9000
//	REDIS_URL=redis://127.0.0.1:6379/0 SESSION_SECRET=… go run ./examples/webapp
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
)

// Session is this site's session: the express-session cookie plus data of
// its own.
type Session struct {
	typedstore.Cookie `json:"cookie"`
	Name              string   `json:"name,omitempty"`
	Visits            int      `json:"visits,omitempty"`
	Cart              []string `json:"cart,omitempty"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *addr); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, addr string) error {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		mr, err := miniredis.Run()
		if err != nil {
			return err
		}
		defer mr.Close()
		url = "redis://" + mr.Addr()
		fmt.Println("Redis: embedded miniredis at", mr.Addr(), "(set REDIS_URL to use a real server)")
	} else {
		fmt.Println("Redis:", url)
	}
	store, err := typedstore.Open(url, typedstore.Options[Session]{Prefix: "webapp:sess:"})
	if err != nil {
		return err
	}
	defer store.Close()

	secret := os.Getenv("SESSION_SECRET")
	if secret == "" {
		secret = rand.Text() + rand.Text()
		fmt.Println("SESSION_SECRET is unset: signing cookies with a random secret")
	}
	h, err := newHandler(store, secret)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHandler returns the site, with its sessions in store.
func newHandler(store *typedstore.Store[Session], secret string) (http.Handler, error) {
	sessions, err := httpsession.New(store, httpsession.Options{
		Secrets: []string{secret},
		MaxAge:  7 * 24 * time.Hour,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.Get(r)
		if s.Data.Name != "" {
			s.Data.Visits++
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := page.Execute(w, s.Data); err != nil {
			log.Print(err)
		}
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimSpace(r.FormValue("name"))
		if name == "" || len(name) > 64 {
			http.Error(w, "a name of 1 to 64 characters, please", http.StatusBadRequest)
			return
		}
		s := sessions.Get(r)
		// A new session id at login defeats session fixation; the cart
		// filled before logging in is kept.
		if err := s.Regenerate(r.Context()); err != nil {
			http.Error(w, "sessions are unavailable, try again", http.StatusServiceUnavailable)
			return
		}
		s.Data.Name = name
		http.Redirect(w, r, "/", http.StatusSeeOther) // the session is saved before this goes out
	})
	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
		item := strings.TrimSpace(r.FormValue("item"))
		s := sessions.Get(r)
		if item != "" && len(item) <= 64 && len(s.Data.Cart) < 50 {
			s.Data.Cart = append(s.Data.Cart, item)
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := sessions.Get(r).Destroy(r.Context()); err != nil {
			http.Error(w, "sessions are unavailable, try again", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	return sessions.Handler(mux), nil
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<title>typedstore webapp</title>
<style>body{font-family:sans-serif;max-width:32em;margin:2em auto}</style>
<h1>typedstore webapp</h1>
{{if .Name}}
<p>Hello, {{.Name}}. This is visit {{.Visits}}.</p>
<form method="post" action="/logout"><button>Log out</button></form>
{{else}}
<form method="post" action="/login">
<label>Name <input name="name" required maxlength="64"></label> <button>Log in</button>
</form>
{{end}}
<h2>Cart</h2>
{{if .Cart}}<ul>{{range .Cart}}<li>{{.}}</li>{{end}}</ul>{{else}}<p>Empty.</p>{{end}}
<form method="post" action="/cart">
<input name="item" required maxlength="64" placeholder="tea"> <button>Add to cart</button>
</form>
`))
