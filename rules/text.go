package rules

import (
	"strings"
	"sync"
	"unicode/utf8"
)

// Text is a message text taken apart into words and folded, ready for any
// number of word lists to be matched against it. Analyse a text once per
// message with Analyze and Release it when done; a Text is not safe for
// concurrent use.
//
// A word is a run of letters, digits and leetspeak symbols with invisible
// characters and combining marks ignored inside it. Single characters split
// by one repeated separator ("f.u.c.k", "f u c k") are joined into one word;
// a different separator ends the join, so "w e t  d r e a m" is two words.
// Each word is keyed by its folded letters with repeats collapsed ("fuuuck"
// and "fuck" share the key "fuck"); the repeat counts are kept beside the key
// so that matching can tell a stretched word from a different one ("but" is
// not "butt", "buuuttt" is).
type Text struct {
	src   string
	chars []char
	atoms []atom
	words []word
	keys  []byte     // every word's key, each preceded by a 0 byte, and a final 0
	runs  []uint8    // for each unit of keys, how many times it was repeated
	spans [][2]int32 // for each unit of a word not made of plain letters, the bytes of src it came from

	// Counted in the same pass, for text.length and text.caps_ratio.
	runes, letters, upper int32 // letters and upper case: ASCII only
	nonASCII              bool
}

type char struct {
	f          fold
	start, end int32 // bytes in src
}

// atom is a run of characters between separators.
type atom struct {
	c0, c1     int32 // chars
	start, end int32 // bytes in src
	visible    int32 // characters other than invisible ones and marks
	tail       byte  // the letter of one trimmed trailing symbol ("p@k!"), or 0
	tailEnd    int32 // where that symbol ends
}

type word struct {
	start, end int32 // bytes in src: every character that formed the word
	k0, k1     int32 // key in keys
	r0         int32 // runs; the key's units map one-to-one onto runs[r0:]
	s0         int32 // spans, likewise, for a word not made of plain letters only (spans are read for joined words)
	n          int32 // units
	steps      Steps
	tail       byte // a trimmed trailing symbol that may be a letter after all
	tailEnd    int32
	hash       uint32 // keyHash of the key, shared by every list's filter
	fp         uint32 // keyHash of the key with every number the same: see Fingerprint
}

var textPool = sync.Pool{New: func() any { return new(Text) }}

// Analyze takes s apart into words. The result must be released.
func Analyze(s string) *Text {
	t := textPool.Get().(*Text)
	t.reset(s)
	return t
}

// Release returns t to the pool; t must not be used afterwards.
func (t *Text) Release() {
	if cap(t.chars) > 1<<16 {
		return // let an unusually large text go rather than keep its buffers
	}
	t.src = ""
	textPool.Put(t)
}

// Source is the text as given.
func (t *Text) Source() string { return t.src }

// Words is the number of words found.
func (t *Text) Words() int { return len(t.words) }

// Folded returns the folded, collapsed form of the words that cover the
// bytes [start, end) of the source, separated by spaces: what the matcher
// compared. It is for explanations, not the hot path.
func (t *Text) Folded(start, end int) string {
	var b strings.Builder
	for i := range t.words {
		w := &t.words[i]
		if int(w.end) <= start || int(w.start) >= end {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.expand(w))
	}
	return b.String()
}

// expand writes a word's key with each unit repeated as often as it was.
func (t *Text) expand(w *word) string {
	var b strings.Builder
	k := t.keys[w.k0:w.k1]
	for i, u := 0, int32(0); i < len(k); u++ {
		n := 1
		if k[i] >= utf8.RuneSelf {
			_, n = utf8.DecodeRune(k[i:])
		}
		for range t.runs[w.r0+u] {
			b.Write(k[i : i+n])
		}
		i += n
	}
	return b.String()
}

