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

// TestDryRunExplainsStrikesAndConsequences: a rule that acts says what it
// gives the sender and what may follow, and that a dry run counts no
// strikes; the ladder's example file loads.
func TestDryRunExplainsStrikesAndConsequences(t *testing.T) {
	t.Parallel()
	var out, errs bytes.Buffer
	path := filepath.Join("..", "..", "examples", "escalation.yaml")
	if code := run(context.Background(), []string{"test", path, "what the fuck"}, envFrom(nil), &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	for _, want := range []string{
		"gives the sender 1 strike, remembered 1 hour",
		"then ban for 15 minutes, if its condition holds: it reads the sender's strikes within 10 minutes, which a dry run does not count",
		"then shadow ban for 1 day, if its condition holds: it reads the sender's strikes within 1 hour",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the explanation lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := run(context.Background(), []string{"test", path, "hello there"}, envFrom(nil), &out, &errs); code != 0 ||
		strings.Contains(out.String(), "strike") {
		t.Fatalf("a message the rule does not act on: %d\n%s", code, out.String())
	}
}
