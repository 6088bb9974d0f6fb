package httpsession_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore/httpsession"
)

// failCommands is a go-redis hook that fails every command named in names.
type failCommands map[string]bool

func (f failCommands) DialHook(next redis.DialHook) redis.DialHook { return next }

func (f failCommands) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f[cmd.Name()] {
			cmd.SetErr(errors.New("injected failure"))
			return cmd.Err()
		}
		return next(ctx, cmd)
	}
}

func (f failCommands) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// When the session cannot be saved, the error response carries none of the
// headers the handler set, only those set further out and by the
// ErrorHandler; when it cannot be loaded, the handler never runs.
func TestFailureResponseDropsHandlerHeaders(t *testing.T) {
	handler := func(m *httpsession.Manager[sess]) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.Get(r).Data.Counter++
			w.Header().Set("X-Handler", "yes")
			http.SetCookie(w, &http.Cookie{Name: "other", Value: "handler's"})
			http.Redirect(w, r, "/next", http.StatusSeeOther)
		})
	}
	outer := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Outer", "kept")
			h.ServeHTTP(w, r)
		})
	}
	tests := []struct {
		name  string
		fail  failCommands
		cause string
	}{
		{"save fails", failCommands{"set": true}, "save"},
		{"load fails", failCommands{"get": true, "getex": true}, "load"},
	}
	for _, tt := range tests {
		for _, custom := range []bool{false, true} {
			name := tt.name
			if custom {
				name += ", own ErrorHandler"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t, httpsession.Options{})
				opts := httpsession.Options{Secrets: []string{secret}, Logger: slog.New(slog.DiscardHandler)}
				if custom {
					opts.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
						w.Header().Set("X-Error-Handler", "yes")
						http.Error(w, "sorry", http.StatusServiceUnavailable)
					}
				}
				m, err := httpsession.New(e.store, opts)
				if err != nil {
					t.Fatal(err)
				}
				h := outer(m.Handler(handler(m)))
				// A session to load.
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				c := result{cookies: rec.Result().Cookies()}.cookie()
				if c == nil {
					t.Fatal("no session cookie on the first response")
				}
				e.store.Client().AddHook(tt.fail)

				rec = httptest.NewRecorder()
				req := httptest.NewRequest("GET", "/", nil)
				req.AddCookie(c)
				h.ServeHTTP(rec, req)
				res := rec.Result()
				want := http.StatusInternalServerError
				if custom {
					want = http.StatusServiceUnavailable
				}
				if res.StatusCode != want {
					t.Errorf("status = %d; want %d", res.StatusCode, want)
				}
				for _, name := range []string{"Location", "X-Handler", "Set-Cookie"} {
					if v := res.Header.Values(name); len(v) > 0 {
						t.Errorf("%s failure: response has %s: %q; want none of the handler's headers", tt.cause, name, v)
					}
				}
				if got := res.Header.Get("X-Outer"); got != "kept" {
					t.Errorf("X-Outer = %q; want the header set before the middleware kept", got)
				}
				if custom && res.Header.Get("X-Error-Handler") != "yes" {
					t.Error("the ErrorHandler's own header is missing")
				}
			})
		}
	}
}
