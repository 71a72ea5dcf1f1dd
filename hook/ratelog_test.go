package hook

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// logLines decodes JSON log lines.
func logLines(t *testing.T, logs *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// TestSignatureLogIsRateLimitedOnItsOwn: refused signatures are logged at
// most once an interval, the next line saying how many were held back;
// their limiter is their own, so they neither silence other warnings nor
// are silenced by them.
func TestSignatureLogIsRateLimitedOnItsOwn(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	set, err := rules.Parse("t.yaml", []byte("version: 1\nrules:\n  - id: slurs\n    when: {text: {contains: [slurword]}}\n    action: mask\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{
		Keys:     stream.NewKeys(map[string]string{"k": "secret"}),
		Engine:   moderation.NewEngine(set, moderation.EngineOptions{}),
		Logger:   slog.New(slog.NewJSONHandler(&logs, nil)),
		Deadline: time.Nanosecond, // every message passes it, and says so
	})
	now := time.Now()
	clock := func() time.Time { return now }
	s.signatureLog.now, s.deadlineLog.now = clock, clock
	call := func(secret string) int {
		body := []byte(`{"message":{"text":"slurword"}}`)
		req := httptest.NewRequest(http.MethodPost, "/hooks/before-message-send", bytes.NewReader(body))
		req.Header.Set("X-Api-Key", "k")
		req.Header.Set("X-Signature", stream.Sign(secret, body))
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code
	}

	for range 5 {
		if code := call("wrong"); code != http.StatusUnauthorized {
			t.Fatalf("status %d", code)
		}
	}
	if code := call("secret"); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	lines := logLines(t, &logs)
	if len(lines) != 2 || lines[0]["reason"] != "mismatch" || lines[1]["msg"] != "deadline passed: on_error decided" {
		t.Fatalf("want one signature line, then the deadline's: %s", logs.String())
	}

	now = now.Add(10 * time.Second)
	logs.Reset()
	call("wrong")
	lines = logLines(t, &logs)
	if len(lines) != 1 || lines[0]["similar_lines_held_back"] != 4.0 {
		t.Fatalf("want one line saying 4 were held back: %s", logs.String())
	}
}
