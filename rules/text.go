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
// by separators of any kind (punctuation, symbols, emoji, runs of white
// space: "f.u-c_k", "f🔥u🔥c🔥k") are joined into one word; where some gaps
// are wider than the others ("w e t  d r e a m") a new word may start at
// them. Each word is keyed by its folded letters with repeats collapsed
// ("fuuuck" and "fuck" share the key "fuck"); the repeat counts are kept
// beside the key so that matching can tell a stretched word from a
// different one ("but" is not "butt", "buuuttt" is).
//
// Beside the words as written, a Text keeps the places where a reader sees
// a new word start inside one (camelCase, a wider gap, a flag emoji after
// letters), and other readings: the words a reader sees once bidirectional
// overrides are applied, and words with letters hidden by symbols ("f*ck").
type Text struct {
	src   string
	cur   string  // the string being read: src, or a bidi reading of it
	vmap  []int32 // for a bidi reading, the byte of src each byte of cur comes from
	chars []char
	atoms []atom
	words []word     // the words of the text as written
	extra []word     // other readings: see word.of
	keys  []byte     // every word's key, each preceded by a 0 byte, and a final 0
	runs  []uint8    // for each unit of keys, how many times it was repeated
	spans [][2]int32 // for each unit of a word not made of plain letters, the bytes of src it came from
	cuts  []cut      // for each word, where a new word may start inside it

	// Counted in the same pass, for text.length and text.caps_ratio.
	runes, letters, upper int32 // letters and upper case: ASCII only
	nonASCII              bool

	bidi     bool  // the text holds bidirectional controls
	censor   bool  // the text holds symbols that may hide letters
	markAt   int32 // where a word after '#' starts; -1 when none
	counting bool  // the first reading counts runes and letters
	keepTail bool  // the atom being closed goes on after a regional indicator: keep its symbols
}

type char struct {
	f          fold
	start, end int32 // bytes in cur
}

// atom is a run of characters between separators.
type atom struct {
	c0, c1     int32 // chars
	start, end int32 // bytes in cur
	visible    int32 // characters other than invisible ones and marks
	edges      edges // trimmed symbols that may be letters after all
	flags      wordFlags
}

// edges are the letters of up to three symbols trimmed from each end of a
// word as punctuation, which may be letters after all: "p@k!" is "paki",
// "+!†+y" is "titty".
type edges struct {
	head, tail   [3]byte // nearest the word first
	nHead, nTail int8
	headStart    [3]int32 // where the symbols of head start
	tailEnd      [3]int32 // where those of tail end
}

type word struct {
	start, end int32 // bytes in src: every character that formed the word
	k0, k1     int32 // key in keys
	r0         int32 // runs; the key's units map one-to-one onto runs[r0:]
	s0         int32 // spans, likewise, unless the word is plain
	n          int32 // units
	c0, nc     int32 // cuts
	x0, x1     int32 // extra readings of this word
	steps      Steps
	flags      wordFlags
	numFrom    int32 // in a hashtag or handle, the unit where a number at its end starts; n when none
	edges      edges
	hash       uint32 // keyHash of the key, shared by every list's filter
	fp         uint32 // keyHash of the key with every number the same: see Fingerprint
}

type wordFlags uint16

const (
	wordPlain    wordFlags = 1 << iota // ASCII letters only: no spans
	wordJoined                         // joined from single characters
	wordHashtag                        // written after '#'
	wordHandle                         // starts with '@': the key's first unit is that '@'
	wordCensored                       // a reading with symbols standing for hidden letters
	wordSymbols                        // letters split by one leetspeak symbol each ("f|u|c|k"): see extra
	wordReading                        // a reading of the whole text (bidi overrides applied, hidden letters)
	wordGrawlix                        // holds a unit from ! @ or $, which may hide a letter ("f!ck")
)

// cut is a place inside a word where a reader may see a new word start.
type cut struct {
	unit   int32 // the first unit after the cut
	shared bool  // the unit before the cut holds letters of both words ("lipsSabin")
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
	t.src, t.cur = "", ""
	textPool.Put(t)
}

// Source is the text as given.
func (t *Text) Source() string { return t.src }

// Words is the number of words found.
func (t *Text) Words() int { return len(t.words) }

