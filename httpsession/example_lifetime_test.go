package httpsession_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
)

// Account is a session under a lifetime policy: the embedded
// typedstore.Lifetime stores when it began, where an Express app's save
// keeps it.
type Account struct {
	typedstore.Cookie   `json:"cookie"`
	typedstore.Lifetime `json:"lifetime"`
	UserID              int64 `json:"userId,omitempty"`
}

// This example sets OWASP's three limits, offers "remember me" at login and
// tells a visitor why they were logged out. It shows what each kind of login
// gets: a persistent cookie or a browser-session one, stored for the idle
// timeout either way.
func ExampleOptions_lifetime() {
	mr, _ := miniredis.Run() // or a real Redis
	defer mr.Close()
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer client.Close()
	store, err := typedstore.New(client, typedstore.Options[Account]{})
	if err != nil {
		panic(err)
	}

	sessions, err := httpsession.New(store, httpsession.Options{
		Secrets:     []string{"a long random secret, from the environment"},
		IdleTimeout: 30 * time.Minute, // unused this long, a session ends
		Lifetime:    12 * time.Hour,   // however active; a login starts it again
		RenewAfter:  15 * time.Minute, // a new id every 15 minutes, transparently
	})
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.Get(r)
		if err := s.Regenerate(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		s.Data.UserID = 1
		if r.FormValue("remember") == "on" {
			s.SetMaxAge(30 * 24 * time.Hour) // a persistent cookie, within the limits
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		switch sessions.Get(r).Expired() {
		case httpsession.ExpiredIdle:
			fmt.Fprintln(w, "You were logged out after 30 minutes without activity.")
		case httpsession.ExpiredLifetime:
			fmt.Fprintln(w, "You were logged out: a session lasts at most 12 hours.")
		}
	})
	srv := httptest.NewServer(sessions.Handler(mux))
	defer srv.Close()

	for _, remember := range []string{"on", "off"} {
		mr.FlushAll()
		form := url.Values{"remember": {remember}}.Encode()
		req, _ := http.NewRequest("POST", srv.URL+"/login", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := http.DefaultTransport.RoundTrip(req) // no redirects followed
		if err != nil {
			panic(err)
		}
		res.Body.Close()
		for _, c := range res.Cookies() {
			if c.Name == httpsession.DefaultName {
				key := mr.Keys()[0] // the only session
				// To the second: a persistent cookie's session is stored
				// until the cookie's expiry, set a moment before.
				fmt.Printf("remember me %s: cookie Max-Age %d, stored for %v\n", remember, c.MaxAge, mr.TTL(key).Round(time.Second))
			}
		}
	}
	// Output:
	// remember me on: cookie Max-Age 1800, stored for 30m0s
	// remember me off: cookie Max-Age 0, stored for 30m0s
}
