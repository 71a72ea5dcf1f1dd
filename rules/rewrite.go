package rules

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Rewrite is what a rewrite rule changes. Text transforms run in the order
// replace, strip_links, lowercase; fields are set as given.
type Rewrite struct {
	Replace       *Matcher          // terms to replace, matched like `contains`
	Replacements  map[string]string // term → what replaces it
	StripLinks    bool
	Lowercase     bool
	Silent        *bool
	ShowInChannel *bool
	Set           []FieldValue // custom fields, in the order written
}

// FieldValue is a custom field of the message and its JSON value.
type FieldValue struct {
	Key  string
	JSON []byte
}

// ChangesText reports whether the rewrite touches the text.
func (rw *Rewrite) ChangesText() bool {
	return rw.Replace != nil || rw.StripLinks || rw.Lowercase
}

// ApplyText returns text with the rewrite's transforms applied. A replaced
// term keeps its invisible and format characters, after the replacement.
func (rw *Rewrite) ApplyText(text string) string {
	if rw.Replace != nil {
		t := Analyze(text)
		found := rw.Replace.Match(t, nil)
		t.Release()
		if len(found) > 0 {
			sort.Slice(found, func(i, j int) bool { return found[i].Start < found[j].Start })
			var b strings.Builder
			pos := 0
			for _, m := range found {
				if m.Start < pos {
					continue
				}
				b.WriteString(text[pos:m.Start])
				b.WriteString(rw.Replacements[m.Term])
				invisibleOf(&b, text[m.Start:m.End]) // as with masks: format characters stay
				pos = m.End
			}
			b.WriteString(text[pos:])
			text = b.String()
		}
	}
	if rw.StripLinks {
		text = linkPattern.ReplaceAllString(text, "")
		text = strings.Join(strings.Fields(text), " ")
	}
	if rw.Lowercase {
		text = strings.ToLower(text)
	}
	return text
}

// rewrite reads what a rewrite rule changes.
func (p *parser) rewrite(n *yaml.Node) *Rewrite {
	m := p.mapping(n, "rewrite", "replace", "strip_links", "lowercase", "silent", "show_in_channel", "set")
	if m == nil {
		return nil
	}
	rw := &Rewrite{}
	boolean := func(key string) *bool {
		v, ok := m[key]
		if !ok {
			return nil
		}
		b, ok := p.boolean(v, "rewrite."+key)
		if !ok {
			return nil
		}
		return &b
	}
	if b := boolean("strip_links"); b != nil {
		rw.StripLinks = *b
	}
	if b := boolean("lowercase"); b != nil {
		rw.Lowercase = *b
	}
	rw.Silent = boolean("silent")
	rw.ShowInChannel = boolean("show_in_channel")
	if v, ok := m["replace"]; ok {
		p.replacements(v, rw)
	}
	if v, ok := m["set"]; ok {
		rw.Set = p.setFields(v)
	}
	if !rw.ChangesText() && rw.Silent == nil && rw.ShowInChannel == nil && len(rw.Set) == 0 {
		p.errorf(n, "rewrite: changes nothing")
	}
	return rw
}

// replacements reads rewrite.replace: terms, matched like `contains`, and
// what replaces each.
func (p *parser) replacements(v *yaml.Node, rw *Rewrite) {
	pairs := p.mapping(v, "rewrite.replace")
	rw.Replacements = map[string]string{}
	var terms []Term
	for _, kv := range orderedPairs(resolve(v)) {
		term := kv[0].Value
		if _, ok := pairs[term]; !ok {
			continue
		}
		to, ok := p.str(kv[1], "rewrite.replace."+term)
		if !ok {
			continue
		}
		if _, err := parseTerm(term); err != nil {
			p.errorf(kv[0], "rewrite.replace: term %q: %v", term, err)
			continue
		}
		rw.Replacements[term] = to
		terms = append(terms, Term{Text: term})
	}
	if len(terms) > 0 {
		mt, err := NewMatcher(terms)
		if err != nil {
			p.errorf(v, "rewrite.replace: %v", err)
		}
		rw.Replace = mt
	}
}

// setFields reads rewrite.set: custom fields and their values, as JSON.
func (p *parser) setFields(v *yaml.Node) []FieldValue {
	p.mapping(v, "rewrite.set")
	var out []FieldValue
	for _, kv := range orderedPairs(resolve(v)) {
		key := kv[0].Value
		if !idPattern.MatchString(key) || slices.Contains(reservedFields, key) {
			p.errorf(kv[0], "rewrite.set: %q is not a custom field modgate may set (Stream's own fields: text, silent and show_in_channel have their own keys)", key)
			continue
		}
		var val any
		if err := kv[1].Decode(&val); err != nil {
			p.errorf(kv[1], "rewrite.set.%s: %v", key, err)
			continue
		}
		js, err := json.Marshal(jsonable(val))
		if err != nil {
			p.errorf(kv[1], "rewrite.set.%s: cannot be written as JSON: %v", key, err)
			continue
		}
		out = append(out, FieldValue{Key: key, JSON: js})
	}
	return out
}

// reservedFields are fields of a Stream message that rewrite.set may not
// touch: Stream ignores or owns them.
var reservedFields = []string{"id", "text", "html", "type", "user", "user_id", "cid", "created_at", "updated_at",
	"deleted_at", "silent", "show_in_channel", "attachments", "mentioned_users", "parent_id", "i18n", "command", "args"}
