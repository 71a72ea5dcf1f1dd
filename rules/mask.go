package rules

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// Mask replaces the matched characters of the spans with '*' and changes
// nothing else. Every character outside the spans stays byte for byte, and
// so do the invisible and format characters inside them (zero-width spaces
// and joiners, bidirectional controls, variation selectors): a span ends
// where its word ends, and a bidirectional control it swallowed would change
// how the rest of the message reads. Combining marks go with the letter
// they are written on, so a masked word shows one star per visible
// character. Overlapping spans are merged.
func Mask(text string, found []Match) string {
	if len(found) == 0 {
		return text
	}
	spans := make([][2]int, 0, len(found))
	for _, m := range found {
		spans = append(spans, [2]int{m.Start, m.End})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	var b strings.Builder
	b.Grow(len(text))
	pos := 0
	for _, sp := range spans {
		if sp[1] <= pos {
			continue
		}
		if sp[0] < pos {
			sp[0] = pos
		}
		b.WriteString(text[pos:sp[0]])
		for i, r := range text[sp[0]:sp[1]] {
			switch {
			case r == utf8.RuneError:
				b.WriteByte('*')
			case invisible(r):
				b.WriteString(text[sp[0]+i : sp[0]+i+utf8.RuneLen(r)])
			case lookupFoldSafe(r).cls == clsDrop: // a combining mark: it goes with its letter
			default:
				b.WriteByte('*')
			}
		}
		pos = sp[1]
	}
	b.WriteString(text[pos:])
	return b.String()
}

// invisibleOf appends the invisible and format characters of s.
func invisibleOf(b *strings.Builder, s string) {
	for i, r := range s {
		if r != utf8.RuneError && invisible(r) {
			b.WriteString(s[i : i+utf8.RuneLen(r)])
		}
	}
}

// lookupFoldSafe is lookupFold once the folding tables are built.
func lookupFoldSafe(r rune) fold {
	foldOnce.Do(initFold)
	return lookupFold(r)
}
