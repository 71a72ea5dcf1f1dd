package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// File limits. A rules file or list past them is refused with a clear error.
const (
	MaxFileSize  = 4 << 20 // bytes of rules.yaml and of each list file
	MaxListTerms = 100_000 // terms in one list
	MaxRules     = 1_000
)

// Problem is one error found in a rules file, or one warning, with its
// position.
type Problem struct {
	File    string
	Line    int
	Column  int
	Rule    string // the rule id, when the problem is inside a rule
	Msg     string
	Warning bool // the file is accepted, but should be changed
}

func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Column)
	}
	b.WriteString(": ")
	if p.Warning {
		b.WriteString("warning: ")
	}
	if p.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", p.Rule)
	}
	b.WriteString(p.Msg)
	return b.String()
}

// FileError lists every problem found in a rules file. A file with any
// problem is refused whole. Warnings are what a file that was accepted
// would have carried (Set.Warnings); Error does not list them.
type FileError struct {
	Problems []Problem
	Warnings []Problem
}

func (e *FileError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// ReadFile reads a list file for the loader; tests and embedders replace
// it. name is relative to the rules file's folder and local to it (no
// `..`, not absolute: see filepath.IsLocal), checked before ReadFile is
// called.
type ReadFile func(name string) ([]byte, error)

// Load reads, checks and compiles the rules file at path. List files are
// read from the folder of path, and only from inside it.
func Load(path string) (*Set, error) {
	data, err := readRegular(path)
	if err != nil {
		return nil, fmt.Errorf("loading rules: %w", err)
	}
	return Parse(path, data, ListFolder(filepath.Dir(path)))
}

// Parse checks and compiles a rules file held in memory. name is used in
// error messages and names the folder list files are read from; read reads
// them (nil: ListFolder of that folder).
func Parse(name string, data []byte, read ReadFile) (*Set, error) {
	if len(data) > MaxFileSize {
		return nil, &FileError{Problems: []Problem{{File: name, Msg: fmt.Sprintf("larger than %d bytes", MaxFileSize)}}}
	}
	dir := filepath.Dir(name)
	if read == nil {
		read = ListFolder(dir)
	}
	p := &parser{file: name, dir: dir, read: read, now: time.Now}
	hash := sha256.New()
	hash.Write(data)
	p.hash = hash
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.problems = append(p.problems, yamlProblem(name, err))
		return nil, &FileError{Problems: p.problems}
	}
	if at, ok := checkAliases(&doc); !ok {
		p.errorf(at, "YAML: aliases repeat more than %d KiB of the file once expanded (here, at *%s): "+
			"write the repeated parts out, or use lists", MaxAliasExpansion>>10, at.Value)
		return nil, &FileError{Problems: p.problems}
	}
	set := p.document(&doc)
	p.sort(p.warnings)
	if len(p.problems) > 0 {
		p.sort(p.problems)
		return nil, &FileError{Problems: p.problems, Warnings: p.warnings}
	}
	set.Version = hex.EncodeToString(hash.Sum(nil))[:12]
	set.Source = name
	set.Files = append([]string{name}, p.files...)
	set.Warnings = p.warnings
	return set, nil
}

// document reads the whole file: its version, lists, settings and rules,
// in the order they depend on each other.
func (p *parser) document(doc *yaml.Node) *Set {
	p.set = &Set{Settings: defaultSettings(), lists: map[string]*List{}}
	p.matchers, p.sets, p.networks = map[string]*Matcher{}, map[string]map[string]struct{}{}, map[string][]netip.Prefix{}
	if len(doc.Content) == 0 {
		p.errorf(nil, "the file is empty: it needs at least `version: 1` and `rules:`")
		return p.set
	}
	top := p.mapping(doc, "top level", "version", "settings", "lists", "rules")
	if top == nil {
		return p.set
	}
	if v, ok := top["version"]; !ok {
		p.errorf(resolve(doc), "version: missing; write `version: 1` at the top")
	} else if s, ok := p.str(v, "version"); ok && s != "1" {
		p.errorf(v, "version: %q is not supported (this modgate reads version 1)", s)
	}
	if n, ok := top["lists"]; ok {
		p.lists(n)
	}
	deviceKey := defaultDeviceKey
	if n, ok := top["settings"]; ok {
		deviceKey = p.settings(n, &p.set.Settings)
	}
	n, ok := top["rules"]
	if !ok {
		p.errorf(resolve(doc), "rules: missing")
		return p.set
	}
	p.rules(n, deviceKey)
	return p.set
}

// sort orders problems by position: the rules file's first, then those of
// each list file.
func (p *parser) sort(list []Problem) {
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.File != b.File {
			if a.File == p.file || b.File == p.file {
				return a.File == p.file
			}
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlProblem(file string, err error) Problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscanf(m[1], "%d", &line)
		return Problem{File: file, Line: line, Column: 1, Msg: "YAML: " + m[2]}
	}
	return Problem{File: file, Msg: "YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}
