package rules

import (
	"unicode/utf8"
)

// readCensored adds a reading for each word in which symbols hide letters
// ("f*ck", "sh**", "f#%k"): '*', '#' and '%' between or after its letters
// become units '*' that stand for one letter each. Only a word that one
// listed term fits is matched (Matcher.matchCensored).
func (t *Text) readCensored() {
	s := t.src
	for i := 0; i < len(s); {
		// A token: letters, digits, symbols and censoring symbols with no
		// other separator between them.
		start := i
		censors, letters := 0, 0
		for i < len(s) {
			r, size := rune(s[i]), 1
			if r >= utf8.RuneSelf {
				r, size = utf8.DecodeRuneInString(s[i:])
			}
			cls := lookupFold(r).cls
			if r < utf8.RuneSelf && censorSymbol[r] {
				censors++
			} else if cls == clsSep {
				break
			} else if cls == clsLetter {
				letters++
			}
			i += size
		}
		if censors > 0 && letters > 0 {
			t.censoredWord(start, i)
		}
		if i == start {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
		}
	}
}

// censoredWord adds the reading of src[start:end] with its censoring
// symbols as hidden letters. Leading ones are punctuation, and trailing
// ones too when it had leading ones ("**bold**").
func (t *Text) censoredWord(start, end int) {
	s := t.src
	lead := false
	for start < end && isCensor(s[start]) {
		start++
		lead = true
	}
	for lead && end > start && isCensor(s[end-1]) {
		end--
	}
	for end > start && (s[end-1] == '!' || s[end-1] == '?') {
		end-- // "f*ck!!!"
	}
	inner := false
	for j := start; j < end; j++ {
		if isCensor(s[j]) {
			inner = true
		}
	}
	if !inner || start == end {
		return
	}
	w := word{start: int32(start), end: int32(end), k0: int32(len(t.keys)), r0: int32(len(t.runs)),
		s0: int32(len(t.spans)), c0: int32(len(t.cuts)), steps: StepCensored, flags: wordCensored | wordReading}
	var prev [4]byte
	prevN := 0
	for j := start; j < end; {
		r, size := rune(s[j]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[j:])
		}
		c := char{f: lookupFold(r), start: int32(j), end: int32(j + size)}
		j += size
		var unit []byte
		switch {
		case r < utf8.RuneSelf && censorSymbol[r]:
			unit = []byte{'*'}
		case c.f.cls == clsDrop:
			if len(t.spans) > int(w.s0) {
				t.spans[len(t.spans)-1][1] = c.end
			}
			continue
		case c.f.cls == clsLetter:
			w.steps |= c.f.steps
			out := c.f.out[:c.f.n]
			for len(out) > 0 {
				n := unitLen(out)
				prevN = t.unit(&w, out[:n], &prev, prevN, c)
				out = out[n:]
			}
			continue
		default:
			unit = []byte{c.f.leet}
			if c.f.leet == 0 {
				unit = c.f.out[:1]
			}
		}
		prevN = t.unit(&w, unit, &prev, prevN, c)
	}
	t.finishWord(&w)
	t.extra = append(t.extra, w)
}

// censorPattern spells src[start:end] out letter by letter for matching
// hidden letters: '*' for a censoring symbol, and for a grawlix symbol
// (! @ $) in a word that has one; n is 0 when a letter is not an ASCII one.
func censorPattern(s string, pat *[64]byte, wild *[64]bool) (n, hidden int) {
	for j := 0; j < len(s); {
		r, size := rune(s[j]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[j:])
		}
		f := lookupFold(r)
		if r < utf8.RuneSelf && leetStart[r] {
			if sf, k := leetSequence(s[j:]); k > 0 {
				f, size = sf, k
			}
		}
		j += size
		var c byte
		isWild := false
		switch {
		case r < utf8.RuneSelf && (censorSymbol[r] || grawlix[r]) && size == 1:
			c, isWild = '*', true
		case f.cls == clsDrop:
			continue
		case f.cls == clsLetter:
			if f.n != 1 || f.out[0] >= utf8.RuneSelf {
				return 0, 0
			}
			c = f.out[0]
		case f.cls == clsDigit || f.cls == clsSym:
			c = f.leet
		default:
			return 0, 0
		}
		if c == 'l' {
			c = 'i'
		}
		if n == len(pat) {
			return 0, 0
		}
		pat[n], wild[n] = c, isWild
		if isWild {
			hidden++
		}
		n++
	}
	return n, hidden
}

// matchCensored finds the one listed term that a word with hidden letters
// fits, each hidden letter standing for one letter. A word that several
// terms fit, or none, is not matched.
func (m *Matcher) matchCensored(t *Text, w *word, dst []Match) []Match {
	var pat [64]byte
	var wild [64]bool
	n, hidden := censorPattern(t.src[w.start:w.end], &pat, &wild)
	known := n - hidden
	if hidden == 0 || known == 0 || n < 3 || hidden > known+2 || wild[0] {
		return dst
	}
	var fit *Term
	fitKey := ""
	for _, c := range m.expanded[n] {
		ok := true
		for i := range n {
			if !wild[i] && c.key[i] != pat[i] {
				ok = false
				break
			}
		}
		if !ok || c.key == fitKey {
			continue
		}
		if fit != nil {
			return dst // more than one term fits
		}
		fit, fitKey = c.term, c.key
	}
	if fit == nil {
		return dst
	}
	return append(dst, Match{Start: int(w.start), End: int(w.end), Term: fit.Text, List: fit.List,
		Steps: w.steps | StepCensored})
}

func isCensor(b byte) bool { return b < utf8.RuneSelf && censorSymbol[b] }