func (t *Text) reset(s string) {
	foldOnce.Do(initFold)
	t.src = s
	t.chars = t.chars[:0]
	t.atoms = t.atoms[:0]
	t.words = t.words[:0]
	t.keys = append(t.keys[:0], 0)
	t.runs = t.runs[:0]
	t.spans = t.spans[:0]
	t.runes, t.letters, t.upper, t.nonASCII = 0, 0, 0, false

	// Most words are ASCII letters only. Such a word does not go through
	// chars and atoms: it becomes a word straight from the bytes, as
	// plainWord would have made it. Its letters go into chars only when a
	// character that is not a plain letter shows that it needs the general
	// way, or when it is a single letter that may belong to a split word.
	open, plain, atomStart := false, false, 0
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		t.runes++
		switch {
		case r >= utf8.RuneSelf:
			r, size = utf8.DecodeRuneInString(s[i:])
			t.nonASCII = true
		case r >= 'a' && r <= 'z':
			t.letters++
		case r >= 'A' && r <= 'Z':
			t.letters++
			t.upper++
		}
		f := lookupFold(r)
		switch {
		case f.cls == clsSep:
			if open {
				t.closeOpen(plain, atomStart, i)
				open = false
			}
		case f.cls == clsDrop && !open:
			// invisible characters between words belong to neither
		default:
			if !open {
				open, plain, atomStart = true, true, i
			}
			if plain {
				if r < utf8.RuneSelf && plainLetter[r] {
					break
				}
				plain = false
				t.openAtom(atomStart, i)
			}
			t.chars = append(t.chars, char{f: f, start: int32(i), end: int32(i + size)})
		}
		i += size
	}
	if open {
		t.closeOpen(plain, atomStart, len(s))
	}
	t.group()
}

// plainLetter marks the ASCII letters that fold to one ASCII letter with no
// step but case: the letters of plainWord.
var plainLetter [utf8.RuneSelf]bool

// openAtom starts an atom at start whose plain letters up to i were not
// stored yet.
func (t *Text) openAtom(start, i int) {
	t.atoms = append(t.atoms, atom{c0: int32(len(t.chars)), start: int32(start)})
	for j := start; j < i; j++ {
		t.chars = append(t.chars, char{f: asciiFold[t.src[j]], start: int32(j), end: int32(j + 1)})
	}
}

// closeOpen ends the atom that is open at end.
func (t *Text) closeOpen(plain bool, start, end int) {
	switch {
	case !plain:
		t.closeAtom()
	case end-start == 1:
		t.openAtom(start, end) // one letter: maybe part of "f u c k"
		t.closeAtom()
	default:
		// A word of two letters or more ends any run of single letters, so
		// the atoms before it are grouped now and the word follows them.
		t.group()
		t.atoms, t.chars = t.atoms[:0], t.chars[:0]
		t.plainBytes(start, end)
	}
}

// plainBytes adds src[start:end], plain ASCII letters, as one word. Its
// units get no spans: each is a run of one letter, and nothing reads the
// spans of a word that was not joined.
func (t *Text) plainBytes(start, end int) {
	w := word{start: int32(start), end: int32(end), k0: int32(len(t.keys)), r0: int32(len(t.runs))}
	var prev byte
	for i := start; i < end; i++ {
		f := &asciiFold[t.src[i]]
		w.steps |= f.steps
		u := f.out[0]
		if u == 'l' {
			u = 'i' // as in unit
		}
		if u == prev {
			if r := &t.runs[len(t.runs)-1]; *r < 255 {
				*r++
			}
			continue
		}
		t.keys = append(t.keys, u)
		t.runs = append(t.runs, 1)
		w.n++
		prev = u
	}
	w.k1 = int32(len(t.keys))
	w.hash = keyHash(t.keys[w.k0:w.k1])
	w.fp = w.hash
	t.keys = append(t.keys, 0)
	t.words = append(t.words, w)
}

