package rules

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// containsCond is `contains` (with `except`): a word-list match on the
// folded words of a text field.
type containsCond struct {
	f      field
	terms  *Matcher
	except *Matcher
}

func (c *containsCond) Match(in *Input, found []Match) ([]Match, Truth) {
	if c.f.text {
		found, ok := matchText(in.Text, c.terms, c.except, found)
		return found, truth(ok)
	}
	v := c.f.get(in)
	matched := false
	v.each(func(s string) bool {
		// A field is analysed for each rule that reads it: the work counts,
		// so that a huge field cannot take the engine past its deadline.
		in.Budget.Spend(len(s) * fieldStepsPerByte)
		t := Analyze(s)
		// Spans of other fields do not point into the message text: they
		// explain and fill {{match}}, and masking ignores them.
		var local [4]Match
		got, ok := matchText(t, c.terms, c.except, local[:0])
		for _, m := range got {
			m.Value = s[m.Start:m.End]
			m.Start, m.End = -1, -1
			found = append(found, m)
		}
		t.Release()
		matched = ok
		return ok
	})
	return found, truth(matched)
}

func matchText(t *Text, terms, except *Matcher, found []Match) ([]Match, bool) {
	start := len(found)
	found = terms.Match(t, found)
	if len(found) == start {
		return found, false
	}
	if except != nil {
		var buf [8]Match
		allowed := except.Match(t, buf[:0])
		kept := found[:start]
		for _, m := range found[start:] {
			if !covered(m, allowed) {
				kept = append(kept, m)
			}
		}
		found = kept
	}
	return found, len(found) > start
}

func covered(m Match, by []Match) bool {
	for _, a := range by {
		if a.Start <= m.Start && m.End <= a.End {
			return true
		}
	}
	return false
}

// containsOp compiles contains and the except beside it.
func (p *parser) containsOp(f field, terms, except *yaml.Node, path, exceptPath string) Condition {
	c := &containsCond{f: f, terms: p.matcher(terms, path)}
	if except != nil {
		c.except = p.matcher(except, exceptPath)
	}
	if c.terms == nil {
		return nil
	}
	return c
}

// matcher compiles the terms and lists a contains or except names; lists
// are written `list.NAME`. Conditions naming the same terms share one matcher.
func (p *parser) matcher(n *yaml.Node, path string) *Matcher {
	before := len(p.problems)
	items := p.strs(n, path)
	if len(items) == 0 {
		if len(p.problems) == before {
			p.errorf(n, "%s: names no terms or lists", path)
		}
		return nil
	}
	key := strings.Join(items, "\x00")
	if m, ok := p.matchers[key]; ok {
		return m
	}
	var terms []Term
	bad := false
	listsOK := p.eachValue(n, path, items, func(s string, list *List, _ int) {
		if list != nil {
			terms = append(terms, Term{Text: s, List: list.Name}) // checked with the list
			return
		}
		if _, err := parseTerm(s); err != nil {
			p.errorf(n, "%s: term %q: %v", path, s, err)
			bad = true
			return
		}
		terms = append(terms, Term{Text: s})
	})
	if !listsOK || bad {
		return nil // reported, here or at the list
	}
	m, err := NewMatcherWith(terms, MatcherOptions{AllowCensored: p.set.Settings.AllowCensored})
	if err != nil {
		p.errorf(n, "%s: %v", path, err)
		return nil
	}
	p.matchers[key] = m
	return m
}
