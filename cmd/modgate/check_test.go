package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckWarnsAboutCostlyPatterns: a costly pattern is accepted (exit 0)
// with a warning at its file:line:column.
func TestCheckWarnsAboutCostlyPatterns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	src := "version: 1\nrules:\n  - id: costly\n    when: {text: {matches: '[a-z]{1000}[0-9]'}}\n    action: reject\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"check", path}, envFrom(nil), &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), ": ok: 1 rules, version ") || !strings.HasSuffix(out.String(), ", 1 warning\n") {
		t.Fatalf("output %q", out.String())
	}
	want := path + `:4:28: warning: rule "costly": when.text.matches: the repetition {1000} makes this pattern 1003 steps long`
	if !strings.HasPrefix(errs.String(), want) {
		t.Fatalf("warning %q, want it to start with %q", errs.String(), want)
	}
}

// TestCheckRefusesAliasExplosion: the 886-byte file whose aliases expand to
// ten billion conditions is refused at the alias, at once.
func TestCheckRefusesAliasExplosion(t *testing.T) {
	path := filepath.Join("..", "..", "rules", "testdata", "errors", "alias-explosion.yaml")
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"check", path}, envFrom(nil), &out, &errs); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if want := path + ":15:37: YAML: aliases repeat more than 1024 KiB of the file once expanded (here, at *e)"; !strings.HasPrefix(errs.String(), want) {
		t.Fatalf("output %q", errs.String())
	}
}

// TestCheckReportsTestsAfterAnError: the inline tests of the rules after a
// broken one are run against their own conditions: passing examples pass,
// a real failure is reported.
func TestCheckReportsTestsAfterAnError(t *testing.T) {
	path := filepath.Join("..", "..", "rules", "testdata", "errors", "tests-after-an-error.yaml")
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"check", path}, envFrom(nil), &out, &errs); code != 1 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(errs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `unknown list "nope"`) ||
		!strings.Contains(lines[1], `rule "guests": tests.no_match[1]: "hello" matches the rule, but should not`) {
		t.Fatalf("output:\n%s", errs.String())
	}
}
