package main

import (
	"context"
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
)

const holdRules = `version: 1
rules:
  - id: hold-me
    when: {text: {contains: [holdme]}}
    action: hold
`

// fakeSends stands in for Stream's REST API and keeps what was sent.
type fakeSends struct {
	mu    sync.Mutex
	sends []string
}

func (f *fakeSends) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.sends = append(f.sends, r.Method+" "+r.URL.Path+" "+string(body))
	f.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	w.Write([]byte(`{}`))
}

func adminCall(t *testing.T, addr, method, path, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHoldApproveResend: a message held on the before-send hook waits in
// the queue; a moderator approves it; modgate sends it on the sender's
// behalf with a marker; the hook lets that send through once.
func TestHoldApproveResend(t *testing.T) {
	fake := &fakeSends{}
	streamAPI := httptest.NewServer(fake)
	defer streamAPI.Close()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(path, []byte(holdRules), 0o644)
	const mod, reader = "mod-token-0123456789", "read-token-0123456789"
	r := start(t, map[string]string{"MODGATE_RULES": path, "STREAM_API_KEY": "key", "STREAM_API_SECRET": "secret",
		"STREAM_BASE_URL": streamAPI.URL, "MODGATE_ADMIN_TOKENS": "ann:moderator:" + mod + ",bob:read:" + reader})

	msg := `{"message":{"id":"","text":"please holdme","custom_flag":true,"mentioned_users":[{"id":"u9","name":"Nine"}]},` +
		`"user":{"id":"u1","name":"Ann"},"channel":{"cid":"messaging:general","type":"messaging","id":"general"}}`
	if code, body := post(t, r.addr, "secret", msg); code != 200 || !strings.Contains(body, `"type":"error"`) {
		t.Fatalf("hold answer %d %s", code, body)
	}
	code, body := adminCall(t, r.addr, "GET", "/admin/queue?channel=messaging:general", reader, "")
	var page struct {
		Items []struct {
			ID, Text, UserID string
			Rules            []string
		}
	}
	if code != 200 || json.Unmarshal([]byte(body), &page) != nil || len(page.Items) != 1 || page.Items[0].Text != "please holdme" ||
		page.Items[0].Rules[0] != "hold-me" {
		t.Fatalf("queue %d %s", code, body)
	}
	id := page.Items[0].ID
	if code, _ := adminCall(t, r.addr, "POST", "/admin/queue/"+id+"/approve", reader, ""); code != 403 {
		t.Fatalf("a read token approved: %d", code)
	}
	if code, body := adminCall(t, r.addr, "GET", "/admin/queue/"+id, "", ""); code != 401 {
		t.Fatalf("no token: %d %s", code, body)
	}
	if code, body := adminCall(t, r.addr, "POST", "/admin/queue/"+id+"/approve", mod, ""); code != 200 {
		t.Fatalf("approve %d %s", code, body)
	}
	if code, body := adminCall(t, r.addr, "POST", "/admin/queue/"+id+"/approve", mod, ""); code != 409 || !strings.Contains(body, "already_decided") {
		t.Fatalf("second approval: %d %s, want 409 (decided)", code, body)
	}
	if code, body := adminCall(t, r.addr, "GET", "/admin/queue/"+id, reader, ""); code != 200 || !strings.Contains(body, `"state":"done"`) {
		t.Fatalf("a decided item reads as done for a while: %d %s", code, body)
	}
	if len(fake.sends) != 1 || !strings.HasPrefix(fake.sends[0], "POST /channels/messaging/general/message ") {
		t.Fatalf("sends %v", fake.sends)
	}
	var sent struct {
		Message map[string]json.RawMessage `json:"message"`
	}
	json.Unmarshal([]byte(strings.SplitN(fake.sends[0], " ", 3)[2]), &sent)
	if string(sent.Message["user_id"]) != `"u1"` || string(sent.Message["custom_flag"]) != "true" ||
		string(sent.Message["mentioned_users"]) != `["u9"]` || sent.Message["modgate_approval"] == nil || string(sent.Message["id"]) != `"`+id+`"` {
		t.Fatalf("sent %s", fake.sends[0])
	}

	// Stream passes the send through the hook again: it goes through once,
	// without the marker.
	resend := `{"message":{"id":"","text":"please holdme","custom_flag":true,"modgate_approval":` + string(sent.Message["modgate_approval"]) +
		`},"user":{"id":"u1"},"channel":{"cid":"messaging:general"}}`
	if code, body := post(t, r.addr, "secret", resend); code != 200 || body != `{"message":{"id":"","text":"please holdme","custom_flag":true}}` {
		t.Fatalf("approved resend %d %s", code, body)
	}
	if _, body := post(t, r.addr, "secret", resend); !strings.Contains(body, `"type":"error"`) {
		t.Fatalf("a replayed marker went through: %s", body)
	}
	forged := strings.Replace(resend, "please holdme", "something else holdme", 1)
	if _, body := post(t, r.addr, "secret", forged); !strings.Contains(body, `"type":"error"`) {
		t.Fatalf("a marker moved to another text went through: %s", body)
	}

	// Reject another one, with a reason; the audit log tells it all.
	post(t, r.addr, "secret", strings.Replace(msg, "please holdme", "holdme again", 1))
	_, body = adminCall(t, r.addr, "GET", "/admin/queue", reader, "")
	json.Unmarshal([]byte(body), &page)
	if len(page.Items) != 1 {
		t.Fatalf("queue %s", body)
	}
	if code, body := adminCall(t, r.addr, "POST", "/admin/queue/"+page.Items[0].ID+"/reject", mod, `{"reason":"spam"}`); code != 200 {
		t.Fatalf("reject %d %s", code, body)
	}
	if code, body := adminCall(t, r.addr, "POST", "/admin/queue/x/reject", mod, `{"reason":`); code != 400 {
		t.Fatalf("malformed body: %d %s", code, body)
	}
	_, body = adminCall(t, r.addr, "GET", "/admin/audit", reader, "")
	for _, want := range []string{`"action":"held"`, `"action":"approved","item_id":"` + id, `"actor":"ann"`, `"reason":"spam"`, `"action":"rejected"`} {
		if !strings.Contains(body, want) {
			t.Errorf("audit lacks %s:\n%s", want, body)
		}
	}
	if len(fake.sends) != 1 {
		t.Fatalf("a rejected before-send hold must not reach Stream: %v", fake.sends)
	}
}

func TestHeldMessagesExpire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(path, []byte(holdRules), 0o644)
	const mod = "mod-token-0123456789"
	r := start(t, map[string]string{"MODGATE_RULES": path, "STREAM_API_SECRET": "secret", "MODGATE_HOLD_TTL": "200ms",
		"MODGATE_ADMIN_TOKENS": "ann:moderator:" + mod})
	post(t, r.addr, "secret", `{"message":{"text":"holdme"},"user":{"id":"u1"},"channel":{"cid":"messaging:a"}}`)
	_, body := adminCall(t, r.addr, "GET", "/admin/queue", mod, "")
	var page struct{ Items []struct{ ID string } }
	json.Unmarshal([]byte(body), &page)
	if len(page.Items) != 1 {
		t.Fatalf("queue %s", body)
	}
	time.Sleep(300 * time.Millisecond)
	if code, body := adminCall(t, r.addr, "POST", "/admin/queue/"+page.Items[0].ID+"/approve", mod, ""); code != 410 || !strings.Contains(body, `"expired"`) {
		t.Fatalf("approval past the deadline: %d %s", code, body)
	}
}

