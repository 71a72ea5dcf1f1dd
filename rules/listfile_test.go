package rules

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles writes files (name → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const listRules = "version: 1\nlists:\n  l: {file: %s}\nrules:\n  - id: r\n    when: {text: {contains: [list.l]}}\n    action: mask\n"

// TestListFilesStayInTheRulesFolder: a list file outside the rules file's
// folder is refused, by name or through a symbolic link, and the error never
// shows what the file holds.
func TestListFilesStayInTheRulesFolder(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	secret := "root:$6$hashedpassword:19000:0:99999:7:::"
	writeFiles(t, root, map[string]string{
		"outside/shadow":            secret + "\n",
		"rules/lists/words.txt":     "darn\n",
		"rules/lists/deep/more.txt": "heck\n",
	})
	dir := filepath.Join(root, "rules")
	symlinks := map[string]string{
		"rules/out.txt":          filepath.Join(root, "outside", "shadow"),
		"rules/rel-out.txt":      filepath.Join("..", "outside", "shadow"),
		"rules/lists/inside.txt": "words.txt",
		"rules/outdir":           filepath.Join(root, "outside"),
	}
	for link, target := range symlinks {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Skipf("symbolic links: %v", err)
		}
	}
	cases := []struct {
		name, file string
		ok         bool
	}{
		{"inside", "lists/words.txt", true},
		{"deeper inside", "lists/deep/more.txt", true},
		{"a link that stays inside", "lists/inside.txt", true},
		{"dot dot", "../outside/shadow", false},
		{"dot dot inside the path", "lists/../../outside/shadow", false},
		{"absolute", filepath.Join(root, "outside", "shadow"), false},
		{"a link to an absolute path outside", "out.txt", false},
		{"a link to a relative path outside", "rel-out.txt", false},
		{"a link to a folder outside", "outdir/shadow", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, "rules.yaml")
			src := strings.Replace(listRules, "%s", tc.file, 1)
			set, err := Parse(path, []byte(src), nil)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if l, _ := set.List("l"); len(l.Terms) != 1 {
					t.Fatalf("terms %v", l.Terms)
				}
				return
			}
			if err == nil {
				t.Fatal("a list file outside the rules folder was read")
			}
			if strings.Contains(err.Error(), "hashedpassword") || strings.Contains(err.Error(), "root:") {
				t.Fatalf("the error shows the file: %v", err)
			}
		})
	}
}

// TestListFileErrorsPointAtTheListFile: a bad term in a list file is
// reported at its own line and column, without its text.
func TestListFileErrorsPointAtTheListFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"lists/w.txt": "# comment\nfine\n\n   pass*word123*x  \n"})
	_, err := Parse(filepath.Join(dir, "rules.yaml"), []byte(strings.Replace(listRules, "%s", "lists/w.txt", 1)), nil)
	var fe *FileError
	if !errors.As(err, &fe) || len(fe.Problems) != 1 {
		t.Fatalf("err %v", err)
	}
	p := fe.Problems[0]
	if p.File != filepath.Join(dir, "lists", "w.txt") || p.Line != 4 || p.Column != 4 {
		t.Fatalf("problem at %s:%d:%d, want the list file's line 4, column 4", p.File, p.Line, p.Column)
	}
	if strings.Contains(p.Error(), "pass") {
		t.Fatalf("the error shows the term: %v", p)
	}
}

// TestListFilesMustBeRegular: a folder, a device, or anything but a
// regular file is refused without being read.
func TestListFilesMustBeRegular(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "folder"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Parse(filepath.Join(dir, "rules.yaml"), []byte(strings.Replace(listRules, "%s", "folder", 1)), nil)
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("err %v", err)
	}
}
