package rules

import (
	"unicode"
	"unicode/utf8"
)

// The gap between two letters of one word may hold at most this many
// visible characters (punctuation, symbols, emoji) and this much white
// space; a blank line always ends a word.
const (
	maxGapVisible = 3
	maxGapSpace   = 8
	maxRun        = 128 // single characters joined into one word at most
)

// group turns atoms into words, joining runs of single characters split by
// separators of any kind. Where some gaps of a run hold more white space
// than the others ("w e t  d r e a m", "0 f_u_c_k"), a new word may start
// after them: the run is one word with cuts there.
func (t *Text) group() {
	if len(t.atoms) > 0 {
		t.explodeSymbols()
	}
	var wide [maxRun]bool
	for i := 0; i < len(t.atoms); {
		j := t.runEnd(i)
		if j-i > 1 {
			t.wideGaps(i, j, wide[:j-i])
		}
		t.addWord(i, j, wide[:j-i])
		i = j
	}
}

// runEnd returns the end of the run of single characters that starts at
// atom i; i+1 when there is none.
func (t *Text) runEnd(i int) int {
	atoms := t.atoms
	j := i + 1
	for j < len(atoms) && j-i < maxRun {
		if atoms[j-1].end == atoms[j].start {
			j++ // split at a regional indicator: one word
			continue
		}
		if atoms[j-1].visible != 1 || atoms[j].visible != 1 || atoms[i].flags&wordHashtag != 0 ||
			atoms[j].flags&wordHashtag != 0 {
			break
		}
		if _, ok := gapWeight(t.cur[atoms[j-1].end:atoms[j].start]); !ok {
			break
		}
		j++
	}
	return j
}

// wideGaps marks, for atoms [i, j), those that follow a gap holding more
// white space than the narrowest gap of the run.
func (t *Text) wideGaps(i, j int, wide []bool) {
	least := maxGapSpace + 1
	for k := i + 1; k < j; k++ {
		if t.atoms[k-1].end != t.atoms[k].start {
			w, _ := gapWeight(t.cur[t.atoms[k-1].end:t.atoms[k].start])
			least = min(least, w)
		}
	}
	wide[0] = false
	for k := i + 1; k < j; k++ {
		w, _ := gapWeight(t.cur[t.atoms[k-1].end:t.atoms[k].start])
		wide[k-i] = t.atoms[k-1].end != t.atoms[k].start && w > least
	}
}

// gapWeight measures the white space of a gap between two letters, and
// whether the gap can be inside a word.
func gapWeight(gap string) (space int, ok bool) {
	visible, lines := 0, 0
	for i := 0; i < len(gap); {
		r, size := rune(gap[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(gap[i:])
		}
		i += size
		switch {
		case r == '\n' || r == '\u2028' || r == '\u2029':
			lines++
			space++
		case r == '\r':
		case r == ' ' || r == '\t' || (r >= utf8.RuneSelf && unicode.IsSpace(r)):
			space++
		case r >= utf8.RuneSelf && lookupFold(r).cls == clsDrop:
		default:
			visible++
		}
	}
	return space, lines < 2 && visible <= maxGapVisible && space <= maxGapSpace
}

// explodeSymbols splits atoms whose letters are split by one leetspeak
// symbol each ("f|u|c|k", the "o+i" of "y.a:o+i") into atoms of one letter,
// the symbols becoming separators: when there are two symbols or more, or
// when a neighbour is a single character.
func (t *Text) explodeSymbols() {
	for i := len(t.atoms) - 1; i >= 0; i-- {
		a := t.atoms[i]
		if a.visible < 3 || a.visible%2 == 0 {
			continue
		}
		n, syms := 0, 0
		ok := true
		for _, c := range t.chars[a.c0:a.c1] {
			if c.f.cls == clsDrop {
				continue
			}
			isSym := c.f.cls == clsSym && c.end-c.start == 1
			if isSym != (n%2 == 1) || (!isSym && c.f.cls == clsSym) {
				ok = false
				break
			}
			if isSym {
				syms++
			}
			n++
		}
		single := i > 0 && t.atoms[i-1].visible == 1 || i+1 < len(t.atoms) && t.atoms[i+1].visible == 1
		if !ok || !(syms >= 2 || single) {
			continue
		}
		var parts [maxRun]atom
		np := 0
		for k := a.c0; k < a.c1 && np < len(parts); k++ {
			c := t.chars[k]
			switch {
			case c.f.cls == clsDrop && np > 0:
				parts[np-1].c1, parts[np-1].end = k+1, c.end
			case c.f.cls == clsSym && c.end-c.start == 1:
			case c.f.cls != clsDrop:
				parts[np] = atom{c0: k, c1: k + 1, start: c.start, end: c.end, visible: 1}
				np++
			}
		}
		if np == 0 {
			continue
		}
		parts[0].flags = a.flags &^ wordHandle
		t.atoms = append(t.atoms, parts[:np-1]...) // room for them
		copy(t.atoms[i+np:], t.atoms[i+1:len(t.atoms)-(np-1)])
		copy(t.atoms[i:], parts[:np])
	}
}
