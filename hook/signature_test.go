package hook_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/modgate/modgate/hook"
	"github.com/modgate/modgate/hook/stream"
)

// TestSignatureFailuresAreLoggedAndCounted: a refused signature is answered
// 401 on both hooks, logged at WARN with the hook, the reason and the key
// name (a configured key only: "unknown key" otherwise, and never a secret
// or a signature), and counted by hook and reason.
func TestSignatureFailuresAreLoggedAndCounted(t *testing.T) {
	t.Parallel()
	body := []byte(payload(`{"id":"m-sig","text":"hi"}`))
	forged := stream.Sign("guess", body)
	cases := []struct {
		name         string
		keys         map[string]string
		apiKey, sig  string
		reason, logs string // logs: the api_key logged
	}{
		{"wrong secret", nil, testKey, forged, "mismatch", testKey},
		{"secret of the other key", nil, testKey, stream.Sign(rotatedSecr, body), "mismatch", testKey},
		{"missing signature", nil, testKey, "", "missing", testKey},
		{"not hex", nil, rotatedKey, strings.Repeat("zz", 32), "malformed", rotatedKey},
		{"too short", nil, testKey, forged[:20], "malformed", testKey},
		{"unknown key", nil, "sk_live_0123456789", forged, "unknown_key", "unknown key"},
		{"no key header", nil, "", forged, "mismatch", "unknown key"},
		{"secret without a key name", map[string]string{"": testSecret}, "some-key", forged, "mismatch", "unknown key"},
	}
	for _, tc := range cases {
		for _, path := range []string{beforeSendPath, pendingPath} {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				t.Parallel()
				var logs bytes.Buffer
				f := newFixture(t, func(c *hook.Config) {
					c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
					if tc.keys != nil {
						c.Keys = stream.NewKeys(tc.keys)
					}
					withReviews(&decisionRecorder{})(c)
				})
				req := signedTo(path, body)
				req.Header.Set("X-Api-Key", tc.apiKey)
				req.Header.Set("X-Signature", tc.sig)
				wantError(t, f.do(req), http.StatusUnauthorized, "bad_signature")

				hookName := map[string]string{beforeSendPath: "before_send", pendingPath: "pending"}[path]
				var line map[string]any
				lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
				if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &line) != nil {
					t.Fatalf("want one JSON log line, got %q", logs.String())
				}
				if line["level"] != "WARN" || line["hook"] != hookName || line["reason"] != tc.reason || line["api_key"] != tc.logs {
					t.Fatalf("log line %s", lines[0])
				}
				for _, secret := range []string{testSecret, rotatedSecr, forged, "sk_live"} {
					if strings.Contains(logs.String(), secret) {
						t.Fatalf("the log shows %q: %s", secret, logs.String())
					}
				}
				series := `modgate_signature_failures_total{hook="` + hookName + `",reason="` + tc.reason + `"}`
				if got := metricValue(t, f, series); got != 1 {
					t.Fatalf("%s = %v", series, got)
				}
			})
		}
	}
}
