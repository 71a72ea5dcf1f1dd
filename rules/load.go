package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
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

type parser struct {
	file       string
	dir        string
	read       ReadFile
	hash       interface{ Write([]byte) (int, error) }
	problems   []Problem
	warnings   []Problem
	rule       string   // id of the rule being read
	incomplete bool     // the rule being read names a broken list
	files      []string // list files read
	reported   map[listTerm]bool
	now        func() time.Time
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	pr := Problem{File: p.file, Rule: p.rule, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		pr.Line, pr.Column = n.Line, n.Column
	}
	p.problems = append(p.problems, pr)
}

func (p *parser) warnf(n *yaml.Node, format string, args ...any) {
	pr := Problem{File: p.file, Rule: p.rule, Msg: fmt.Sprintf(format, args...), Warning: true}
	if n != nil {
		pr.Line, pr.Column = n.Line, n.Column
	}
	p.warnings = append(p.warnings, pr)
}

// mapping checks that n is a mapping with only the allowed keys, reports
// unknown and repeated keys, and returns the values by key.
func (p *parser) mapping(n *yaml.Node, path string, allowed ...string) map[string]*yaml.Node {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: must be a mapping of keys to values", path)
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if _, dup := out[key]; dup {
			p.errorf(k, "%s: key %q is repeated", path, key)
			continue
		}
		if allowed != nil && !contains(allowed, key) {
			p.errorf(k, "%s: unknown key %q (expected one of: %s)", path, key, strings.Join(allowed, ", "))
			continue
		}
		out[key] = v
	}
	return out
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return resolve(n.Content[0])
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// str reads a scalar string.
func (p *parser) str(n *yaml.Node, path string) (string, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float" && n.Tag != "!!bool" && n.Tag != "!!timestamp") {
		p.errorf(n, "%s: must be a text value", path)
		return "", false
	}
	return n.Value, true
}

// strs reads a list of strings; a single string counts as a list of one.
func (p *parser) strs(n *yaml.Node, path string) []string {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		if s, ok := p.str(n, path); ok {
			return []string{s}
		}
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s: must be a list", path)
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		if s, ok := p.str(c, fmt.Sprintf("%s[%d]", path, i)); ok {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) lists(n *yaml.Node, set *Set) {
	m := p.mapping(n, "lists")
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := m[name]
		path := "lists." + name
		if !idPattern.MatchString(name) {
			p.errorf(v, "%s: a list name uses letters, digits, '-', '_' and '.'", path)
			continue
		}
		fields := p.mapping(v, path, "terms", "file", "builtin", "description")
		if fields == nil {
			continue
		}
		list := &List{Name: name}
		problemsBefore := len(p.problems)
		sources := 0
		if t, ok := fields["terms"]; ok {
			sources++
			list.Terms = p.strs(t, path+".terms")
		}
		if f, ok := fields["file"]; ok {
			sources++
			if file, ok := p.str(f, path+".file"); ok {
				p.listFile(f, path, file, list)
			}
		}
		if b, ok := fields["builtin"]; ok {
			sources++
			if name, ok := p.str(b, path+".builtin"); ok {
				terms, err := Builtin(name)
				if err != nil {
					p.errorf(b, "%s.builtin: %v", path, err)
				}
				list.Terms = append(list.Terms, terms...)
			}
		}
		if sources == 0 {
			p.errorf(v, "%s: give `terms`, `file` or `builtin`", path)
		}
		p.checkTerms(v, path, list)
		if len(list.Terms) > MaxListTerms {
			p.errorf(v, "%s: %d terms is more than the %d a list may hold", path, len(list.Terms), MaxListTerms)
		}
		list.broken = len(p.problems) > problemsBefore
		set.lists[name] = list
	}
}

// checkTerms reports the terms of a list that cannot be matched: at the
// list, or at their line of the list file.
func (p *parser) checkTerms(n *yaml.Node, path string, list *List) {
	reported := 0
	for i, term := range list.Terms {
		if _, err := parseTerm(term); err != nil {
			if reported++; reported > 10 {
				p.errorf(n, "%s: more terms cannot be used; fix the above first", path)
				return
			}
			if !p.fileTermError(list, i, err.Error()) {
				p.errorf(n, "%s: term %d %q: %v", path, i+1, term, err)
			}
		}
	}
}
