package rules

import (
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// lists reads the named lists: terms written in the file, read from a list
// file, or built in. A list with a problem is kept, marked broken, so that
// the rules naming it are reported as incomplete rather than unknown.
func (p *parser) lists(n *yaml.Node) {
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
		p.set.lists[name] = list
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

// eachValue calls fn with each value that items, the values a condition
// names, stand for: an item written inline (list nil), or each term of a
// list the item names as `list.NAME` (i the term's place in it). A named
// list that is unknown is reported here; one that is broken was reported at
// the list and leaves the rule incomplete; either is skipped, and
// eachValue reports false. With fn nil it only checks the lists, for a
// condition that shares what an earlier one compiled.
func (p *parser) eachValue(n *yaml.Node, path string, items []string, fn func(s string, list *List, i int)) bool {
	ok := true
	for _, item := range items {
		name, isList := strings.CutPrefix(item, "list.")
		if !isList {
			if fn != nil {
				fn(item, nil, 0)
			}
			continue
		}
		list, found := p.set.lists[name]
		switch {
		case !found:
			p.errorf(n, "%s: unknown list %q (lists: %s)", path, name, strings.Join(p.set.listNames(), ", "))
			ok = false
		case list.broken:
			p.incomplete = true
			ok = false
		case fn != nil:
			for i, t := range list.Terms {
				fn(t, list, i)
			}
		}
	}
	return ok
}
