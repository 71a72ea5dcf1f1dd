package hook_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modgate/modgate/hook"
)

// TestFacesSplitEveryRoute: each route answers on one face only, but
// health, which answers on both; the hooks' face lists what it answers,
// so the admin API, the console and the metrics are never on it.
func TestFacesSplitEveryRoute(t *testing.T) {
	f := newFixture(t, func(c *hook.Config) { c.Console = &hook.ConsoleConfig{} })
	hooks, admin := f.server.Hooks(), f.server.Admin()
	seen := map[string]bool{}
	for _, r := range f.server.Routes() {
		path := strings.NewReplacer(":method", "PassOnPendingMessage", ":id", "x", ":name", "x").Replace(r.Path)
		if seen[r.Method+path] || r.Method == "echo_route_not_found" {
			continue
		}
		seen[r.Method+path] = true
		health := path == "/healthz" || path == "/readyz"
		isHook := strings.HasPrefix(path, "/hooks")
		t.Run(r.Method+" "+path, func(t *testing.T) {
			for _, face := range []struct {
				name    string
				h       http.Handler
				answers bool
			}{{"hooks", hooks, isHook || health}, {"admin", admin, !isHook}} {
				rec := httptest.NewRecorder()
				face.h.ServeHTTP(rec, httptest.NewRequest(r.Method, path, nil))
				refused := rec.Code == http.StatusNotFound && rec.Body.String() == `{"error":{"code":"not_found","message":"not found"}}`+"\n"
				if refused == face.answers {
					t.Errorf("%s face: %d %.100s (should answer: %v)", face.name, rec.Code, rec.Body.String(), face.answers)
				}
			}
		})
	}
	if !seen["GET/console/login"] || !seen["GET/metrics"] || !seen["POST/hooks/before-message-send"] {
		t.Fatalf("routes missing from the test: %v", seen)
	}
}
