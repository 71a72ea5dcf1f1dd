package rules

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// parser reads a rules file into a Set: it compiles as it reads, and
// collects every problem with its position rather than stopping at the
// first. Conditions that name the same terms, values or networks share what
// was compiled for them, however many rules name a long list.
type parser struct {
	file     string
	dir      string
	read     ReadFile
	hash     interface{ Write([]byte) (int, error) }
	now      func() time.Time
	problems []Problem
	warnings []Problem
	files    []string // list files read
	reported map[listTerm]bool

	set      *Set
	matchers map[string]*Matcher            // the matchers of contains and except, by what they name
	sets     map[string]map[string]struct{} // the sets of equals, in and not_in, likewise
	networks map[string][]netip.Prefix      // the networks of in_cidr, likewise

	ruleID      string       // the id of the rule being read
	incomplete  bool         // the rule being read names a broken list
	strikeScope *strikeScope // while a consequence's `when` is read: where user.strikes may be
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	pr := Problem{File: p.file, Rule: p.ruleID, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		pr.Line, pr.Column = n.Line, n.Column
	}
	p.problems = append(p.problems, pr)
}

func (p *parser) warnf(n *yaml.Node, format string, args ...any) {
	pr := Problem{File: p.file, Rule: p.ruleID, Msg: fmt.Sprintf(format, args...), Warning: true}
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
		if allowed != nil && !slices.Contains(allowed, key) {
			p.errorf(k, "%s: unknown key %q (expected one of: %s)", path, key, strings.Join(allowed, ", "))
			continue
		}
		out[key] = v
	}
	return out
}

// resolve follows aliases and unwraps a document to the node it holds.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return resolve(n.Content[0])
	}
	return n
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

// orderedPairs returns the keys and values of a mapping in the order written.
func orderedPairs(n *yaml.Node) [][2]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([][2]*yaml.Node, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
	}
	return out
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

// jsonable turns YAML-decoded maps (map[string]any is what yaml.v3 gives
// for string keys) into values encoding/json accepts.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = jsonable(x)
		}
		return v
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[fmt.Sprint(k)] = jsonable(x)
		}
		return out
	case []any:
		for i, x := range v {
			v[i] = jsonable(x)
		}
	}
	return v
}

// idPattern is what rule ids, list names and the fields modgate sets look
// like.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