func TestQueueCommand(t *testing.T) {
	fake := &fakeSends{}
	api := httptest.NewServer(fake)
	defer api.Close()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(path, []byte(holdRules), 0o644)
	const mod = "mod-token-0123456789"
	r := start(t, map[string]string{"MODGATE_RULES": path, "STREAM_API_KEY": "key", "STREAM_API_SECRET": "secret",
		"STREAM_BASE_URL": api.URL, "MODGATE_ADMIN_TOKENS": "ann:moderator:" + mod})
	post(t, r.addr, "secret", `{"message":{"text":"holdme now"},"user":{"id":"u1"},"channel":{"cid":"messaging:general"}}`)
	env := envFrom(map[string]string{"MODGATE_ADMIN_URL": "http://" + r.addr, "MODGATE_ADMIN_TOKEN": mod})
	var out, errs strings.Builder
	if code := run(context.Background(), []string{"queue", "list", "--channel", "messaging:general"}, env, &out, &errs); code != 0 {
		t.Fatalf("list: %d %s", code, errs.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"holdme now"`) || !strings.Contains(lines[1], "hold-me") {
		t.Fatalf("list output:\n%s", out.String())
	}
	id := strings.Fields(lines[1])[0]
	out.Reset()
	if code := run(context.Background(), []string{"queue", "show", id}, env, &out, &errs); code != 0 || !strings.Contains(out.String(), `"text": "holdme now"`) {
		t.Fatalf("show: %d %s %s", code, out.String(), errs.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"queue", "reject", id, "--reason", "spam"}, env, &out, &errs); code != 0 || out.String() != id+": rejected\n" {
		t.Fatalf("reject: %d %q %s", code, out.String(), errs.String())
	}
	errs.Reset()
	if code := run(context.Background(), []string{"queue", "approve", id}, env, &out, &errs); code != 1 || !strings.Contains(errs.String(), "already_decided (409)") {
		t.Fatalf("approve a decided message: %d %s", code, errs.String())
	}
	if code := run(context.Background(), []string{"queue", "frob"}, env, &out, &errs); code != 2 {
		t.Fatalf("unknown subcommand: %d", code)
	}
	if code := run(context.Background(), []string{"queue", "list"}, envFrom(nil), &out, &errs); code != 2 {
		t.Fatalf("no token: %d", code)
	}
}
