package hook

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// The server has two faces when the admin API listens on an address of its
// own: the hooks face the internet (Stream calls them from its servers),
// and everything else (the admin API, the console, the metrics) faces only
// the operators' network. The split is by path, and the hooks' face lists
// what it answers: a route added later is private unless it is a hook.

// Hooks is the handler for the address that faces the internet: Stream's
// hooks (/hooks/...), /healthz and /readyz. Any other path is 404, as if
// it did not exist.
func (s *Server) Hooks() http.Handler { return face{s: s, hooks: true} }

// Admin is the handler for a private address: everything but the hooks,
// health included (for probes that ask there).
func (s *Server) Admin() http.Handler { return face{s: s} }

type face struct {
	s     *Server
	hooks bool
}

func (f face) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// r.URL.Path is decoded; a route matches its raw form (Echo routes on
	// RawPath when there is one), whose literal prefix is the same.
	p := r.URL.Path
	health := p == "/healthz" || p == "/readyz"
	hook := p == "/hooks" || strings.HasPrefix(p, "/hooks/")
	if health || hook == f.hooks {
		f.s.ServeHTTP(w, r)
		return
	}
	w.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	w.WriteHeader(http.StatusNotFound)
	w.Write(notFoundBody)
}

var notFoundBody = []byte(`{"error":{"code":"not_found","message":"not found"}}` + "\n")
