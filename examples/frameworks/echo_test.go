package frameworks_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/typedstore/typedstore/examples/frameworks"
	"github.com/typedstore/typedstore/httpsession"
)

// TestEchoSavesBeforeHeaders goes through echo's ways of writing a
// response, an error returned to echo's error handler among them: with
// each, the session must be saved, and its cookie set, before the headers
// go out.
func TestEchoSavesBeforeHeaders(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		handle     func(c echo.Context, s *httpsession.Session[frameworks.Session]) error
		wantStatus int
	}{
		{"Redirect", "POST", func(c echo.Context, s *httpsession.Session[frameworks.Session]) error {
			s.Data.UserID = 7
			return c.Redirect(http.StatusSeeOther, "/")
		}, http.StatusSeeOther},
		{"String", "GET", func(c echo.Context, s *httpsession.Session[frameworks.Session]) error {
			s.Data.UserID = 7
			return c.String(http.StatusOK, "ok")
		}, http.StatusOK},
		{"JSON", "POST", func(c echo.Context, s *httpsession.Session[frameworks.Session]) error {
			s.Data.UserID = 7
			return c.JSON(http.StatusCreated, map[string]bool{"ok": true})
		}, http.StatusCreated},
		{"NoContent", "POST", func(c echo.Context, s *httpsession.Session[frameworks.Session]) error {
			s.Data.UserID = 7
			return c.NoContent(http.StatusNoContent)
		}, http.StatusNoContent},
		{"HTTPError", "POST", func(c echo.Context, s *httpsession.Session[frameworks.Session]) error {
			s.Data.UserID = 7
			return echo.NewHTTPError(http.StatusBadRequest, "no")
		}, http.StatusBadRequest},
		{"Flush", "GET", func(c echo.Context, s *httpsession.Session[frameworks.Session]) error {
			s.Data.UserID = 7
			c.Response().Flush()
			return nil
		}, http.StatusOK},
		{"nothing written", "GET", func(c echo.Context, s *httpsession.Session[frameworks.Session]) error {
			s.Data.UserID = 7
			return nil
		}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, mr := newManager(t)
			e := echo.New()
			e.Use(echo.WrapMiddleware(m.Handler))
			e.Add(tt.method, "/set", func(c echo.Context) error { return tt.handle(c, m.Get(c.Request())) })
			e.GET("/get", func(c echo.Context) error {
				return c.String(http.StatusOK, strconv.FormatInt(m.Get(c.Request()).Data.UserID, 10))
			})
			checkSavedBeforeHeaders(t, e, mr, tt.method, tt.wantStatus)
		})
	}
}