// closeAtom ends the last atom, trimming punctuation-like symbols from its
// edges ("wow!!!") unless it is a lone character, which may be one letter
// of a split word ("s.h.!.t").
func (t *Text) closeAtom() {
	a := &t.atoms[len(t.atoms)-1]
	c0, c1 := a.c0, int32(len(t.chars))
	visible := int32(0)
	for _, c := range t.chars[c0:c1] {
		if c.f.cls != clsDrop {
			visible++
		}
	}
	if visible > 1 {
		// One symbol before a letter reads as a letter ("!diot"); more are
		// punctuation ("!!!wow").
		if !(t.chars[c0].f.trim && c0+1 < c1 && t.chars[c0+1].f.cls == clsLetter) {
			for c0 < c1 && (t.chars[c0].f.trim || t.chars[c0].f.cls == clsDrop) {
				c0++
			}
		}
		end := c1
		for c1 > c0 && t.chars[c1-1].f.trim {
			c1--
		}
		if end-c1 == 1 {
			a.tail, a.tailEnd = t.chars[c1].f.leet, t.chars[c1].end
		}
		visible = 0
		for _, c := range t.chars[c0:c1] {
			if c.f.cls != clsDrop {
				visible++
			}
		}
	}
	if visible == 0 {
		t.atoms = t.atoms[:len(t.atoms)-1]
		t.chars = t.chars[:a.c0]
		return
	}
	a.c0, a.c1, a.visible = c0, c1, visible
	a.start, a.end = t.chars[c0].start, t.chars[c1-1].end
}

// maxJoinSeparator is the longest separator, in bytes, that can split the
// letters of one word.
const maxJoinSeparator = 4

// group turns atoms into words, joining runs of single characters split by
// one and the same short separator. Where two runs with different
// separators share a character ("0 b_o_o_b_s"), it goes to the longer run;
// to both when they are as long and of three or more ("0 0 0 f_u_c_k" is
// "000f" and "fuck").
func (t *Text) group() {
	for i := 0; i < len(t.atoms); {
		j := t.runEnd(i)
		if j-i >= 2 && j < len(t.atoms) {
			switch k := t.runEnd(j - 1); {
			case k-(j-1) > j-i:
				j--
			case k-(j-1) == j-i && j-i >= 3:
				t.addWord(i, j)
				i = j - 1
				continue
			}
		}
		t.addWord(i, j)
		i = j
	}
}

// runEnd returns the end of the run of single characters that starts at
// atom i and keeps one separator; i+1 when there is none.
func (t *Text) runEnd(i int) int {
	atoms := t.atoms
	j := i + 1
	if atoms[i].visible != 1 {
		return j
	}
	var sep string
	for j < len(atoms) && atoms[j].visible == 1 {
		gap := t.src[atoms[j-1].end:atoms[j].start]
		if strings.IndexByte(gap, '\n') >= 0 || visibleLen(gap) > maxJoinSeparator {
			break
		}
		if j == i+1 {
			sep = gap
		} else if !sameVisible(gap, sep) {
			break
		}
		j++
	}
	return j
}

// addWord folds atoms [a0, a1) into one word.
func (t *Text) addWord(a0, a1 int) {
	first, last := &t.atoms[a0], &t.atoms[a1-1]
	w := word{start: first.start, end: last.end, k0: int32(len(t.keys)), r0: int32(len(t.runs)), s0: int32(len(t.spans))}
	if a1-a0 > 1 {
		w.steps |= StepSeparators
	} else {
		w.tail, w.tailEnd = first.tail, first.tailEnd
	}
	if a1-a0 == 1 && t.plainWord(first) {
		return
	}
	// Digits read as letters only in a word that has letters or leetspeak
	// symbols: "sh1t" is a word, "1984" stays a number.
	leetOn := false
	for _, a := range t.atoms[a0:a1] {
		for _, c := range t.chars[a.c0:a.c1] {
			if c.f.cls == clsLetter || c.f.cls == clsSym {
				leetOn = true
			}
		}
	}
	var prev [4]byte
	prevN := 0
	for _, a := range t.atoms[a0:a1] {
		for _, c := range t.chars[a.c0:a.c1] {
			w.steps |= c.f.steps
			var unit []byte
			switch c.f.cls {
			case clsDrop:
				if len(t.spans) > int(w.s0) {
					t.spans[len(t.spans)-1][1] = c.end // marks belong to their letter
				}
				continue
			case clsLetter:
				out := c.f.out[:c.f.n]
				for len(out) > 0 {
					n := 1
					if out[0] >= utf8.RuneSelf {
						_, n = utf8.DecodeRune(out)
					}
					prevN = t.unit(&w, out[:n], &prev, prevN, c)
					out = out[n:]
				}
				continue
			case clsDigit:
				unit = c.f.out[:1]
				if leetOn && c.f.leet != 0 {
					unit = []byte{c.f.leet}
					w.steps |= StepLeetspeak
				}
			case clsSym:
				unit = []byte{c.f.leet}
				w.steps |= StepLeetspeak
			}
			prevN = t.unit(&w, unit, &prev, prevN, c)
		}
	}
	w.k1 = int32(len(t.keys))
	w.hash = keyHash(t.keys[w.k0:w.k1])
	w.fp = numberFoldedHash(t.keys[w.k0:w.k1])
	t.keys = append(t.keys, 0)
	t.words = append(t.words, w)
}

