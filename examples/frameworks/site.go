// Package frameworks shows the middleware of package httpsession in chi,
// echo and gin applications. Each of chi.go, echo.go and gin.go builds the
// same small site on its framework: a login that gives the visitor a new
// session id and keeps the user's id in the session, a page that reads it,
// and a logout that destroys the session.
//
// The region of each file between the comments "snippet:start" and
// "snippet:end" is shown in docs/http.md, and a test checks that the two
// agree.
//
// The package is a module of its own, so that the library's go.mod does not
// require the frameworks.
package frameworks

import "github.com/typedstore/typedstore"

// Session is the site's session: the express-session cookie and the id of
// the user who logged in, 0 for none.
type Session struct {
	typedstore.Cookie `json:"cookie"`
	UserID            int64 `json:"userId,omitempty"`
}

// checkPassword stands in for the application's own check of a user's
// password. It knows one user, ada, whose id is 1.
func checkPassword(user, password string) (id int64, ok bool) {
	if user == "ada" && password == "lovelace" {
		return 1, true
	}
	return 0, false
}
