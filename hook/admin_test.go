package hook_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modgate/modgate/hook"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
	"github.com/modgate/modgate/storage"
)

const (
	modToken  = "mod-token-0123456789"
	readToken = "read-token-0123456789"
)

func adminTokens(t testing.TB) []hook.AdminToken {
	t.Helper()
	tokens, err := hook.ParseAdminTokens("ann:moderator:" + modToken + ", bob:read:" + readToken)
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

func TestParseAdminTokens(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"ann:moderator", "ann:boss:0123456789abcdef", "ann:read:short", ":read:0123456789abcdef",
		"ann:read:0123456789abcdef,ann:moderator:0123456789abcdeg"} {
		if _, err := hook.ParseAdminTokens(bad); err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), "0123456789abcdef") {
			t.Errorf("error shows the token: %v", err)
		}
	}
}

// rulesOnDisk writes a rules file that masks word and returns a server
// reloading from it.
func rulesOnDisk(t *testing.T, word string) (*fixture, string, *moderation.RulesFile) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(maskRules(word)), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	engine := moderation.NewEngine(set, moderation.EngineOptions{State: storage.NewMemory(storage.MemoryOptions{})})
	rf := moderation.NewRulesFile(path, engine, nil)
	f := newFixture(t, func(c *hook.Config) {
		c.Engine, c.Rules, c.AdminTokens = engine, rf, adminTokens(t)
		// A busy machine (the race detector, parallel tests) must not pass
		// a message unchanged for lack of time: these tests are about rules.
		c.Deadline = time.Hour
	})
	return f, path, rf
}

func maskRules(words ...string) string {
	return "version: 1\nrules:\n  - id: r\n    when: {text: {contains: [" + strings.Join(words, ", ") + "]}}\n    action: mask\n"
}

func adminReq(method, path, token string) *http.Request {
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

func TestAdminAuth(t *testing.T) {
	t.Parallel()
	f, _, _ := rulesOnDisk(t, "alpha")
	cases := []struct {
		name, method, path, token string
		status                    int
		code                      string
	}{
		{"no token", http.MethodGet, "/admin/rules", "", 401, "unauthorized"},
		{"wrong token", http.MethodGet, "/admin/rules", "mod-token-0123456780", 401, "unauthorized"},
		{"not a bearer", http.MethodGet, "/admin/rules", "", 401, "unauthorized"},
		{"read token reads", http.MethodGet, "/admin/rules", readToken, 200, ""},
		{"read token cannot reload", http.MethodPost, "/admin/rules/reload", readToken, 403, "forbidden"},
		{"moderator reloads", http.MethodPost, "/admin/rules/reload", modToken, 200, ""},
		{"token in the query string", http.MethodGet, "/admin/rules?token=" + modToken, modToken, 400, "token_in_query"},
		{"access_token in the query string", http.MethodGet, "/admin/rules?access_token=" + modToken, "", 400, "token_in_query"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := adminReq(tc.method, tc.path, tc.token)
			if tc.name == "not a bearer" {
				req.Header.Set("Authorization", "Basic "+modToken)
			}
			rec := f.do(req)
			if tc.status == 200 {
				if rec.Code != 200 {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				return
			}
			wantError(t, rec, tc.status, tc.code)
		})
	}
}

func TestAdminReloadReportsRefusedFiles(t *testing.T) {
	t.Parallel()
	f, path, _ := rulesOnDisk(t, "alpha")
	os.WriteFile(path, []byte("version: 1\nrules:\n  - id: x\n    action: mask\n"), 0o644)
	rec := f.do(adminReq(http.MethodPost, "/admin/rules/reload", modToken))
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), "rules_refused") || !strings.Contains(rec.Body.String(), "rules.yaml:3:") {
		t.Fatalf("reload of a broken file: %d %s", rec.Code, rec.Body)
	}
	// /readyz answers anyone: it says that a reload failed and when, never
	// why (the error may quote the file); the admin API says why.
	ready := f.do(httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if ready.Code != 200 || !strings.Contains(ready.Body.String(), `"last_reload_failed_at":"`) {
		t.Fatalf("readyz must show the refused file and stay ready: %d %s", ready.Code, ready.Body)
	}
	for _, leak := range []string{"rules.yaml:3", "action", "mask", "last_reload_error"} {
		if strings.Contains(ready.Body.String(), leak) {
			t.Fatalf("readyz shows why the file was refused (%q): %s", leak, ready.Body)
		}
	}
	metrics := f.do(httptest.NewRequest(http.MethodGet, "/metrics", nil)).Body.String()
	for _, want := range []string{"modgate_rules_last_reload_successful 0", `modgate_rules_reloads_total{result="failure"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if got := answerMessage(t, f.send(payload(`{"text":"alpha"}`))); string(got) != `{"text":"*****"}` {
		t.Fatalf("old rules must keep serving: %s", got)
	}
	var status struct {
		Version   string `json:"version"`
		LastError string `json:"last_error"`
	}
	rec = f.do(adminReq(http.MethodGet, "/admin/rules", readToken))
	if err := json.Unmarshal(rec.Body.Bytes(), &status); err != nil || status.LastError == "" || status.Version == "" {
		t.Fatalf("GET /admin/rules: %s", rec.Body)
	}
}

// TestReloadUnderLoad keeps requests flowing while valid and invalid rules
// files are written and reloaded in a loop: no request may fail, and every
// answer must come from one whole rule set, old or new, never a mixture.
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	f, path, rf := rulesOnDisk(t, "alpha")
	files := []string{maskRules("beta"), "version: 1\nrules: [broken\n", maskRules("alpha"), "version: 1\nrules:\n  - id: r\n    action: mask\n"}
	allowed := map[string]bool{
		`{"text":"***** beta"}`: true, // alpha set
		`{"text":"alpha ****"}`: true, // beta set
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var requests atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				rec := f.send(payload(`{"text":"alpha beta"}`))
				requests.Add(1)
				if rec.Code != 200 {
					t.Errorf("status %d: %s", rec.Code, rec.Body)
					return
				}
				var ans struct{ Message json.RawMessage }
				json.Unmarshal(rec.Body.Bytes(), &ans)
				if !allowed[string(ans.Message)] {
					t.Errorf("answer from no single rule set: %s", ans.Message)
					return
				}
			}
		}()
	}
	for i := range 200 {
		if err := os.WriteFile(path, []byte(files[i%len(files)]), 0o644); err != nil {
			t.Fatal(err)
		}
		_ = rf.Reload()
	}
	stop.Store(true)
	wg.Wait()
	st := rf.Status()
	if st.Successes < 50 || st.Failures < 50 {
		t.Fatalf("reloads: %+v", st)
	}
	t.Logf("%d requests during %d good and %d refused reloads", requests.Load(), st.Successes, st.Failures)
}
