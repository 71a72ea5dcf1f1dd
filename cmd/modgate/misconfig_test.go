package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// logLines parses a JSON log.
func logLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON log line: %q", l)
		}
		lines = append(lines, m)
	}
	return lines
}

// findLine returns the first line whose message starts with msg.
func findLine(lines []map[string]any, msg string) map[string]any {
	for _, l := range lines {
		if m, _ := l["msg"].(string); strings.HasPrefix(m, msg) {
			return l
		}
	}
	return nil
}

// TestServeWarnsOfMisnamedVariables: a typo in a variable's name is a
// warning at start that names the variable meant; modgate still starts.
func TestServeWarnsOfMisnamedVariables(t *testing.T) {
	r := start(t, map[string]string{"MODGATE_RULES": shippedRules(t), "STREAM_API_SECRET": "secret", "MODGATE_ADRR": ":9999"})
	line := findLine(logLines(t, r.stderr.String()), "MODGATE_ADRR: did you mean MODGATE_ADDR?")
	if line == nil || line["level"] != "WARN" || line["variable"] != "MODGATE_ADRR" || line["did_you_mean"] != "MODGATE_ADDR" {
		t.Fatalf("no warning naming MODGATE_ADDR:\n%s", r.stderr)
	}
}

// TestServeRefusesMisconfiguration: mistakes that would make modgate run
// otherwise than its operator meant stop it at start, with a line that
// says what is wrong.
func TestServeRefusesMisconfiguration(t *testing.T) {
	redisURL := testRedisURL(t)
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/999"
	noSuchDB := u.String()
	base := func(extra map[string]string) map[string]string {
		env := map[string]string{"MODGATE_RULES": shippedRules(t), "STREAM_API_SECRET": "secret", "MODGATE_ADDR": "127.0.0.1:0"}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"REDIS_URL under another name", base(map[string]string{"MODGATE_REDIS_URL": redisURL}),
			"MODGATE_REDIS_URL is not read: the variable is REDIS_URL, without MODGATE_"},
		{"REDIS_URL without a scheme", base(map[string]string{"REDIS_URL": "127.0.0.1:6379"}),
			`no scheme: write redis://127.0.0.1:6379 (or rediss:// for TLS`},
		{"REDIS_URL without a scheme, with a password", base(map[string]string{"REDIS_URL": "user:pw@127.0.0.1:6379"}),
			`redis url \"…\": no scheme`},
		{"REDIS_URL with a database that is no number", base(map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/first"}),
			`invalid database number: \"first\"`},
		{"REDIS_URL with a database the server lacks", base(map[string]string{"REDIS_URL": noSuchDB}),
			"REDIS_URL is invalid: the server has no database of that number"},
		{"a key given twice", base(map[string]string{"MODGATE_STREAM_KEYS": "a:one,a:two"}),
			`MODGATE_STREAM_KEYS: key \"a\" is given twice`},
		{"the admin address is the hooks' one", base(map[string]string{"MODGATE_ADDR": "127.0.0.1:8089", "MODGATE_ADMIN_ADDR": "127.0.0.1:8089"}),
			"MODGATE_ADMIN_ADDR: \\\"127.0.0.1:8089\\\" is MODGATE_ADDR too"},
		{"a cap of no connections", base(map[string]string{"MODGATE_MAX_CONNS": "0"}),
			"MODGATE_MAX_CONNS: \\\"0\\\" is not a whole number of 1 or more"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, errs := runCmd(t, tc.env, "serve")
			if code != 2 || !strings.Contains(errs, tc.want) || strings.Contains(errs, `"msg":"listening"`) {
				t.Fatalf("exit %d, want 2 and %q in:\n%s", code, tc.want, errs)
			}
		})
	}
}

// TestServeSaysWhereDecisionsGo: a line at start names Stream's API and
// the key decisions are sent with, and a development key sent to Stream's
// production API is a warning.
func TestServeSaysWhereDecisionsGo(t *testing.T) {
	cases := []struct {
		name      string
		env       map[string]string
		base, key string
		warn      bool
	}{
		{"a development key, STREAM_BASE_URL unset", map[string]string{"STREAM_API_KEY": "dev", "STREAM_API_SECRET": "s"},
			"https://chat.stream-io-api.com", "dev", true},
		{"a development key with its own API", map[string]string{"STREAM_API_KEY": "dev", "STREAM_API_SECRET": "s", "STREAM_BASE_URL": "http://127.0.0.1:1"},
			"http://127.0.0.1:1", "dev", false},
		{"Stream's kind of key", map[string]string{"STREAM_API_KEY": "mmhfdzb5evj2", "STREAM_API_SECRET": "s"},
			"https://chat.stream-io-api.com", "mmhfdzb5evj2", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.env["MODGATE_RULES"] = shippedRules(t)
			r := start(t, tc.env)
			lines := logLines(t, r.stderr.String())
			l := findLine(lines, "decisions go to Stream")
			if l == nil || l["stream_base_url"] != tc.base || l["api_key"] != tc.key {
				t.Fatalf("no line saying where decisions go:\n%s", r.stderr)
			}
			if w := findLine(lines, "STREAM_API_KEY looks like a development key"); (w != nil) != tc.warn || (w != nil && w["level"] != "WARN") {
				t.Fatalf("development key warning: %v, want %v:\n%s", w, tc.warn, r.stderr)
			}
		})
	}
	r := start(t, map[string]string{"MODGATE_RULES": shippedRules(t), "STREAM_API_SECRET": "s"})
	if l := findLine(logLines(t, r.stderr.String()), "no STREAM_API_KEY: moderators' decisions"); l == nil || l["level"] != "WARN" {
		t.Fatalf("no warning without a key:\n%s", r.stderr)
	}
}
