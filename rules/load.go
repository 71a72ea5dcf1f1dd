package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// File limits. A rules file or list past them is refused with a clear error.
const (
	MaxFileSize  = 4 << 20 // bytes of rules.yaml and of each list file
	MaxListTerms = 100_000 // terms in one list
	MaxRules     = 1_000
)

// Problem is one error found in a rules file, with its position.
type Problem struct {
	File   string
	Line   int
	Column int
	Rule   string // the rule id, when the problem is inside a rule
	Msg    string
}

func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Column)
	}
	b.WriteString(": ")
	if p.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", p.Rule)
	}
	b.WriteString(p.Msg)
	return b.String()
}

// FileError lists every problem found in a rules file. A file with any
// problem is refused whole.
type FileError struct {
	Problems []Problem
}

func (e *FileError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// ReadFile reads a file for the loader; tests and embedders replace it.
type ReadFile func(path string) ([]byte, error)

// Load reads, checks and compiles the rules file at path. List files are
// read relative to the directory of path.
func Load(path string) (*Set, error) {
	data, err := readCapped(path)
	if err != nil {
		return nil, fmt.Errorf("loading rules: %w", err)
	}
	return Parse(path, data, readCapped)
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxFileSize)
	}
	return data, nil
}

// Parse checks and compiles a rules file held in memory. name is used in
// error messages and to find list files; read reads them.
func Parse(name string, data []byte, read ReadFile) (*Set, error) {
	if len(data) > MaxFileSize {
		return nil, &FileError{Problems: []Problem{{File: name, Msg: fmt.Sprintf("larger than %d bytes", MaxFileSize)}}}
	}
	p := &parser{file: name, dir: filepath.Dir(name), read: read}
	hash := sha256.New()
	hash.Write(data)
	p.hash = hash
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.problems = append(p.problems, yamlProblem(name, err))
		return nil, &FileError{Problems: p.problems}
	}
	set := p.file1(&doc)
	if len(p.problems) > 0 {
		sort.SliceStable(p.problems, func(i, j int) bool {
			a, b := p.problems[i], p.problems[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Column < b.Column
		})
		return nil, &FileError{Problems: p.problems}
	}
	set.Version = hex.EncodeToString(hash.Sum(nil))[:12]
	set.Source = name
	return set, nil
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
	file     string
	dir      string
	read     ReadFile
	hash     interface{ Write([]byte) (int, error) }
	problems []Problem
	rule     string // id of the rule being read
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	pr := Problem{File: p.file, Rule: p.rule, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		pr.Line, pr.Column = n.Line, n.Column
	}
	p.problems = append(p.problems, pr)
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
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float" && n.Tag != "!!bool") {
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

func (p *parser) file1(doc *yaml.Node) *Set {
	set := &Set{Settings: defaultSettings(), lists: map[string]*List{}}
	if len(doc.Content) == 0 {
		p.errorf(nil, "the file is empty: it needs at least `version: 1` and `rules:`")
		return set
	}
	top := p.mapping(doc, "top level", "version", "settings", "lists", "rules")
	if top == nil {
		return set
	}
	if v, ok := top["version"]; !ok {
		p.errorf(resolve(doc), "version: missing; write `version: 1` at the top")
	} else if s, ok := p.str(v, "version"); ok && s != "1" {
		p.errorf(v, "version: %q is not supported (this modgate reads version 1)", s)
	}
	if n, ok := top["settings"]; ok {
		p.settings(n, &set.Settings)
	}
	if n, ok := top["lists"]; ok {
		p.lists(n, set)
	}
	n, ok := top["rules"]
	if !ok {
		p.errorf(resolve(doc), "rules: missing")
		return set
	}
	p.rules(n, set)
	return set
}

func (p *parser) settings(n *yaml.Node, s *Settings) {
	m := p.mapping(n, "settings", "reject_reply")
	if v, ok := m["reject_reply"]; ok {
		if r, ok := p.str(v, "settings.reject_reply"); ok {
			s.RejectReply = r
		}
	}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

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
		sources := 0
		if t, ok := fields["terms"]; ok {
			sources++
			list.Terms = p.strs(t, path+".terms")
		}
		if f, ok := fields["file"]; ok {
			sources++
			if file, ok := p.str(f, path+".file"); ok {
				list.Terms = append(list.Terms, p.listFile(f, path, file)...)
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
		p.checkTerms(v, path, list.Terms)
		if len(list.Terms) > MaxListTerms {
			p.errorf(v, "%s: %d terms is more than the %d a list may hold", path, len(list.Terms), MaxListTerms)
		}
		set.lists[name] = list
	}
}

// checkTerms reports the terms of a list that cannot be matched, at the list.
func (p *parser) checkTerms(n *yaml.Node, path string, terms []string) {
	reported := 0
	for i, term := range terms {
		if _, err := parseTerm(term); err != nil {
			if reported++; reported > 10 {
				p.errorf(n, "%s: more terms cannot be used; fix the above first", path)
				return
			}
			p.errorf(n, "%s: term %d %q: %v", path, i+1, term, err)
		}
	}
}

// listFile reads a list file: one term a line; blank lines and lines
// starting with # are ignored.
func (p *parser) listFile(n *yaml.Node, path, file string) []string {
	full := file
	if !filepath.IsAbs(full) {
		full = filepath.Join(p.dir, file)
	}
	data, err := p.read(full)
	if err != nil {
		p.errorf(n, "%s.file: %v", path, err)
		return nil
	}
	p.hash.Write([]byte(full))
	p.hash.Write(data)
	return splitList(string(data))
}

func splitList(data string) []string {
	var terms []string
	for _, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		terms = append(terms, line)
	}
	return terms
}

func (p *parser) rules(n *yaml.Node, set *Set) {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "rules: must be a list of rules")
		return
	}
	if len(n.Content) > MaxRules {
		p.errorf(n, "rules: %d rules is more than the %d a file may hold", len(n.Content), MaxRules)
		return
	}
	seen := map[string]int{}
	c := &compiler{set: set, matchers: map[string]*Matcher{}}
	for i, rn := range n.Content {
		// Name the rule in every message about it, even those found before
		// its id is read; only a rule without an id is named by position.
		p.rule = peekID(rn)
		where := fmt.Sprintf("rules[%d]", i)
		if p.rule != "" {
			where = "rule"
		}
		m := p.mapping(rn, where, "id", "description", "when", "action", "reply")
		if m == nil {
			continue
		}
		r := &Rule{Line: rn.Line}
		if v, ok := m["id"]; !ok {
			p.errorf(rn, "%s: id: missing", where)
		} else if id, ok := p.str(v, strings.TrimPrefix(where+".id", "rule.")); ok {
			r.ID = id
			if !idPattern.MatchString(id) {
				p.errorf(v, "id: %q must be letters, digits, '-', '_' or '.', at most 64", id)
			} else if line, dup := seen[id]; dup {
				p.errorf(v, "id: %q is already used by the rule on line %d", id, line)
			}
			seen[id] = rn.Line
		}
		if v, ok := m["description"]; ok {
			r.Description, _ = p.str(v, "description")
		}
		if v, ok := m["action"]; !ok {
			p.errorf(rn, "action: missing (one of: %s)", strings.Join(actionNames(), ", "))
		} else if s, ok := p.str(v, "action"); ok {
			a, ok := ParseAction(s)
			if !ok {
				p.errorf(v, "action: %q is not an action (one of: %s)", s, strings.Join(actionNames(), ", "))
			}
			r.Action = a
		}
		if v, ok := m["reply"]; ok {
			if s, ok := p.str(v, "reply"); ok {
				r.Reply = s
				if r.Action != ActionReject {
					p.errorf(v, "reply: only a rule whose action is reject sends a reply")
				}
			}
		}
		if v, ok := m["when"]; ok {
			r.When = p.condition(v, "when", c)
		}
		set.Rules = append(set.Rules, r)
	}
	p.rule = ""
}