// Folded returns the folded, collapsed form of the words that cover the
// bytes [start, end) of the source, separated by spaces: what the matcher
// compared. A reading other than the written one (a bidi override, hidden
// letters) that covers exactly those bytes is shown instead. It is for
// explanations, not the hot path.
func (t *Text) Folded(start, end int) string {
	for i := range t.extra {
		if w := &t.extra[i]; w.flags&wordReading != 0 && int(w.start) == start && int(w.end) == end {
			return t.expand(w)
		}
	}
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
		n := unitLen(k[i:])
		for range t.runs[w.r0+u] {
			b.Write(k[i : i+n])
		}
		i += n
	}
	return b.String()
}

func unitLen(k []byte) int {
	if k[0] < utf8.RuneSelf {
		return 1
	}
	_, n := utf8.DecodeRune(k)
	return n
}

func (t *Text) reset(s string) {
	foldOnce.Do(initFold)
	t.src, t.cur = s, s
	t.vmap = t.vmap[:0]
	t.chars = t.chars[:0]
	t.atoms = t.atoms[:0]
	t.words = t.words[:0]
	t.extra = t.extra[:0]
	t.keys = append(t.keys[:0], 0)
	t.runs = t.runs[:0]
	t.spans = t.spans[:0]
	t.cuts = t.cuts[:0]
	t.runes, t.letters, t.upper, t.nonASCII = 0, 0, 0, false
	t.bidi, t.censor, t.counting = false, false, true
	t.scan()
	t.counting = false
	if t.censor {
		t.readCensored()
	}
	if t.bidi {
		t.readBidi()
	}
}

