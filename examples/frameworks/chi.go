package frameworks

// snippet:start
import (
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/typedstore/typedstore/httpsession"
)

// ChiHandler returns the site as a chi router, with its sessions in m.
func ChiHandler(m *httpsession.Manager[Session]) http.Handler {
	r := chi.NewRouter()
	r.Use(m.Handler)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		if id := m.Get(r).Data.UserID; id != 0 {
			fmt.Fprintf(w, "hello, user %d\n", id)
			return
		}
		fmt.Fprintln(w, "hello, stranger")
	})
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		id, ok := checkPassword(r.FormValue("user"), r.FormValue("password"))
		if !ok {
			http.Error(w, "wrong user or password", http.StatusUnauthorized)
			return
		}
		s := m.Get(r)
		// A new id at login: an id planted before it is worthless.
		if err := s.Regenerate(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		s.Data.UserID = id
		http.Redirect(w, r, "/", http.StatusSeeOther) // saved before this goes out
	})
	r.Post("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Get(r).Destroy(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	return r
}

// snippet:end