// condition reads a `when` mapping. Several keys in one mapping must all hold.
func (p *parser) condition(n *yaml.Node, path string, c *compiler) Condition {
	m := p.mapping(n, path, "text")
	if m == nil {
		return nil
	}
	if len(m) == 0 {
		p.errorf(n, "%s: is empty; leave `when` out to match every message", path)
		return nil
	}
	var conds []Condition
	if v, ok := m["text"]; ok {
		if cond := p.textCondition(v, path+".text", c); cond != nil {
			conds = append(conds, cond)
		}
	}
	if len(conds) == 1 {
		return conds[0]
	}
	return nil
}

func (p *parser) textCondition(n *yaml.Node, path string, c *compiler) Condition {
	m := p.mapping(n, path, "contains", "except")
	if m == nil {
		return nil
	}
	v, ok := m["contains"]
	if !ok {
		p.errorf(n, "%s: needs `contains`", path)
		return nil
	}
	cond := &TextContains{}
	cond.Terms = p.matcher(v, path+".contains", c)
	if e, ok := m["except"]; ok {
		cond.Except = p.matcher(e, path+".except", c)
	}
	if cond.Terms == nil {
		return nil
	}
	return cond
}

// matcher compiles the terms and lists a contains or except names; lists
// are written `list.NAME`. Rules naming the same lists share one matcher.
func (p *parser) matcher(n *yaml.Node, path string, c *compiler) *Matcher {
	before := len(p.problems)
	items := p.strs(n, path)
	if len(items) == 0 {
		if len(p.problems) == before {
			p.errorf(n, "%s: names no terms or lists", path)
		}
		return nil
	}
	key := strings.Join(items, "\x00")
	if m, ok := c.matchers[key]; ok {
		return m
	}
	var terms []Term
	ok := true
	for _, item := range items {
		if name, isList := strings.CutPrefix(item, "list."); isList {
			list, found := c.set.lists[name]
			if !found {
				p.errorf(n, "%s: unknown list %q (lists: %s)", path, name, strings.Join(c.set.listNames(), ", "))
				ok = false
				continue
			}
			for _, t := range list.Terms {
				terms = append(terms, Term{Text: t, List: name})
			}
			continue
		}
		terms = append(terms, Term{Text: item})
	}
	if !ok {
		return nil
	}
	if len(p.problems) > 0 {
		return nil // a list it names may be broken, and was reported there
	}
	m, err := NewMatcher(terms)
	if err != nil {
		for _, e := range unwrapAll(err) {
			p.errorf(n, "%s: %v", path, e)
		}
		return nil
	}
	c.matchers[key] = m
	return m
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// peekID returns a rule's id before the rule is read, or "".
func peekID(n *yaml.Node) string {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if v := resolve(n.Content[i+1]); n.Content[i].Value == "id" && v.Kind == yaml.ScalarNode {
			return v.Value
		}
	}
	return ""
}

type compiler struct {
	set      *Set
	matchers map[string]*Matcher
}