// scan reads t.cur into words.
//
// Most words are ASCII letters only. Such a word does not go through chars
// and atoms: it becomes a word straight from the bytes, as plainWord would
// have made it. Its letters go into chars only when a character that is
// not a plain letter shows that it needs the general way, or when it is a
// single letter that may belong to a split word.
func (t *Text) scan() {
	s := t.cur
	t.markAt = -1
	open, plain, atomStart := false, false, 0
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if t.counting {
			t.runes++
		}
		switch {
		case r >= utf8.RuneSelf:
			r, size = utf8.DecodeRuneInString(s[i:])
			if t.counting {
				t.nonASCII = true
				if r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 {
					t.bidi = true
				}
			}
		case !t.counting:
		case r >= 'a' && r <= 'z':
			t.letters++
		case r >= 'A' && r <= 'Z':
			t.letters++
			t.upper++
		}
		f := lookupFold(r)
		if r < utf8.RuneSelf && leetStart[r] {
			if sf, n := leetSequence(s[i:]); n > 0 {
				f, size = sf, n
				if t.counting {
					t.runes += int32(n - 1)
				}
			} else if f.cls == clsSym && !open && (r == '(' || r == '<') && closedLater(s[i+1:], r) {
				f = fold{cls: clsSep} // a bracket that is closed later is punctuation
			}
		}
		switch {
		case f.cls == clsSep:
			wasOpen := open
			if open {
				t.closeOpen(plain, atomStart, i)
				open = false
			}
			if r < utf8.RuneSelf && censorSymbol[r] {
				t.censor = true
				if r == '#' && !wasOpen && (i == 0 || s[i-1] == ' ' || s[i-1] == '\n' || s[i-1] == '\t') &&
					i+1 < len(s) && startsWord(s[i+1:]) {
					t.markAt = int32(i + 1)
				}
			}
		case f.cls == clsDrop && !open:
			// invisible characters between words belong to neither
		case f.steps&StepRegional != 0:
			// A regional indicator is a letter of its own: flags pair them
			// on screen whatever the word.
			if open {
				t.keepTail = true
				t.closeOpen(plain, atomStart, i)
				t.keepTail, open = false, false
			}
			t.openAtom(i, i)
			t.chars = append(t.chars, char{f: f, start: int32(i), end: int32(i + size)})
			t.closeAtom()
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

// censorSymbol marks the symbols that hide letters ("f*ck", "f#%k"); '#'
// also starts a hashtag.
var censorSymbol = [utf8.RuneSelf]bool{'*': true, '#': true, '%': true}

func utf8RuneAt(s string, i int) rune {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r
}

// startsWord reports whether s starts with a letter or digit.
func startsWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	f := lookupFold(r)
	return f.cls == clsLetter || f.cls == clsDigit
}

// closedLater reports whether the bracket open is closed further on.
func closedLater(s string, open rune) bool {
	if open == '(' {
		return strings.IndexByte(s, ')') >= 0
	}
	return strings.IndexByte(s, '>') >= 0
}

// plainLetter marks the ASCII letters that fold to one ASCII letter with no
// step but case: the letters of plainWord.
var plainLetter [utf8.RuneSelf]bool

// openAtom starts an atom at start whose plain letters up to i were not
// stored yet.
func (t *Text) openAtom(start, i int) {
	t.atoms = append(t.atoms, atom{c0: int32(len(t.chars)), start: int32(start)})
	for j := start; j < i; j++ {
		t.chars = append(t.chars, char{f: asciiFold[t.cur[j]], start: int32(j), end: int32(j + 1)})
	}
}

// closeOpen ends the atom that is open at end.
func (t *Text) closeOpen(plain bool, start, end int) {
	switch {
	case !plain:
		t.closeAtom()
	case end-start == 1 || len(t.atoms) > 0 && t.atoms[len(t.atoms)-1].end == int32(start) ||
		end < len(t.cur) && lookupFold(utf8RuneAt(t.cur, end)).steps&StepRegional != 0:
		// One letter, maybe part of "f u c k"; or letters right next to a
		// regional indicator, which belong to its word.
		t.openAtom(start, end)
		t.closeAtom()
	default:
		// A word of two letters or more ends any run of single letters, so
		// the atoms before it are grouped now and the word follows them.
		t.group()
		t.atoms, t.chars = t.atoms[:0], t.chars[:0]
		t.plainBytes(start, end)
	}
}

// plainBytes adds cur[start:end], plain ASCII letters, as one word. Its
// units get no spans: each unit's bytes follow from the runs.
func (t *Text) plainBytes(start, end int) {
	w := word{start: int32(start), end: int32(end), k0: int32(len(t.keys)), r0: int32(len(t.runs)),
		c0: int32(len(t.cuts)), flags: wordPlain}
	if int32(start) == t.markAt {
		w.flags |= wordHashtag
		w.steps |= StepCompound
	}
	var prev byte
	lower, upperRun := false, 0
	for i := start; i < end; i++ {
		c := t.cur[i]
		f := &asciiFold[c]
		w.steps |= f.steps
		// camelCase and PascalCase: a capital after a small letter starts a
		// word, and so does the last capital of a run before a small letter
		// ("HTMLParser").
		if f.upper {
			if lower && i > start {
				t.cutBefore(&w, f.out[:1], []byte{prev})
			}
			upperRun++
			lower = false
		} else {
			if upperRun >= 2 && w.n > 1 {
				t.cutAt(&w, w.n-1)
			}
			upperRun, lower = 0, true
		}
		u := f.out[0]
		if u == 'l' {
			u = 'i' // as in unit
		}
		if u == prev {
			if r := &t.runs[len(t.runs)-1]; *r < 255 {
				*r++
			}
			if u == 'v' && t.runs[len(t.runs)-1] == 2 {
				t.keys[len(t.keys)-1], t.runs[len(t.runs)-1], prev = 'w', 1, 'w' // "vv" reads as "w"
				w.steps |= StepLeetspeak
			}
			continue
		}
		if u == 'h' && prev == 'p' && t.runs[len(t.runs)-1] == 1 {
			t.keys[len(t.keys)-1], prev = 'f', 'f' // "ph" reads as "f"
			w.steps |= StepLeetspeak
			continue
		}
		t.keys = append(t.keys, u)
		t.runs = append(t.runs, 1)
		w.n++
		prev = u
	}
	t.finishWord(&w)
	t.words = append(t.words, w)
}

// cutBefore records that a new word starts with the letter u, about to be
// added to w after the letter prev: inside the last unit when they are the
// same letter ("lipsSabin").
func (t *Text) cutBefore(w *word, u, prev []byte) {
	if len(u) == 1 && u[0] == 'l' {
		u = []byte{'i'}
	}
	if string(u) == string(prev) && w.n > 0 {
		t.cutAt(w, w.n)
		if w.nc > 0 && t.cuts[len(t.cuts)-1].unit == w.n {
			t.cuts[len(t.cuts)-1].shared = true
		}
		return
	}
	t.cutAt(w, w.n)
}

// cutAt records that a new word may start at unit u of w.
func (t *Text) cutAt(w *word, u int32) {
	if u <= 0 || (w.nc > 0 && t.cuts[len(t.cuts)-1].unit >= u) {
		return
	}
	t.cuts = append(t.cuts, cut{unit: u})
	w.nc++
}

// finishWord hashes a word's key and closes it.
func (t *Text) finishWord(w *word) {
	w.k1 = int32(len(t.keys))
	key := t.keys[w.k0:w.k1]
	w.hash = keyHash(key)
	if w.flags&wordPlain != 0 {
		w.fp = w.hash
	} else {
		w.fp = numberFoldedHash(key)
	}
	for w.nc > 0 && t.cuts[w.c0+w.nc-1].unit >= w.n && !t.cuts[w.c0+w.nc-1].shared {
		w.nc-- // a cut at the end is none
		t.cuts = t.cuts[:w.c0+w.nc]
	}
	if w.numFrom == 0 {
		w.numFrom = w.n
	}
	t.keys = append(t.keys, 0)
	w.x0, w.x1 = int32(len(t.extra)), int32(len(t.extra))
}

// closeAtom ends the last atom, trimming punctuation-like symbols from its
// edges ("wow!!!") unless it is a lone character, which may be one letter
// of a split word ("s.h.!.t"). The symbols trimmed nearest the word are kept
// as letters it may have after all.
func (t *Text) closeAtom() {
	a := &t.atoms[len(t.atoms)-1]
	c0, c1 := a.c0, int32(len(t.chars))
	visible := int32(0)
	for _, c := range t.chars[c0:c1] {
		if c.f.cls != clsDrop {
			visible++
		}
	}
	adjacent := len(t.atoms) >= 2 && t.atoms[len(t.atoms)-2].end == t.chars[c0].start
	if visible > 1 {
		start := c0
		for !adjacent && c0 < c1 && (t.chars[c0].f.trim || t.chars[c0].f.cls == clsDrop) {
			c0++
		}
		for k := c0 - 1; k >= start && a.edges.nHead < 3; k-- {
			if c := t.chars[k]; c.f.cls != clsDrop {
				a.edges.head[a.edges.nHead], a.edges.headStart[a.edges.nHead] = c.f.leet, c.start
				a.edges.nHead++
			}
		}
		end := c1
		for !t.keepTail && c1 > c0 && t.chars[c1-1].f.trim {
			c1--
		}
		for k := c1; k < end && a.edges.nTail < 3; k++ {
			a.edges.tail[a.edges.nTail], a.edges.tailEnd[a.edges.nTail] = t.chars[k].f.leet, t.chars[k].end
			a.edges.nTail++
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
	if a.start == t.markAt {
		a.flags |= wordHashtag
	}
	if t.chars[c0].f.cls == clsSym && t.chars[c0].f.leet == 'a' && t.cur[a.start] == '@' && visible > 2 {
		a.flags |= wordHandle
	}
}

// addWord folds atoms [a0, a1) into one word; wide marks the atoms that
// follow a wider gap than the others of the run.
func (t *Text) addWord(a0, a1 int, wide []bool) {
	first, last := &t.atoms[a0], &t.atoms[a1-1]
	w := word{start: first.start, end: last.end, k0: int32(len(t.keys)), r0: int32(len(t.runs)), s0: int32(len(t.spans)),
		c0: int32(len(t.cuts)), flags: first.flags}
	joined := false
	for k := a0 + 1; k < a1; k++ {
		if t.atoms[k-1].end != t.atoms[k].start {
			joined = true
		}
	}
	if joined {
		w.steps |= StepSeparators
		w.flags |= wordJoined
		w.flags &^= wordHandle
	} else {
		w.edges = first.edges
		w.edges.tail, w.edges.nTail, w.edges.tailEnd = last.edges.tail, last.edges.nTail, last.edges.tailEnd
	}
	if w.flags&(wordHashtag|wordHandle) != 0 {
		w.steps |= StepCompound
	}
	if a1-a0 == 1 && t.plainWord(first) {
		t.words[len(t.words)-1].edges = first.edges
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
	// In a hashtag or handle, digits at the end may be a number
	// ("@dickhead99") rather than leetspeak ("@nu5").
	digitsFrom := int32(-1)
	if w.flags&(wordHashtag|wordHandle) != 0 {
		for c := last.c1 - 1; c >= first.c0 && t.chars[c].f.cls == clsDigit; c-- {
			digitsFrom = c
		}
	}
	var prev [4]byte
	prevN := 0
	lower, upperRun := false, 0
	regional := false
	for ai, a := range t.atoms[a0:a1] {
		if ai > 0 && wide[ai] {
			t.cutAt(&w, w.n)
		}
		for ci, c := range t.chars[a.c0:a.c1] {
			w.steps |= c.f.steps
			var unit []byte
			switch c.f.cls {
			case clsDrop:
				if len(t.spans) > int(w.s0) {
					t.spans[len(t.spans)-1][1] = c.end // marks belong to their letter
				}
				continue
			case clsLetter:
				if w.n > 0 && regional != (c.f.steps&StepRegional != 0) {
					t.cutAt(&w, w.n) // letters of a flag emoji after others, or the other way round
				}
				regional = c.f.steps&StepRegional != 0
				cutHere := false
				if !joined { // the case of letters split one by one says nothing
					if c.f.upper {
						cutHere = lower
						upperRun++
						lower = false
					} else {
						if upperRun >= 2 && w.n > 1 {
							t.cutAt(&w, w.n-1)
						}
						upperRun, lower = 0, true
					}
				}
				out := c.f.out[:c.f.n]
				if cutHere {
					t.cutBefore(&w, out[:unitLen(out)], prev[:prevN])
				}
				for len(out) > 0 {
					n := unitLen(out)
					prevN = t.unit(&w, out[:n], &prev, prevN, c)
					out = out[n:]
				}
				continue
			case clsDigit:
				unit = c.f.out[:1]
				if a.c0+int32(ci) == digitsFrom && w.numFrom == 0 {
					w.numFrom = w.n
				}
				if leetOn && c.f.leet != 0 {
					unit = []byte{c.f.leet}
					w.steps |= StepLeetspeak
				}
			case clsSym:
				unit = []byte{c.f.leet}
				w.steps |= StepLeetspeak
				if c.end-c.start == 1 && grawlix[t.cur[c.start]] {
					w.flags |= wordGrawlix
				}
			}
			prevN = t.unit(&w, unit, &prev, prevN, c)
		}
	}
	t.finishWord(&w)
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
	mark := t.markAt
	if a.flags&wordHashtag != 0 {
		t.markAt = a.start
	}
	t.plainBytes(int(a.start), int(a.end))
	t.markAt = mark
	return true
}

// unit adds one folded letter to the word being built, collapsing repeats.
func (t *Text) unit(w *word, u []byte, prev *[4]byte, prevN int, c char) int {
	if len(u) == 1 && u[0] == 'l' {
		u = []byte{'i'} // "l", "I", "1" and "|" look alike: one letter for matching
	}
	if prevN == len(u) && string(prev[:prevN]) == string(u) {
		last := len(t.runs) - 1
		if t.runs[last] < 255 {
			t.runs[last]++
		}
		t.spans[len(t.spans)-1][1] = c.end
		if u[0] == 'v' && len(u) == 1 && t.runs[last] == 2 {
			t.keys[len(t.keys)-1], t.runs[last], prev[0] = 'w', 1, 'w' // "vv" reads as "w"
			w.steps |= StepLeetspeak
		}
		return prevN
	}
	if len(u) == 1 && u[0] == 'h' && prevN == 1 && prev[0] == 'p' && t.runs[len(t.runs)-1] == 1 {
		t.keys[len(t.keys)-1], prev[0] = 'f', 'f' // "ph" reads as "f"
		t.spans[len(t.spans)-1][1] = c.end
		w.steps |= StepLeetspeak
		return 1
	}
	t.keys = append(t.keys, u...)
	t.runs = append(t.runs, 1)
	t.spans = append(t.spans, [2]int32{c.start, c.end})
	w.n++
	copy(prev[:], u)
	return len(u)
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

// unitSpan returns the bytes of src that units [u0, u1) of w came from.
func (t *Text) unitSpan(w *word, u0, u1 int32) (start, end int32) {
	if w.flags&wordPlain == 0 {
		return t.spans[w.s0+u0][0], t.spans[w.s0+u1-1][1]
	}
	return t.plainUnitStart(w, u0), t.plainUnitStart(w, u1)
}

// plainUnitStart replays plainBytes over a plain word and returns where
// its unit u starts (its end for u = w.n).
func (t *Text) plainUnitStart(w *word, u int32) int32 {
	unit, prev, run := int32(-1), byte(0), 0
	for i := w.start; i < w.end; i++ {
		c := asciiFold[t.cur[i]].out[0]
		if c == 'l' {
			c = 'i'
		}
		switch {
		case c == prev:
			if run++; prev == 'v' && run == 2 {
				prev, run = 'w', 1
			}
			continue
		case c == 'h' && prev == 'p' && run == 1:
			prev = 'f'
			continue
		}
		if unit++; unit == u {
			return i
		}
		prev, run = c, 1
	}
	return w.end
}
