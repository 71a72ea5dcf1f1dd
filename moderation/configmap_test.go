package moderation_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// configMap lays out a folder as the kubelet mounts a ConfigMap: each key
// a symbolic link through ..data to a folder of this version's files.
type configMap struct {
	t       *testing.T
	dir     string
	version int
}

func newConfigMap(t *testing.T, files map[string]string) *configMap {
	m := &configMap{t: t, dir: t.TempDir()}
	m.update(files)
	return m
}

// update swaps in a new version of the files the way the kubelet does:
// a new timestamped folder, a ..data_tmp link to it renamed over ..data,
// links for new keys, then the old folder removed.
func (m *configMap) update(files map[string]string) {
	t := m.t
	m.version++
	old := ""
	if target, err := os.Readlink(filepath.Join(m.dir, "..data")); err == nil {
		old = target
	}
	version := fmt.Sprintf("..2026_11_30_10_00_%02d.%d", m.version, 1000+m.version)
	if err := os.Mkdir(filepath.Join(m.dir, version), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(m.dir, version, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(version, filepath.Join(m.dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(m.dir, "..data_tmp"), filepath.Join(m.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(m.dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			t.Fatal(err)
		}
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(m.dir, old)); err != nil {
			t.Fatal(err)
		}
	}
}

const configMapRules = "version: 1\nlists:\n  w: {file: words.txt}\nrules:\n  - id: a\n    when: {text: {contains: [list.w]}}\n    action: mask\n"

// TestWatchSeesConfigMapUpdates: rules.yaml and a list file mounted from
// a Kubernetes ConfigMap (links through ..data, swapped at once on an
// update) load, and an update is seen and reloaded: the links stay inside
// the rules folder, so the list file is read.
func TestWatchSeesConfigMapUpdates(t *testing.T) {
	m := newConfigMap(t, map[string]string{"rules.yaml": configMapRules, "words.txt": "alpha\n"})
	path := filepath.Join(m.dir, "rules.yaml")
	set, err := rules.Load(path)
	if err != nil {
		t.Fatalf("the ConfigMap's rules: %v", err)
	}
	engine := moderation.NewEngine(set, moderation.EngineOptions{})
	rf := moderation.NewRulesFile(path, engine, nil)
	if masked(engine, "alpha beta") != "***** beta" {
		t.Fatalf("first version: %q", masked(engine, "alpha beta"))
	}
	if rf.Changed() {
		t.Fatal("changed before any update")
	}

	m.update(map[string]string{"rules.yaml": configMapRules, "words.txt": "alpha\nbeta\n"})
	if !rf.Changed() {
		t.Fatal("the watcher did not see the ConfigMap's update")
	}
	if err := rf.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := masked(engine, "alpha beta"); got != "***** ****" {
		t.Fatalf("after the update: %q", got)
	}
	if rf.Changed() {
		t.Fatal("still changed after the reload")
	}

	// An update that breaks the file is refused; the rules in force stay.
	m.update(map[string]string{"rules.yaml": "version: 1\nrules: [{id: x, action: frob}]\n", "words.txt": "alpha\n"})
	if !rf.Changed() {
		t.Fatal("the broken update was not seen")
	}
	if err := rf.Reload(); err == nil || errors.Is(err, moderation.ErrUnchanged) {
		t.Fatalf("broken update: %v", err)
	}
	if got := masked(engine, "alpha beta"); got != "***** ****" {
		t.Fatalf("after a refused update: %q", got)
	}
}

// TestReloadSeesAnUpdateDuringTheLoad: a ConfigMap swapped while the rules
// are being read may leave a set made of both versions; the watcher then
// still sees a change, and the next reload reads the new version whole.
func TestReloadSeesAnUpdateDuringTheLoad(t *testing.T) {
	m := newConfigMap(t, map[string]string{"rules.yaml": configMapRules, "words.txt": "alpha\n"})
	path := filepath.Join(m.dir, "rules.yaml")
	set, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	engine := moderation.NewEngine(set, moderation.EngineOptions{})
	rf := moderation.NewRulesFile(path, engine, nil)
	m.update(map[string]string{"rules.yaml": configMapRules, "words.txt": "alpha\ngamma\n"})
	swapped := false
	rf.SetLoad(func(p string) (*rules.Set, error) {
		set, err := rules.Load(p)
		if !swapped { // the kubelet swaps while the first reload reads
			swapped = true
			m.update(map[string]string{"rules.yaml": configMapRules, "words.txt": "alpha\ngamma\ndelta\n"})
		}
		return set, err
	})
	if err := rf.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := masked(engine, "gamma delta"); got != "***** delta" {
		t.Fatalf("the first reload read %q", got)
	}
	if !rf.Changed() {
		t.Fatal("an update made during the load is not seen: the set would keep the version read half-way")
	}
	if err := rf.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := masked(engine, "gamma delta"); got != "***** *****" {
		t.Fatalf("the second reload read %q", got)
	}
}
