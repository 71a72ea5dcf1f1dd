package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDryRunExplainsObserveMode: a rule in observe mode never ends the
// check, so the rules after it are reached and shown as they are; only an
// enforced decision ends it.
func TestDryRunExplainsObserveMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	src := `version: 1
rules:
  - id: watch-links
    when: {links: {in: [spam.xyz]}}
    action: reject
    mode: observe
  - id: mask-darn
    when: {text: {contains: [darn]}}
    action: mask
  - id: reject-blast
    when: {text: {contains: [blast]}}
    action: reject
  - id: after-the-end
    when: {text: {contains: [darn]}}
    action: flag
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"test", path, "darn, see spam.xyz, blast"}, envFrom(nil), &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	status := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 3 && (fields[1] == "reject" || fields[1] == "mask" || fields[1] == "flag") {
			status[fields[0]] = strings.Join(fields[2:], " ")
		}
	}
	want := map[string]string{
		"watch-links":   "MATCHED (observe mode: would reject)",
		"mask-darn":     "MATCHED",
		"reject-blast":  "MATCHED",
		"after-the-end": "would match, but an earlier rule ended the check",
	}
	for id, w := range want {
		if status[id] != w {
			t.Errorf("%s: %q, want %q\n%s", id, status[id], w, out.String())
		}
	}
	if !strings.Contains(out.String(), `the field's value "spam.xyz"`) {
		t.Errorf("the link is not explained:\n%s", out.String())
	}
}
