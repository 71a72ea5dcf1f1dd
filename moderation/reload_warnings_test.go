package moderation_test

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// TestReloadLogsWarnings: a reloaded file with a costly pattern is put in
// force, and its warning is logged with its position.
func TestReloadLogsWarnings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	writeFile(t, path, "version: 1\nrules: []\n")
	set, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	engine := moderation.NewEngine(set, moderation.EngineOptions{})
	rf := moderation.NewRulesFile(path, engine, slog.New(slog.NewTextHandler(&logs, nil)))
	writeFile(t, path, "version: 1\nrules:\n  - id: costly\n    when: {text: {matches: '[a-z]{1000}[0-9]'}}\n    action: reject\n")
	if err := rf.Reload(); err != nil {
		t.Fatal(err)
	}
	if len(engine.Rules().Rules) != 1 {
		t.Fatal("the file with a warning was not put in force")
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"rules warning\"") || !strings.Contains(logs.String(), `rules.yaml:4:28: warning: rule \"costly\"`) {
		t.Fatalf("logs:\n%s", logs.String())
	}
}
