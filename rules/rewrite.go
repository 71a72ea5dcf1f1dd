package rules

import (
	"sort"
	"strings"
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
