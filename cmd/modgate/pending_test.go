package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modgate/modgate/hook/stream"
)

const pendingRules = `version: 1
rules:
  - id: bad
    when: {text: {contains: [badword]}}
    action: reject
  - id: review
    when: {text: {contains: [reviewme]}}
    action: hold
`

// streamFake records the REST calls modgate makes and can fail them.
type streamFake struct {
	mu    sync.Mutex
	calls []string
	fail  int // answer 503 to this many calls first
}

func (f *streamFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		w.WriteHeader(503)
		return
	}
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	w.WriteHeader(201)
	w.Write([]byte(`{}`))
}

func (f *streamFake) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func waitCalls(t *testing.T, f *streamFake, n int) []string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got := f.got(); len(got) >= n {
			return got
		}
	}
	t.Fatalf("Stream got %v, want %d calls", f.got(), n)
	return nil
}

func postTo(t *testing.T, addr, path, secret, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", "key")
	req.Header.Set("X-Signature", stream.Sign(secret, []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func pendingEnv(t *testing.T, streamURL string) map[string]string {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(path, []byte(pendingRules), 0o644)
	return map[string]string{"MODGATE_RULES": path, "STREAM_API_KEY": "key", "STREAM_API_SECRET": "secret",
		"STREAM_BASE_URL": streamURL, "MODGATE_ADMIN_TOKENS": "ann:moderator:mod-token-0123456789"}
}

// redisPendingEnv is pendingEnv with state in the test Redis, under a
// prefix of its own.
func redisPendingEnv(t *testing.T, streamURL string) map[string]string {
	env := pendingEnv(t, streamURL)
	env["REDIS_URL"] = testRedisURL(t)
	env["MODGATE_REDIS_PREFIX"] = uniquePrefix()
	env["MODGATE_REDIS_TIMEOUT"] = "5s"
	return env
}

// again is the environment of a second run of the same service.
func again(env map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		out[k] = v
	}
	out["MODGATE_ADDR"] = ""
	return out
}

func pendingMsg(id, text string) string {
	return `{"message":{"id":"` + id + `","text":"` + text + `","cid":"messaging:general","user":{"id":"u1"},` +
		`"created_at":"` + time.Now().UTC().Format(time.RFC3339) + `"},"metadata":{"source":"app"},"request_info":{"ip":"1.2.3.4"}}`
}

func TestPendingMessages(t *testing.T) {
	fake := &streamFake{}
	api := httptest.NewServer(fake)
	defer api.Close()
	r := start(t, pendingEnv(t, api.URL))

	// The old envelope on the callback's URL: allowed → committed.
	if code, body := postTo(t, r.addr, "/hooks/pending/PassOnPendingMessage", "secret", pendingMsg("m1", "hello")); code != 200 || !strings.Contains(body, "approving") {
		t.Fatalf("%d %s", code, body)
	}
	// The newer envelope on the bare URL: rejected → hard-deleted.
	newer := `{"type":"message.pending","method":"PassOnPendingMessage","message":{"id":"m2","text":"a badword"},` +
		`"user":{"id":"u2"},"channel":{"cid":"messaging:general"},"created_at":"` + time.Now().UTC().Format(time.RFC3339) + `"}`
	if code, body := postTo(t, r.addr, "/hooks/pending", "secret", newer); code != 200 || !strings.Contains(body, "rejecting") {
		t.Fatalf("%d %s", code, body)
	}
	got := waitCalls(t, fake, 2)
	want := map[string]bool{"POST /messages/m1/commit": true, "DELETE /messages/m2": true}
	for _, g := range got {
		if !want[g] {
			t.Fatalf("calls %v", got)
		}
	}
	// Held: waits for a moderator, then committed once.
	if _, body := postTo(t, r.addr, "/hooks/pending/PassOnPendingMessage", "secret", pendingMsg("m3", "reviewme please")); !strings.Contains(body, "held") {
		t.Fatalf("hold: %s", body)
	}
	if code, body := adminCall(t, r.addr, "POST", "/admin/queue/m3/approve", "mod-token-0123456789", ""); code != 200 {
		t.Fatalf("approve %d %s", code, body)
	}
	if got := waitCalls(t, fake, 3); got[2] != "POST /messages/m3/commit" {
		t.Fatalf("calls %v", got)
	}
	// The sender deletes a held message: it leaves the queue.
	postTo(t, r.addr, "/hooks/pending/PassOnPendingMessage", "secret", pendingMsg("m4", "reviewme too"))
	if code, _ := postTo(t, r.addr, "/hooks/pending/DeletedPendingMessage", "secret", pendingMsg("m4", "reviewme too")); code != 200 {
		t.Fatalf("deleted: %d", code)
	}
	if code, _ := adminCall(t, r.addr, "GET", "/admin/queue/m4", "mod-token-0123456789", ""); code != 404 {
		t.Fatalf("deleted message still queued: %d", code)
	}
	// Bad input.
	if code, _ := postTo(t, r.addr, "/hooks/pending/PassOnPendingMessage", "wrong", pendingMsg("m5", "hello")); code != 401 {
		t.Fatalf("wrong signature: %d", code)
	}
	if code, _ := postTo(t, r.addr, "/hooks/pending/PassOnPendingMessage", "secret", `{"message":{"text":"no id"}}`); code != 400 {
		t.Fatalf("no id: %d", code)
	}
	if code, _ := postTo(t, r.addr, "/hooks/pending/Frobnicate", "secret", pendingMsg("m6", "hello")); code != 404 {
		t.Fatalf("unknown callback: %d", code)
	}
	if code, _ := postTo(t, r.addr, "/hooks/pending", "secret", `{"message":`); code != 400 {
		t.Fatalf("malformed: %d", code)
	}
	huge := pendingMsg("m7", strings.Repeat("a", 2<<20))
	if code, _ := postTo(t, r.addr, "/hooks/pending/PassOnPendingMessage", "secret", huge); code != 413 {
		t.Fatalf("oversized: %d", code)
	}
	// Bad admin queries.
	for _, q := range []string{"?limit=0", "?limit=x", "?cursor=%21%21", "?held_after=tuesday"} {
		if code, body := adminCall(t, r.addr, "GET", "/admin/queue"+q, "mod-token-0123456789", ""); code != 400 {
			t.Fatalf("GET /admin/queue%s: %d %s", q, code, body)
		}
	}
}

func TestPendingDecisionsSurviveStreamFailures(t *testing.T) {
	fake := &streamFake{fail: 100}
	api := httptest.NewServer(fake)
	defer api.Close()
	r := start(t, pendingEnv(t, api.URL))
	postTo(t, r.addr, "/hooks/pending/PassOnPendingMessage", "secret", pendingMsg("f1", "reviewme"))
	// Stream fails: the approval is recorded and goes on in the background.
	if code, body := adminCall(t, r.addr, "POST", "/admin/queue/f1/approve", "mod-token-0123456789", ""); code != 202 || !strings.Contains(body, `"state":"deciding"`) {
		t.Fatalf("approve while Stream fails: %d %s", code, body)
	}
	code, body := adminCall(t, r.addr, "GET", "/admin/queue/f1", "mod-token-0123456789", "")
	var h struct {
		State     string `json:"state"`
		LastError string `json:"last_error"`
		Decision  string `json:"decision"`
		DecidedBy string `json:"decided_by"`
		Attempts  int    `json:"attempts"`
	}
	if json.Unmarshal([]byte(body), &h); code != 200 || h.State != "deciding" || h.LastError == "" || h.Decision != "approve" ||
		h.DecidedBy != "ann" || h.Attempts != 1 {
		t.Fatalf("item after the failure: %d %s", code, body)
	}
	fake.mu.Lock()
	fake.fail = 0
	fake.mu.Unlock()
	// A moderator need not wait for the retry: approving again tries now.
	if code, body := adminCall(t, r.addr, "POST", "/admin/queue/f1/approve", "mod-token-0123456789", ""); code != 200 || !strings.Contains(body, `"state":"done"`) {
		t.Fatalf("retry: %d %s", code, body)
	}
	if got := fake.got(); len(got) != 1 || got[0] != "POST /messages/f1/commit" {
		t.Fatalf("calls %v", got)
	}
}

// TestRestartWithRedis: messages held before a restart are approved after
// it, and each is committed once.
func TestRestartWithRedis(t *testing.T) {
	fake := &streamFake{}
	api := httptest.NewServer(fake)
	defer api.Close()
	env := redisPendingEnv(t, api.URL)
	first := start(t, env)
	for _, id := range []string{"r1", "r2", "r3"} {
		postTo(t, first.addr, "/hooks/pending/PassOnPendingMessage", "secret", pendingMsg(id, "reviewme"))
	}
	if code := first.stop(t); code != 0 {
		t.Fatalf("first run exited %d", code)
	}
	env2 := again(env)
	second := start(t, env2)
	for _, id := range []string{"r1", "r2", "r3"} {
		if code, body := adminCall(t, second.addr, "POST", "/admin/queue/"+id+"/approve", "mod-token-0123456789", ""); code != 200 {
			t.Fatalf("approve %s after the restart: %d %s", id, code, body)
		}
	}
	if got := fake.got(); strings.Join(got, ",") != "POST /messages/r1/commit,POST /messages/r2/commit,POST /messages/r3/commit" {
		t.Fatalf("calls %v", got)
	}
}

// TestDecisionsLeftUndoneAreCarriedOutAfterARestart: the rules allowed a
// pending message, Stream failed, modgate stopped; the next run commits it.
func TestDecisionsLeftUndoneAreCarriedOutAfterARestart(t *testing.T) {
	fake := &streamFake{fail: 1000}
	api := httptest.NewServer(fake)
	defer api.Close()
	env := redisPendingEnv(t, api.URL)
	first := start(t, env)
	if _, body := postTo(t, first.addr, "/hooks/pending/PassOnPendingMessage", "secret", pendingMsg("u1", "hello")); !strings.Contains(body, "approving") {
		t.Fatalf("%s", body)
	}
	first.stop(t) // waits for the background decision, which Stream keeps refusing
	if got := fake.got(); len(got) != 0 {
		t.Fatalf("calls %v", got)
	}
	fake.mu.Lock()
	fake.fail = 0
	fake.mu.Unlock()
	env2 := again(env)
	start(t, env2)
	if got := waitCalls(t, fake, 1); got[0] != "POST /messages/u1/commit" {
		t.Fatalf("calls %v", got)
	}
}
