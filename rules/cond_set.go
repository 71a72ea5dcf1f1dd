package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// setCond is `equals`, `in` and `not_in`. Over a list (links, mentions, an
// array field) `in` holds when an element is one of the set and `not_in`
// when an element is none of them; an empty or missing list meets neither,
// unless orEmpty makes it meet both.
type setCond struct {
	f       field
	set     map[string]struct{}
	negate  bool
	domains bool // links: a domain matches its parent domains too
	orEmpty bool // `or_empty: true`: a missing value or empty list holds
}

func (c *setCond) Match(in *Input, found []Match) ([]Match, Truth) {
	v := c.f.get(in)
	seen, hit := false, false
	var value, term string
	v.each(func(s string) bool {
		seen = true
		t, listed := c.lookup(s)
		if listed != c.negate {
			hit, value, term = true, s, t
			if c.negate {
				term = s // outside the set: no entry of it met the test, the value did
			}
		}
		return hit
	})
	switch {
	case !seen:
		return found, truth(c.orEmpty)
	case !hit:
		return found, False
	}
	return append(found, Match{Start: -1, End: -1, Term: term, Value: value}), True
}

// lookup finds s in the set, or for links one of its parent domains; it
// returns the entry found.
func (c *setCond) lookup(s string) (string, bool) {
	if _, ok := c.set[s]; ok {
		return s, true
	}
	if c.domains {
		for d := s; ; {
			i := strings.IndexByte(d, '.')
			if i < 0 {
				return "", false
			}
			d = d[i+1:]
			if _, ok := c.set[d]; ok {
				return d, true
			}
		}
	}
	return "", false
}

// setOp reads equals, in and not_in: a value or list of values, where
// `list.NAME` stands for a list's terms. Conditions naming the same values
// share one set, however many rules name a long list.
func (p *parser) setOp(f field, v *yaml.Node, path string, negate, orEmpty bool) Condition {
	items := p.setItems(f, v, path)
	if len(items) == 0 {
		return nil
	}
	domains := f.path == "links"
	key := strings.Join(items, "\x00")
	if domains {
		key = "links\x00" + key
	}
	set, shared := p.sets[key]
	if shared {
		p.eachValue(v, path, items, nil)
	} else {
		set = map[string]struct{}{}
		p.eachValue(v, path, items, func(s string, _ *List, _ int) { set[normaliseSetItem(f, s)] = struct{}{} })
		p.sets[key] = set
	}
	return &setCond{f: f, set: set, negate: negate, domains: domains, orEmpty: orEmpty}
}

// setItems reads the values of an equals, in or not_in: one, or a list.
func (p *parser) setItems(f field, v *yaml.Node, path string) []string {
	v = resolve(v)
	var nodes []*yaml.Node
	switch v.Kind {
	case yaml.ScalarNode:
		nodes = []*yaml.Node{v}
	case yaml.SequenceNode:
		nodes = v.Content
	default:
		p.errorf(v, "%s: must be a list", path)
		return nil
	}
	out := make([]string, 0, len(nodes))
	for i, n := range nodes {
		at := path
		if v.Kind == yaml.SequenceNode {
			at = fmt.Sprintf("%s[%d]", path, i)
		}
		if s, ok := p.setItem(f, n, at); ok {
			out = append(out, s)
		}
	}
	return out
}

// normaliseSetItem writes a value as the payload's values are compared
// with it.
func normaliseSetItem(f field, s string) string {
	if f.path == "links" {
		return domainOf(s)
	}
	// A number written in the file compares with numbers in the payload.
	if n, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(n, 0) && !math.IsNaN(n) {
		return strconv.FormatFloat(n, 'f', -1, 64)
	}
	return s
}
