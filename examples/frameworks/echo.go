package frameworks

// snippet:start
import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/typedstore/typedstore/httpsession"
)

// EchoHandler returns the site as an echo server, with its sessions in m.
func EchoHandler(m *httpsession.Manager[Session]) http.Handler {
	e := echo.New()
	e.Use(echo.WrapMiddleware(m.Handler))
	e.GET("/", func(c echo.Context) error {
		if id := m.Get(c.Request()).Data.UserID; id != 0 {
			return c.String(http.StatusOK, fmt.Sprintf("hello, user %d\n", id))
		}
		return c.String(http.StatusOK, "hello, stranger\n")
	})
	e.POST("/login", func(c echo.Context) error {
		id, ok := checkPassword(c.FormValue("user"), c.FormValue("password"))
		if !ok {
			return echo.NewHTTPError(http.StatusUnauthorized, "wrong user or password")
		}
		s := m.Get(c.Request())
		// A new id at login: an id planted before it is worthless.
		if err := s.Regenerate(c.Request().Context()); err != nil {
			return err
		}
		s.Data.UserID = id
		return c.Redirect(http.StatusSeeOther, "/") // saved before this goes out
	})
	e.POST("/logout", func(c echo.Context) error {
		if err := m.Get(c.Request()).Destroy(c.Request().Context()); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/")
	})
	return e
}

// snippet:end
