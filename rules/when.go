package rules

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxCondDepth bounds the nesting of all, any and not.
const MaxCondDepth = 20

// cond reads a condition (a `when`, an `exempt`): a mapping of fields to
// tests, and the combinators all, any and not. Several keys in one mapping
// must all hold.
func (p *parser) cond(n *yaml.Node, path string, depth int) Condition {
	n = resolve(n)
	switch {
	case depth > MaxCondDepth:
		p.errorf(n, "%s: nested deeper than %d", path, MaxCondDepth)
		return nil
	case n.Kind != yaml.MappingNode:
		p.errorf(n, "%s: must be a mapping of fields to tests (or all, any, not)", path)
		return nil
	case len(n.Content) == 0:
		p.errorf(n, "%s: is empty; leave it out to match every message", path)
		return nil
	}
	var conds []Condition
	seen := map[string]bool{}
	for _, kv := range orderedPairs(n) {
		key := kv[0].Value
		if seen[key] {
			p.errorf(kv[0], "%s: key %q is repeated", path, key)
			continue
		}
		seen[key] = true
		if c := p.condKey(kv[0], kv[1], path, depth); c != nil {
			conds = append(conds, c)
		}
	}
	return allOfThese(conds)
}

// condKey reads one key of a condition: a combinator, or a field and its
// tests.
func (p *parser) condKey(k, v *yaml.Node, path string, depth int) Condition {
	switch key := k.Value; key {
	case "all", "any":
		subs := p.condList(v, path+"."+key, depth)
		if subs == nil {
			return nil
		}
		if key == "all" {
			return cheapestFirst(subs)
		}
		return anyOf(cheapestFirst(subs))
	case "not":
		if c := p.cond(v, path+".not", depth+1); c != nil {
			return notCond{c}
		}
		return nil
	case strikesField:
		return p.strikesCond(k, v, path)
	default:
		f, ok := resolveField(key)
		if !ok {
			p.errorf(k, "%s: unknown field %q (fields start with %s, or are one of %s; or use all, any, not)",
				path, key, strings.Join(fieldRoots, ", "), strings.Join(derivedFieldNames(), ", "))
			return nil
		}
		return p.fieldCond(f, v, path+"."+key)
	}
}

// condList reads the conditions of an all or any; nil unless every one of
// them compiled.
func (p *parser) condList(n *yaml.Node, path string, depth int) []Condition {
	list := resolve(n)
	if list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
		p.errorf(n, "%s: must be a list of conditions", path)
		return nil
	}
	var subs []Condition
	for i, item := range list.Content {
		if c := p.cond(item, fmt.Sprintf("%s[%d]", path, i), depth+1); c != nil {
			subs = append(subs, c)
		}
	}
	if len(subs) != len(list.Content) {
		return nil
	}
	return subs
}

// allOfThese is what several conditions that must all hold make: nothing,
// the one, or an `all` of them.
func allOfThese(conds []Condition) Condition {
	switch len(conds) {
	case 0:
		return nil
	case 1:
		return conds[0]
	}
	return cheapestFirst(conds)
}

var operators = []string{"contains", "except", "matches", "equals", "in", "not_in", "over", "under",
	"count_over", "count_under", "in_cidr", "exists", "or_empty"}

// fieldCond reads the tests on one field. A bare value means `equals`, a
// bare list `in`.
func (p *parser) fieldCond(f field, n *yaml.Node, path string) Condition {
	n = resolve(n)
	switch n.Kind {
	case yaml.ScalarNode, yaml.SequenceNode:
		return p.setOp(f, n, path, false, false)
	case yaml.MappingNode:
	default:
		p.errorf(n, "%s: must be a value, a list, or a mapping of tests", path)
		return nil
	}
	tests := p.mapping(n, path, operators...)
	if tests == nil {
		return nil
	}
	if len(tests) == 0 {
		p.errorf(n, "%s: names no test (one of: %s)", path, strings.Join(operators, ", "))
		return nil
	}
	orEmpty := p.orEmpty(tests, path)
	var conds []Condition
	for _, kv := range orderedPairs(n) {
		if _, ok := tests[kv[0].Value]; !ok {
			continue // unknown: reported by mapping
		}
		if c := p.operator(f, kv[0], kv[1], tests, path, orEmpty); c != nil {
			conds = append(conds, c)
		}
	}
	return allOfThese(conds)
}

// operator compiles one test on a field; tests are all the field's tests,
// for those that go together.
func (p *parser) operator(f field, k, v *yaml.Node, tests map[string]*yaml.Node, path string, orEmpty bool) Condition {
	op := k.Value
	at := path + "." + op
	switch op {
	case "contains":
		return p.containsOp(f, v, tests["except"], at, path+".except")
	case "except":
		if tests["contains"] == nil {
			p.errorf(k, "%s: `except` goes with `contains`", path)
		}
	case "matches":
		return p.matchesOp(f, v, at)
	case "equals", "in":
		return p.setOp(f, v, at, false, orEmpty)
	case "not_in":
		return p.setOp(f, v, at, true, orEmpty)
	case "over", "under", "count_over", "count_under":
		return p.compareOp(f, v, at, op == "over" || op == "count_over")
	case "in_cidr":
		return p.cidrOp(f, v, at)
	case "exists":
		return p.existsOp(f, v, at)
	}
	return nil // or_empty: read with the tests it goes with
}

// orEmpty reads `or_empty`, which goes with equals, in and not_in.
func (p *parser) orEmpty(tests map[string]*yaml.Node, path string) bool {
	v, ok := tests["or_empty"]
	if !ok {
		return false
	}
	orEmpty, _ := p.boolean(v, path+".or_empty")
	if tests["equals"] == nil && tests["in"] == nil && tests["not_in"] == nil {
		p.errorf(v, "%s.or_empty: goes with equals, in or not_in", path)
	}
	return orEmpty
}
