package httpsession_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
)

// Session is the application's session. Embedding typedstore.Cookie as
// "cookie" gives it express-session's stored shape.
type Session struct {
	typedstore.Cookie `json:"cookie"`
	UserID            int64  `json:"userId,omitempty"`
	Name              string `json:"name,omitempty"`
	Visits            int    `json:"visits"`
}

// Example shows a login that survives a redirect, a counter in the session
// and a logout.
func Example() {
	mr, _ := miniredis.Run() // or a real Redis
	defer mr.Close()
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer client.Close()

	store, err := typedstore.New(client, typedstore.Options[Session]{})
	if err != nil {
		panic(err)
	}
	sessions, err := httpsession.New(store, httpsession.Options{
		Secrets: []string{"a long random secret, from the environment"},
	})
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.Get(r)
		// A new id at login: an id planted before it is worthless.
		if err := s.Regenerate(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		s.Data.UserID, s.Data.Name = 1, r.FormValue("name")
		// Saved before the redirect goes out.
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.Get(r)
		if s.Data.UserID == 0 {
			fmt.Fprintln(w, "hello, stranger")
			return
		}
		s.Data.Visits++
		fmt.Fprintf(w, "hello, %s: visit %d\n", s.Data.Name, s.Data.Visits)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := sessions.Get(r).Destroy(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	srv := httptest.NewServer(sessions.Handler(mux))
	defer srv.Close()

	// A browser: cookies are kept by hand here; an http.Client with a
	// cookiejar.Jar does the same.
	var cookie *http.Cookie
	do := func(method, path, form string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != nil {
			req.AddCookie(cookie)
		}
		res, err := http.DefaultTransport.RoundTrip(req) // no redirects followed
		if err != nil {
			panic(err)
		}
		defer res.Body.Close()
		for _, c := range res.Cookies() {
			cookie = c
			if c.MaxAge < 0 {
				cookie = nil
			}
		}
		body, _ := io.ReadAll(res.Body)
		fmt.Printf("%s %s: %d", method, path, res.StatusCode)
		if loc := res.Header.Get("Location"); loc != "" {
			fmt.Printf(" to %s", loc)
		}
		if len(body) > 0 {
			fmt.Printf(" %s", strings.TrimSpace(string(body)))
		}
		fmt.Println()
	}
	do("GET", "/", "")
	do("POST", "/login", "name=Ada")
	do("GET", "/", "")
	do("GET", "/", "")
	do("POST", "/logout", "")
	do("GET", "/", "")
	// Output:
	// GET /: 200 hello, stranger
	// POST /login: 303 to /
	// GET /: 200 hello, Ada: visit 1
	// GET /: 200 hello, Ada: visit 2
	// POST /logout: 303 to /
	// GET /: 200 hello, stranger
}
