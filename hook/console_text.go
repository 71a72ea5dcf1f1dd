package hook

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/modgate/modgate/moderation"
)

// segment is a piece of a message's text: plain, or matched by a rule and
// highlighted. Templates escape Text; nothing here builds HTML.
type segment struct {
	Text  string
	Mark  bool
	Title string // what matched there: "spam:buy now (rule spam)"
}

// highlight cuts text into plain and matched segments. Matches that
// overlap are highlighted as one; a span that does not fall on the text's
// characters (an item written by something else) is left out rather than
// cutting a character in two.
func highlight(text string, spans []moderation.Span) []segment {
	valid := make([]moderation.Span, 0, len(spans))
	for _, sp := range spans {
		if validSpan(text, sp) {
			valid = append(valid, sp)
		}
	}
	if len(valid) == 0 {
		return []segment{{Text: text}}
	}
	slices.SortStableFunc(valid, func(a, b moderation.Span) int { return a.Start - b.Start })
	var out []segment
	at := 0
	for i := 0; i < len(valid); {
		start, end := valid[i].Start, valid[i].End
		var titles []string
		for ; i < len(valid) && valid[i].Start < end; i++ {
			end = max(end, valid[i].End)
			if t := spanTitle(valid[i]); !slices.Contains(titles, t) {
				titles = append(titles, t)
			}
		}
		if start > at {
			out = append(out, segment{Text: text[at:start]})
		}
		out = append(out, segment{Text: text[start:end], Mark: true, Title: strings.Join(titles, "; ")})
		at = end
	}
	if at < len(text) {
		out = append(out, segment{Text: text[at:]})
	}
	return out
}

// validSpan reports whether sp covers whole characters of text.
func validSpan(text string, sp moderation.Span) bool {
	return sp.Start >= 0 && sp.Start < sp.End && sp.End <= len(text) &&
		utf8.RuneStart(text[sp.Start]) && (sp.End == len(text) || utf8.RuneStart(text[sp.End]))
}

func spanTitle(sp moderation.Span) string {
	term := sp.Term
	if sp.List != "" {
		term = sp.List + ":" + sp.Term
	}
	return term + " (rule " + sp.Rule + ")"
}
