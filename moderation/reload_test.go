package moderation_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
	"github.com/modgate/modgate/storage"
)

const rulesA = "version: 1\nlists:\n  w: {file: words.txt}\nrules:\n  - id: a\n    when: {text: {contains: [list.w]}}\n    action: mask\n"

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	// Write beside and rename over, as editors and config managers do.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func newRulesFile(t *testing.T) (*moderation.RulesFile, *moderation.Engine, string) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	writeFile(t, path, rulesA)
	writeFile(t, filepath.Join(dir, "words.txt"), "alpha\n")
	set, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	engine := moderation.NewEngine(set, moderation.EngineOptions{})
	return moderation.NewRulesFile(path, engine, nil), engine, dir
}

func masked(e *moderation.Engine, text string) string {
	v, _ := e.Evaluate(context.Background(), &moderation.Message{Text: text}, moderation.Options{})
	if v.TextChanged {
		return v.Text
	}
	return text
}

func TestReload(t *testing.T) {
	t.Parallel()
	rf, engine, dir := newRulesFile(t)
	path := filepath.Join(dir, "rules.yaml")
	v1 := engine.Rules().Version

	if err := rf.Reload(); !errors.Is(err, moderation.ErrUnchanged) {
		t.Fatalf("reload of the same file: %v", err)
	}
	if engine.Rules().Version != v1 {
		t.Fatal("an unchanged file must not swap the rules")
	}

	writeFile(t, path, "version: 1\nrules:\n  - id: broken\n    action: explode\n")
	err := rf.Reload()
	if err == nil {
		t.Fatal("broken file accepted")
	}
	st := rf.Status()
	if st.LastError == "" || st.Failures != 1 || st.Version != v1 || masked(engine, "alpha") != "*****" {
		t.Fatalf("after a refused file the old rules must serve: %+v", st)
	}

	writeFile(t, path, rulesA)
	writeFile(t, filepath.Join(dir, "words.txt"), "beta\n")
	if err := rf.Reload(); err != nil {
		t.Fatal(err)
	}
	st = rf.Status()
	if st.LastError != "" || st.Successes != 1 || st.Version == v1 || masked(engine, "alpha beta") != "alpha ****" {
		t.Fatalf("status %+v, text %q", st, masked(engine, "alpha beta"))
	}
}

func TestWatchSeesRenamesAndListFiles(t *testing.T) {
	t.Parallel()
	rf, engine, dir := newRulesFile(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go rf.Watch(ctx, 10*time.Millisecond)

	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if ok() {
				return
			}
		}
		t.Fatalf("watch did not notice: %s", what)
	}
	// A list file changes.
	time.Sleep(20 * time.Millisecond)
	writeFile(t, filepath.Join(dir, "words.txt"), "gamma\n")
	waitFor("list file replaced", func() bool { return masked(engine, "gamma") == "*****" })

	// The rules file is replaced by a broken one: refused, old rules serve.
	writeFile(t, filepath.Join(dir, "rules.yaml"), "version: 1\nrules: [oops\n")
	waitFor("broken file refused", func() bool { return rf.Status().LastError != "" })
	if masked(engine, "gamma") != "*****" {
		t.Fatal("old rules stopped serving")
	}
	failures := rf.Status().Failures
	time.Sleep(100 * time.Millisecond)
	if rf.Status().Failures != failures {
		t.Fatal("an unchanged broken file must not be reloaded again and again")
	}

	// Fixed again.
	writeFile(t, filepath.Join(dir, "rules.yaml"), rulesA+"  - id: b\n    when: {text: {contains: [delta]}}\n    action: reject\n")
	waitFor("fixed file loaded", func() bool { return rf.Status().LastError == "" && len(engine.Rules().Rules) == 2 })
}

// TestReloadsAreAudited: every reload is in the audit log, with who asked,
// the versions, and the problems of a refused file.
func TestReloadsAreAudited(t *testing.T) {
	t.Parallel()
	rf, engine, dir := newRulesFile(t)
	log := storage.NewMemoryAudit(0)
	rf.Audit = log
	path := filepath.Join(dir, "rules.yaml")
	v1 := engine.Rules().Version
	rf.ReloadBy("ann", "admin API")
	writeFile(t, path, "version: 1\nrules:\n  - id: broken\n    action: explode\n")
	rf.ReloadBy("modgate", "SIGHUP")
	writeFile(t, filepath.Join(dir, "words.txt"), "beta\n")
	writeFile(t, path, rulesA)
	rf.ReloadBy("modgate", "a rules file changed")
	v2 := engine.Rules().Version

	entries, _, err := log.List(context.Background(), moderation.AuditFilter{})
	if err != nil || len(entries) != 3 {
		t.Fatalf("%d entries %v", len(entries), err)
	}
	for i, want := range []moderation.AuditEntry{
		{Actor: "modgate", Action: moderation.AuditReloaded, RulesVersion: v2, PreviousVersion: v1, Reason: "a rules file changed"},
		{Actor: "modgate", Action: moderation.AuditRefused, RulesVersion: v1, Reason: "SIGHUP"},
		{Actor: "ann", Action: moderation.AuditUnchanged, RulesVersion: v1, Reason: "admin API"},
	} {
		e := entries[i]
		if e.Actor != want.Actor || e.Action != want.Action || e.RulesVersion != want.RulesVersion ||
			e.PreviousVersion != want.PreviousVersion || e.Reason != want.Reason || e.At.IsZero() {
			t.Errorf("entry %d: %+v, want %+v", i, e, want)
		}
	}
	if !strings.Contains(entries[1].Error, "explode") {
		t.Errorf("a refused file's entry lacks its problems: %q", entries[1].Error)
	}
}
