package rules

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestErrorMessagesGolden loads every broken file under testdata/errors and
// compares the whole error text, positions included, with its .golden file.
func TestErrorMessagesGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "errors", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, err := Load(file)
			if err == nil {
				t.Fatal("broken file accepted")
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error is %T, not *FileError: %v", err, err)
			}
			got := filepath.ToSlash(err.Error()) + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./rules -run Golden -update)", err)
			}
			if got != string(want) {
				t.Errorf("error text changed:\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}

func TestLoadShippedRules(t *testing.T) {
	t.Parallel()
	set, err := Load(filepath.Join("..", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Rules) == 0 || set.Version == "" {
		t.Fatalf("set %+v", set)
	}
}

func TestVersionFollowsListFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "rules.yaml")
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("rules.yaml", "version: 1\nlists:\n  l: {file: words.txt}\nrules:\n  - id: r\n    when: {text: {contains: [list.l]}}\n    action: mask\n")
	write("words.txt", "# comment\nfoo\n\nbar baz\n")
	a, err := Load(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := a.List("l"); len(l.Terms) != 2 {
		t.Fatalf("list terms %v", l.Terms)
	}
	write("words.txt", "foo\n")
	b, err := Load(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	if a.Version == b.Version {
		t.Fatal("changing a list file must change the version")
	}
}

func TestFileSizeLimit(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	big := "version: 1\nrules: []\n#" + strings.Repeat("x", MaxFileSize) + "\n"
	if err := os.WriteFile(path, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err %v", err)
	}
}

func TestBuiltinLists(t *testing.T) {
	t.Parallel()
	names := BuiltinNames()
	if strings.Join(names, ",") != "profanity-en,slurs-en" {
		t.Fatalf("built-in lists %v", names)
	}
	for _, name := range names {
		terms, err := Builtin(name)
		if err != nil || len(terms) < 30 {
			t.Fatalf("%s: %d terms, %v", name, len(terms), err)
		}
		if _, err := NewMatcher(toTerms(terms)); err != nil {
			t.Fatalf("%s does not compile: %v", name, err)
		}
	}
}

func toTerms(list []string) []Term {
	out := make([]Term, len(list))
	for i, s := range list {
		out[i] = Term{Text: s}
	}
	return out
}

// TestAllChecksCheapestFirst: an `all` reads payload fields before it scans
// the text for links, and scans before it matches word lists or patterns,
// whatever order the file gives.
func TestAllChecksCheapestFirst(t *testing.T) {
	t.Parallel()
	src := `version: 1
lists:
  bad: {terms: [darn]}
rules:
  - id: r
    when:
      all:
        - text: {matches: "x+y"}
        - text: {contains: [list.bad]}
        - links: {count_over: 0}
        - text.length: {over: 3}
        - user.role: {equals: user}
    action: reject
`
	set, err := Parse("rules.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	all, ok := set.Rules[0].When.(allOf)
	if !ok {
		t.Fatalf("when is %T", set.Rules[0].When)
	}
	want := []string{"user.role", "text.length", "links", "contains", "matches"}
	var got []string
	for _, c := range all {
		switch c := c.(type) {
		case *compareCond:
			got = append(got, c.f.path)
		case *setCond:
			got = append(got, c.f.path)
		case *containsCond:
			got = append(got, "contains")
		case *matchesCond:
			got = append(got, "matches")
		default:
			got = append(got, fmt.Sprintf("%T", c))
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("order %v, want %v", got, want)
	}
}
