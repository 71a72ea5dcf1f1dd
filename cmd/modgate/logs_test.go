package main

import (
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	}
	return "object"
}

// TestLogKeysKeepTheirTypes: across a run that starts, decides messages
// of every kind, refuses a signature, reloads the rules well and badly and
// stops, every key of the JSON log has one type (rules is a list of rule
// ids everywhere), a line that carries an error is a warning or an error,
// and a decision line names its sender.
func TestLogKeysKeepTheirTypes(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(shippedRules(t))
	if err != nil {
		t.Fatal(err)
	}
	rulesPath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesPath, src, 0o644); err != nil {
		t.Fatal(err)
	}
	token := "mod-token-0123456789"
	r := start(t, map[string]string{"MODGATE_RULES": rulesPath, "STREAM_API_KEY": "key", "STREAM_API_SECRET": "secret",
		"MODGATE_LOG_LEVEL": "debug", "MODGATE_ADMIN_TOKENS": "ann:moderator:" + token, "MODGATE_RULES_POLL": "1h"})
	for _, text := range []string{"good morning", "this is bullshit", "you f4gg0t"} {
		if code, body := post(t, r.addr, "secret", `{"message":{"text":"`+text+`"},"user":{"id":"u-42"}}`); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	if code, _ := post(t, r.addr, "wrong", `{"message":{"text":"hi"}}`); code != 401 {
		t.Fatalf("wrong secret: %d", code)
	}
	reload := func() {
		req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/admin/rules/reload", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	os.WriteFile(rulesPath, append(src, []byte("\n# changed\n")...), 0o644)
	reload()
	os.WriteFile(rulesPath, []byte("version: 1\nrules:\n  - id: broken\n    action: frob\n"), 0o644)
	reload()
	if code := r.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}

	types := map[string]map[string]bool{}
	decisions := 0
	for _, line := range logLines(t, r.stderr.String()) {
		for k, v := range line {
			if types[k] == nil {
				types[k] = map[string]bool{}
			}
			types[k][jsonType(v)] = true
		}
		if _, ok := line["err"]; ok && line["level"] != "WARN" && line["level"] != "ERROR" {
			t.Errorf("a failure logged at %v: %v", line["level"], line)
		}
		if line["msg"] == "decision" {
			decisions++
			if line["user_id"] != "u-42" {
				t.Errorf("a decision line without its sender: %v", line)
			}
		}
	}
	for k, ts := range types {
		if len(ts) > 1 {
			var names []string
			for n := range ts {
				names = append(names, n)
			}
			sort.Strings(names)
			t.Errorf("log key %q has several types: %s", k, strings.Join(names, ", "))
		}
	}
	if decisions != 3 || !types["rules"]["array"] || !types["rule_count"]["number"] {
		t.Fatalf("%d decision lines; types %v\n%s", decisions, types, r.stderr)
	}
}
