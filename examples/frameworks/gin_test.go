package frameworks_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/typedstore/typedstore/examples/frameworks"
	"github.com/typedstore/typedstore/httpsession"
)

// TestGinSessionsSavesBeforeHeaders goes through gin's ways of writing a
// response: with each, the session must be saved, and its cookie set,
// before the headers go out.
func TestGinSessionsSavesBeforeHeaders(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		handle     func(c *gin.Context, s *httpsession.Session[frameworks.Session])
		wantStatus int
	}{
		{"Redirect after POST", "POST", func(c *gin.Context, s *httpsession.Session[frameworks.Session]) {
			s.Data.UserID = 7
			c.Redirect(http.StatusSeeOther, "/") // no body: gin sends the headers after the handlers
		}, http.StatusSeeOther},
		{"Redirect after GET", "GET", func(c *gin.Context, s *httpsession.Session[frameworks.Session]) {
			s.Data.UserID = 7
			c.Redirect(http.StatusFound, "/") // with a body
		}, http.StatusFound},
		{"String", "GET", func(c *gin.Context, s *httpsession.Session[frameworks.Session]) {
			s.Data.UserID = 7
			c.String(http.StatusOK, "ok")
		}, http.StatusOK},
		{"JSON", "POST", func(c *gin.Context, s *httpsession.Session[frameworks.Session]) {
			s.Data.UserID = 7
			c.JSON(http.StatusCreated, gin.H{"ok": true})
		}, http.StatusCreated},
		{"Status", "POST", func(c *gin.Context, s *httpsession.Session[frameworks.Session]) {
			s.Data.UserID = 7
			c.Status(http.StatusNoContent)
		}, http.StatusNoContent},
		{"change after Status", "POST", func(c *gin.Context, s *httpsession.Session[frameworks.Session]) {
			c.Status(http.StatusCreated) // gin only records the status
			s.Data.UserID = 7
			c.String(http.StatusCreated, "ok")
		}, http.StatusCreated},
		{"AbortWithStatus", "GET", func(c *gin.Context, s *httpsession.Session[frameworks.Session]) {
			s.Data.UserID = 7
			c.AbortWithStatus(http.StatusForbidden)
		}, http.StatusForbidden},
		{"Writer.WriteString", "GET", func(c *gin.Context, s *httpsession.Session[frameworks.Session]) {
			s.Data.UserID = 7
			c.Writer.WriteString("ok")
		}, http.StatusOK},
		{"Writer.Flush", "GET", func(c *gin.Context, s *httpsession.Session[frameworks.Session]) {
			s.Data.UserID = 7
			c.Writer.Flush()
		}, http.StatusOK},
		{"nothing written", "GET", func(c *gin.Context, s *httpsession.Session[frameworks.Session]) {
			s.Data.UserID = 7
		}, http.StatusOK},
	}
	// The session comes from GinSessions, or from m.Handler around the
	// whole engine.
	setups := []struct {
		name string
		wrap func(m *httpsession.Manager[frameworks.Session], r *gin.Engine) http.Handler
	}{
		{"GinSessions", func(m *httpsession.Manager[frameworks.Session], r *gin.Engine) http.Handler {
			r.Use(frameworks.GinSessions(m))
			return r
		}},
		{"m.Handler(engine)", func(m *httpsession.Manager[frameworks.Session], r *gin.Engine) http.Handler {
			return m.Handler(r)
		}},
	}
	for _, setup := range setups {
		for _, tt := range tests {
			t.Run(setup.name+"/"+tt.name, func(t *testing.T) {
				m, mr := newManager(t)
				r := gin.New()
				h := setup.wrap(m, r)
				r.Handle(tt.method, "/set", func(c *gin.Context) { tt.handle(c, m.Get(c.Request)) })
				r.GET("/get", func(c *gin.Context) {
					c.String(http.StatusOK, strconv.FormatInt(m.Get(c.Request).Data.UserID, 10))
				})
				checkSavedBeforeHeaders(t, h, mr, tt.method, tt.wantStatus)
			})
		}
	}
}