// plainWord is the fast way for the commonest word: one atom of ASCII
// letters that fold to themselves or their lower case. It reports false,
// having added nothing, for any other word.
func (t *Text) plainWord(a *atom) bool {
	chars := t.chars[a.c0:a.c1]
	for i := range chars {
		if f := &chars[i].f; f.cls != clsLetter || f.n != 1 || f.out[0] >= utf8.RuneSelf || f.steps&^StepCase != 0 {
			return false
		}
	}
	// One byte a character, none dropped: the atom is its bytes.
	t.plainBytes(int(a.start), int(a.end))
	return true
}

// unit adds one folded letter to the word being built, collapsing repeats.
func (t *Text) unit(w *word, u []byte, prev *[4]byte, prevN int, c char) int {
	if len(u) == 1 && u[0] == 'l' {
		u = []byte{'i'} // "l", "I", "1" and "|" look alike: one letter for matching
	}
	if prevN == len(u) && string(prev[:prevN]) == string(u) {
		if r := &t.runs[len(t.runs)-1]; *r < 255 {
			*r++
		}
		t.spans[len(t.spans)-1][1] = c.end
		return prevN
	}
	t.keys = append(t.keys, u...)
	t.runs = append(t.runs, 1)
	t.spans = append(t.spans, [2]int32{c.start, c.end})
	w.n++
	copy(prev[:], u)
	return len(u)
}

// visibleLen is the length in bytes of s without invisible characters.
func visibleLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if lookupFold(r).cls != clsDrop {
			n += size
		}
		i += size
	}
	return n
}

// sameVisible compares two separators, ignoring invisible characters, so
// that "f.\u200bu.c.k" is split by one separator throughout.
func sameVisible(a, b string) bool {
	if a == b {
		return true
	}
	for {
		ra, na := nextVisible(a)
		rb, nb := nextVisible(b)
		if na == 0 || nb == 0 {
			return na == nb
		}
		if ra != rb {
			return false
		}
		a, b = a[na:], b[nb:]
	}
}

// nextVisible returns the first visible rune of s and the bytes up to and
// including it; 0 bytes when there is none.
func nextVisible(s string) (rune, int) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if lookupFold(r).cls != clsDrop {
			return r, i
		}
	}
	return 0, 0
}

// Fingerprint identifies near-identical texts: the folded words with
// stretching collapsed and every number the same, so "buy n0w!!!" and
// "BUY NOOOW" share one, as do "call 555-1234" and "call 555 0000".
func (t *Text) Fingerprint() uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := range t.words {
		h = (h ^ uint64(t.words[i].fp)) * prime
	}
	return h
}

// numberFoldedHash is keyHash of key with each run of digits read as one
// '#'.
func numberFoldedHash(key []byte) uint32 {
	h := uint32(2166136261)
	digits := false
	for _, c := range key {
		if c >= '0' && c <= '9' {
			if digits {
				continue
			}
			c, digits = '#', true
		} else {
			digits = false
		}
		h = (h ^ uint32(c)) * 16777619
	}
	return h ^ h>>16
}

// Length is the number of characters (runes) of the text.
func (t *Text) Length() int { return int(t.runes) }

// CapsRatio is the share of letters in upper case, 0 without letters.
func (t *Text) CapsRatio() float64 {
	if t.nonASCII {
		return capsRatioUnicode(t.src)
	}
	if t.letters == 0 {
		return 0
	}
	return float64(t.upper) / float64(t.letters)
}
