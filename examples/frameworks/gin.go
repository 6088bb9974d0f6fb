package frameworks

// snippet:start
import (
	"bufio"
	"io"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/typedstore/typedstore/httpsession"
)

// GinHandler returns the site as a gin engine, with its sessions in m.
func GinHandler(m *httpsession.Manager[Session]) http.Handler {
	r := gin.New()
	r.Use(GinSessions(m))
	r.GET("/", func(c *gin.Context) {
		if id := m.Get(c.Request).Data.UserID; id != 0 {
			c.String(http.StatusOK, "hello, user %d\n", id)
			return
		}
		c.String(http.StatusOK, "hello, stranger\n")
	})
	r.POST("/login", func(c *gin.Context) {
		id, ok := checkPassword(c.PostForm("user"), c.PostForm("password"))
		if !ok {
			c.String(http.StatusUnauthorized, "wrong user or password\n")
			return
		}
		s := m.Get(c.Request)
		// A new id at login: an id planted before it is worthless.
		if err := s.Regenerate(c.Request.Context()); err != nil {
			c.String(http.StatusServiceUnavailable, "try again\n")
			return
		}
		s.Data.UserID = id
		c.Redirect(http.StatusSeeOther, "/") // saved before this goes out
	})
	r.POST("/logout", func(c *gin.Context) {
		if err := m.Get(c.Request).Destroy(c.Request.Context()); err != nil {
			c.String(http.StatusServiceUnavailable, "try again\n")
			return
		}
		c.Redirect(http.StatusSeeOther, "/")
	})
	return r
}

// GinSessions is m.Handler as gin middleware: the handlers after it find
// the session with m.Get(c.Request), and it is saved before gin sends the
// response's headers. When the session cannot be loaded, m answers the
// request and the handlers after it do not run.
func GinSessions[T any](m *httpsession.Manager[T]) gin.HandlerFunc {
	return func(c *gin.Context) {
		loaded := false
		m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			loaded = true
			c.Request = r // its context carries the session
			c.Writer = &ginWriter{ResponseWriter: c.Writer, session: w}
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
		if !loaded {
			c.Abort()
		}
	}
}

// ginWriter sends what gin writes through the session's writer, which
// saves the session before the headers go out, to gin's own writer, which
// still keeps the status and size. WriteHeader stays gin's: it only
// records the status.
type ginWriter struct {
	gin.ResponseWriter                     // gin's
	session            http.ResponseWriter // m.Handler's, around gin's
}

func (w *ginWriter) WriteHeaderNow() {
	w.session.WriteHeader(w.Status()) // saves the session
	w.ResponseWriter.WriteHeaderNow()
}

func (w *ginWriter) Write(p []byte) (int, error)       { return w.session.Write(p) }
func (w *ginWriter) WriteString(s string) (int, error) { return io.WriteString(w.session, s) }
func (w *ginWriter) Flush()                            { http.NewResponseController(w.session).Flush() }
func (w *ginWriter) Unwrap() http.ResponseWriter       { return w.session }

func (w *ginWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.session).Hijack()
}

// snippet:end
