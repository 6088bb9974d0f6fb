package httpsession

import (
	"bufio"
	"fmt"
	"maps"
	"net"
	"net/http"
)

// responseWriter commits the session just before the response's headers go
// out: on the first WriteHeader with a final status, Write, Flush or
// Hijack, or when the handler returns. If the commit fails, the error
// handler answers instead and the handler's own response, headers included,
// is dropped.
//
// It implements Unwrap, so that http.ResponseController reaches the
// features of the writer beneath (deadlines, full duplex), and it
// implements Flush, FlushError and Hijack itself, so that the session is
// saved first; when the writer beneath cannot flush or hijack, they report
// http.ErrNotSupported (Flush does nothing).
type responseWriter[T any] struct {
	http.ResponseWriter
	s *Session[T]
	// before holds the response's headers as they were when the request
	// reached the middleware (set by middleware further out), to which a
	// failed commit returns them before the error handler answers.
	before http.Header
	done   bool  // commit attempted
	err    error // commit failed: the error handler has answered
}

// newResponseWriter returns a responseWriter for s on w.
func newResponseWriter[T any](w http.ResponseWriter, s *Session[T]) *responseWriter[T] {
	rw := &responseWriter[T]{ResponseWriter: w, s: s}
	if h := w.Header(); len(h) > 0 {
		rw.before = h.Clone()
	}
	return rw
}

func (w *responseWriter[T]) commit() error {
	if w.done {
		return w.err
	}
	w.done = true
	if err := w.s.commit(w.ResponseWriter.Header()); err != nil {
		w.err = fmt.Errorf("httpsession: response dropped: the session could not be saved: %w", err)
		// None of the handler's headers (a Location, a Set-Cookie of its
		// own) may go out with the error response.
		h := w.ResponseWriter.Header()
		clear(h)
		maps.Copy(h, w.before)
		w.s.m.fail(w.ResponseWriter, w.s.r, err)
	}
	return w.err
}

func (w *responseWriter[T]) WriteHeader(code int) {
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// Informational headers (103 Early Hints) may go out before the
		// final ones, which will carry the cookie.
		if !w.done {
			w.ResponseWriter.WriteHeader(code)
		}
		return
	}
	if w.commit() != nil {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter[T]) Write(p []byte) (int, error) {
	if err := w.commit(); err != nil {
		return 0, err
	}
	return w.ResponseWriter.Write(p)
}

// Flush implements http.Flusher.
func (w *responseWriter[T]) Flush() { w.FlushError() }

// FlushError is the method that http.ResponseController.Flush calls.
func (w *responseWriter[T]) FlushError() error {
	if err := w.commit(); err != nil {
		return err
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker. The session is saved first, but its
// cookie cannot be sent: headers set on the ResponseWriter do not go out on
// a hijacked connection.
func (w *responseWriter[T]) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if err := w.commit(); err != nil {
		return nil, nil, err
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the ResponseWriter beneath, for http.ResponseController.
func (w *responseWriter[T]) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish commits the session of a handler that wrote nothing.
func (w *responseWriter[T]) finish() { w.commit() }
