package rules

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cloudflare/ahocorasick"
)

// Term is one entry of a word list as a moderator wrote it, with the name of
// the list it came from ("" for a term written in the rule itself).
type Term struct {
	Text string
	List string
}

// Match is one place where a term was found.
type Match struct {
	Start, End int    // bytes of the source text that formed the match, disguises included; -1 for another field
	Term       string // the term as written in its list; for another field, the entry, network or pattern it met
	List       string // the list's name; "" for a term written in the rule
	Steps      Steps  // the foldings the text needed to match
	Value      string // for a test on another field than the text: the value that met it (a link's domain, a role)
}

// Matcher finds the terms of word lists in analysed texts. Whole words and
// phrases are looked up directly by their folded key, so memory stays small
// for long lists; terms with a `*` at either end go through an Aho-Corasick
// automaton over the folded words. A Matcher is immutable and safe for
// concurrent use.
type Matcher struct {
	words   map[string][]wordTerm   // single words and phrases written together
	phrases map[string][]phraseTerm // by the key of their first word
	bloom   keyFilter               // every key of words and phrases: most words of a text are in neither
	partial *ahocorasick.Matcher    // prefix, suffix and infix terms
	grams   gramFilter              // the partial terms' first bytes: most texts have none
	parts   [][]partTerm            // by automaton index
	size    int

	expanded      map[int][]expandedTerm // whole-word terms spelled out, by length: for hidden letters
	allowCensored bool                   // words with hidden letters are let through
}

// MatcherOptions change how a Matcher reads texts.
type MatcherOptions struct {
	// AllowCensored lets words through whose letters are already hidden by
	// symbols ("f*ck"): a community may take them as censored enough.
	AllowCensored bool
}

// expandedTerm is a whole-word term with its repeated letters written out.
type expandedTerm struct {
	key  string
	term *Term
}

type wordTerm struct {
	term *Term
	runs []uint8
}

type phraseTerm struct {
	term  *Term
	words []termWord
}

type termWord struct {
	key  string
	runs []uint8
}

type partKind uint8

const (
	partPrefix partKind = iota + 1 // "word*": words that start with it
	partSuffix                     // "*word": words that end with it
	partInfix                      // "*word*": words that contain it
)

type partTerm struct {
	term *Term
	kind partKind
	word termWord
}

// List limits. A rules file that goes past them is refused.
const (
	MaxTermLength = 200
	MaxTermWords  = 8
)

// ErrEmptyTerm is returned for a term without letters or digits.
var ErrEmptyTerm = errors.New("has no letters or digits")

// NewMatcher compiles terms. Each term goes through the same folding as the
// texts it is matched against, so moderators write plain words.
func NewMatcher(terms []Term) (*Matcher, error) {
	return NewMatcherWith(terms, MatcherOptions{})
}

// NewMatcherWith compiles terms with options.
func NewMatcherWith(terms []Term, opts MatcherOptions) (*Matcher, error) {
	m := &Matcher{words: map[string][]wordTerm{}, phrases: map[string][]phraseTerm{},
		expanded: map[int][]expandedTerm{}, allowCensored: opts.AllowCensored}
	var patterns []string
	index := map[string]int{}
	var errs []error
	for i := range terms {
		term := &terms[i]
		if err := m.add(term, &patterns, index); err != nil {
			errs = append(errs, fmt.Errorf("term %q: %w", term.Text, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(patterns) > 0 {
		m.partial = ahocorasick.NewStringMatcher(patterns)
	}
	m.size = len(terms)
	return m, nil
}

// Len is the number of terms compiled.
func (m *Matcher) Len() int { return m.size }

// parsedTerm is a term folded into words, with its wildcard.
type parsedTerm struct {
	kind  partKind
	words []termWord
}

// parseTerm folds a term the way texts are folded.
func parseTerm(text string) (parsedTerm, error) {
	raw := strings.TrimSpace(text)
	if len(raw) > MaxTermLength {
		return parsedTerm{}, fmt.Errorf("longer than %d bytes", MaxTermLength)
	}
	var kind partKind
	if strings.HasPrefix(raw, "*") {
		kind = partSuffix
		raw = raw[1:]
	}
	if strings.HasSuffix(raw, "*") {
		if kind == partSuffix {
			kind = partInfix
		} else {
			kind = partPrefix
		}
		raw = raw[:len(raw)-1]
	}
	if strings.Contains(raw, "*") {
		return parsedTerm{}, errors.New("`*` may stand only at the start or end of a term")
	}
	t := Analyze(raw)
	defer t.Release()
	n := len(t.words)
	switch {
	case n == 0:
		return parsedTerm{}, ErrEmptyTerm
	case n > MaxTermWords:
		return parsedTerm{}, fmt.Errorf("has more than %d words", MaxTermWords)
	case kind != 0 && n > 1:
		return parsedTerm{}, errors.New("`*` applies to single words; write phrases in full")
	}
	words := make([]termWord, n)
	for i := range t.words {
		words[i] = t.termWord(&t.words[i])
	}
	return parsedTerm{kind: kind, words: words}, nil
}

func (m *Matcher) add(term *Term, patterns *[]string, index map[string]int) error {
	pt, err := parseTerm(term.Text)
	if err != nil {
		return err
	}
	kind, words, n := pt.kind, pt.words, len(pt.words)
	if kind != 0 {
		pattern := words[0].key
		switch kind {
		case partPrefix:
			pattern = "\x00" + pattern
		case partSuffix:
			pattern += "\x00"
		}
		at, ok := index[pattern]
		if !ok {
			at = len(*patterns)
			index[pattern] = at
			*patterns = append(*patterns, pattern)
			m.parts = append(m.parts, nil)
		}
		m.parts[at] = append(m.parts[at], partTerm{term: term, kind: kind, word: words[0]})
		m.grams.add(words[0].key)
		return nil
	}
	if n == 1 {
		m.words[words[0].key] = append(m.words[words[0].key], wordTerm{term: term, runs: words[0].runs})
		m.bloom.add(words[0].key)
		m.addExpanded(term)
		return nil
	}
	m.phrases[words[0].key] = append(m.phrases[words[0].key], phraseTerm{term: term, words: words})
	m.bloom.add(words[0].key)
	// A phrase also matches its words written together ("blow job", "blowjob").
	joined := joinWords(words)
	m.words[joined.key] = append(m.words[joined.key], wordTerm{term: term, runs: joined.runs})
	m.bloom.add(joined.key)
	m.addExpanded(term)
	return nil
}

// addExpanded indexes a whole-word term, spelled out in lower case with
// l read as i, for words with hidden letters.
func (m *Matcher) addExpanded(term *Term) {
	var b strings.Builder
	for _, r := range strings.ToLower(term.Text) {
		switch {
		case r == 'l':
			b.WriteByte('i')
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
		case r == ' ' || r == '-':
		default:
			return
		}
	}
	k := b.String()
	m.expanded[len(k)] = append(m.expanded[len(k)], expandedTerm{key: k, term: term})
}

func (t *Text) termWord(w *word) termWord {
	return termWord{
		key:  string(t.keys[w.k0:w.k1]),
		runs: append([]uint8(nil), t.runs[w.r0:w.r0+w.n]...),
	}
}

// joinWords writes the words of a phrase as one word, merging a repeat that
// spans the join.
func joinWords(words []termWord) termWord {
	var key strings.Builder
	var runs []uint8
	lastUnit := ""
	for _, w := range words {
		units := splitUnits(w.key)
		for i, u := range units {
			if u == lastUnit && i == 0 {
				runs[len(runs)-1] += w.runs[i]
				continue
			}
			key.WriteString(u)
			runs = append(runs, w.runs[i])
			lastUnit = u
		}
	}
	return termWord{key: key.String(), runs: runs}
}

func splitUnits(key string) []string {
	var units []string
	for i, r := range key {
		units = append(units, key[i:i+utf8.RuneLen(r)])
	}
	return units
}

// Match appends to dst every place in t where a term of m occurs and returns
// the extended slice. Matches come in the order of the text for whole words
// and phrases, followed by the other readings of the text (bidi overrides,
// hidden letters) and partial-word terms.
func (m *Matcher) Match(t *Text, dst []Match) []Match {
	for i := range t.words {
		w := &t.words[i]
		key := t.keys[w.k0:w.k1]
		dst = m.matchWord(t, w, dst)
		if !m.bloom.mayHaveHash(w.hash) {
			continue
		}
		if phrases, ok := m.phrases[string(key)]; ok {
			for _, p := range phrases {
				if end, steps, ok := t.phraseAt(i, p.words); ok {
					dst = append(dst, Match{Start: int(w.start), End: int(t.words[end].end), Term: p.term.Text,
						List: p.term.List, Steps: steps})
				}
			}
		}
	}
	for i := range t.extra {
		if w := &t.extra[i]; w.flags&wordReading != 0 {
			before := len(dst)
			found := m.matchWord(t, w, dst)
			dst = dst[:before]
			for _, f := range found[before:] {
				if !sameMatch(dst[:before], f) {
					dst = append(dst, f)
				}
			}
		}
	}
	if m.partial == nil || !m.grams.mayMatch(t.keys) {
		return dst
	}
	for _, at := range m.partial.MatchThreadSafe(t.keys) {
		for _, pt := range m.parts[at] {
			dst = t.matchPart(pt, dst)
		}
	}
	return dst
}

func sameMatch(found []Match, m Match) bool {
	for _, f := range found {
		if f.Start == m.Start && f.End == m.End && f.Term == m.Term {
			return true
		}
	}
	return false
}

// matchWord looks a word up, and when it is no listed word as it stands,
// tries its other readings: a symbol at its edge read otherwise, the words
// a reader sees inside it, its split into words, hidden letters.
func (m *Matcher) matchWord(t *Text, w *word, dst []Match) []Match {
	key := t.keys[w.k0:w.k1]
	runs := t.runs[w.r0 : w.r0+w.n]
	before := len(dst)
	if w.flags&wordCensored == 0 {
		dst = m.lookup(w, key, runs, w.hash, false, false, dst)
	}
	if len(dst) > before || (w.edges.nHead == 0 && w.edges.nTail == 0 && w.nc == 0 && w.x1 == w.x0 &&
		w.flags&(wordJoined|wordHashtag|wordHandle|wordCensored|wordGrawlix) == 0) {
		return dst
	}
	if w.edges.nHead > 0 || w.edges.nTail > 0 {
		if dst = m.matchEdges(w, key, runs, dst); len(dst) > before {
			return dst
		}
	}
	for i := w.x0; i < w.x1; i++ {
		if dst = m.matchWord(t, &t.extra[i], dst); len(dst) > before {
			return dst
		}
	}
	if w.nc > 0 {
		if dst = m.matchCuts(t, w, dst); len(dst) > before {
			return dst
		}
	}
	switch {
	case w.flags&wordJoined != 0:
		dst = m.matchSplit(t, w, 0, w.n, nil, 0, dst)
	case w.flags&(wordHashtag|wordHandle) != 0:
		dst = m.matchCompound(t, w, dst)
	}
	if len(dst) == before && w.flags&(wordCensored|wordGrawlix) != 0 && !m.allowCensored {
		dst = m.matchCensored(t, w, dst)
	}
	return dst
}

// matchCuts looks up the words a reader sees inside w: between its cuts
// (camelCase, wider gaps, flag emoji after letters). In a word joined from
// single characters, runs of neighbouring pieces are words too ("d-o-g-g-y
// s-t-y-l-e" holds "doggy style").
func (m *Matcher) matchCuts(t *Text, w *word, dst []Match) []Match {
	key := t.keys[w.k0:w.k1]
	if len(key) != int(w.n) {
		return dst // letters of other scripts: units are not bytes
	}
	var steps Steps
	if w.flags&wordJoined == 0 {
		steps = StepCompound
	}
	cuts := t.cuts[w.c0 : w.c0+w.nc]
	// bounds of piece p: [from(p), to(p)); a shared unit belongs to both.
	from := func(p int) (int32, bool) {
		if p == 0 {
			return 0, false
		}
		c := cuts[p-1]
		if c.shared {
			return c.unit - 1, true
		}
		return c.unit, false
	}
	to := func(p int) (int32, bool) {
		if p == len(cuts) {
			return w.n, false
		}
		return cuts[p].unit, cuts[p].shared
	}
	span := 1
	if w.flags&wordJoined != 0 {
		span = 12
	}
	for a := 0; a <= len(cuts); a++ {
		for b := a; b <= len(cuts) && b < a+span; b++ {
			if a == 0 && b == len(cuts) {
				continue // the whole word
			}
			u0, openStart := from(a)
			u1, openEnd := to(b)
			if u1-u0 < 2 {
				continue
			}
			part := key[u0:u1]
			before := len(dst)
			dst = m.lookup(w, part, t.runs[w.r0+u0:w.r0+u1], keyHash(part), openStart, openEnd, dst)
			if len(dst) > before {
				start, end := t.unitSpan(w, u0, u1)
				for k := before; k < len(dst); k++ {
					dst[k].Start, dst[k].End = int(start), int(end)
					dst[k].Steps |= steps
				}
			} else if a == b && w.flags&(wordHashtag|wordHandle) != 0 {
				if w.flags&wordHandle != 0 && u0 == 0 {
					u0 = 1 // the '@'
				}
				dst = m.matchSplit(t, w, u0, min(u1, w.numFrom), loadedEnglish(), StepCompound, dst)
			}
		}
	}
	return dst
}

func loadedEnglish() *dictionary {
	englishOnce.Do(loadEnglish)
	return &english
}

// lookup looks key, whose keyHash is h, up; where the word goes on past the
// key (open ends), the letter at that edge may repeat more often than in
// the term.
func (m *Matcher) lookup(w *word, key []byte, runs []uint8, h uint32, openStart, openEnd bool, dst []Match) []Match {
	if !m.bloom.mayHaveHash(h) {
		return dst
	}
	terms, ok := m.words[string(key)]
	if !ok {
		return dst
	}
	for _, wt := range terms {
		if stretched, ok := partRuns(wt.runs, runs, openStart, openEnd); ok {
			dst = append(dst, Match{Start: int(w.start), End: int(w.end), Term: wt.term.Text,
				List: wt.term.List, Steps: w.steps | stretched})
		}
	}
	return dst
}

// matchEdges tries a word with symbols trimmed from its edges read as
// letters: "p@k!" is "paki" and "+!†+y" is "titty", while "fuck!!!"
// already matched without them.
func (m *Matcher) matchEdges(w *word, key []byte, runs []uint8, dst []Match) []Match {
	var kb [72]byte
	var rb [72]uint8
	if len(key)+6 > len(kb) {
		return dst
	}
	e := &w.edges
	for h := int8(0); h <= e.nHead; h++ {
		for k := int8(0); k <= e.nTail; k++ {
			if h == 0 && k == 0 {
				continue
			}
			ks, rs := kb[:0], rb[:0]
			add := func(u byte, n uint8) {
				if u == 'l' {
					u = 'i'
				}
				if len(ks) > 0 && ks[len(ks)-1] == u && u < utf8.RuneSelf {
					rs[len(rs)-1] += n
					return
				}
				ks, rs = append(ks, u), append(rs, n)
			}
			for x := h - 1; x >= 0; x-- {
				add(e.head[x], 1)
			}
			for i, u := 0, 0; i < len(key); u++ {
				n := unitLen(key[i:])
				if n == 1 {
					add(key[i], runs[u])
				} else {
					ks, rs = append(ks, key[i:i+n]...), append(rs, runs[u])
				}
				i += n
			}
			for x := range k {
				add(e.tail[x], 1)
			}
			before := len(dst)
			dst = m.lookup(w, ks, rs, keyHash(ks), false, false, dst)
			for i := before; i < len(dst); i++ {
				if h > 0 {
					dst[i].Start = int(e.headStart[h-1])
				}
				if k > 0 {
					dst[i].End = int(e.tailEnd[k-1])
				}
				dst[i].Steps |= StepLeetspeak
			}
			if len(dst) > before {
				return dst
			}
		}
	}
	return dst
}

// phraseAt checks whether the words of a phrase occur at word i.
func (t *Text) phraseAt(i int, words []termWord) (last int, steps Steps, ok bool) {
	if i+len(words) > len(t.words) {
		return 0, 0, false
	}
	for j, tw := range words {
		w := &t.words[i+j]
		if string(t.keys[w.k0:w.k1]) != tw.key {
			return 0, 0, false
		}
		stretched, ok := sameRuns(tw.runs, t.runs[w.r0:w.r0+w.n])
		if !ok {
			return 0, 0, false
		}
		steps |= w.steps | stretched
	}
	return i + len(words) - 1, steps, true
}

// matchPart finds the words that a prefix, suffix or infix term matches.
// A word matched already is not reported again for a partial term: one
// word, one explanation.
func (t *Text) matchPart(pt partTerm, dst []Match) []Match {
	key, runs := pt.word.key, pt.word.runs
	for i := range t.words {
		w := &t.words[i]
		wk := t.keys[w.k0:w.k1]
		wr := t.runs[w.r0 : w.r0+w.n]
		if spanned(dst, int(w.start), int(w.end)) {
			continue
		}
		for off := 0; off+len(key) <= len(wk); off++ {
			if string(wk[off:off+len(key)]) != key {
				continue
			}
			if (pt.kind == partPrefix && off != 0) || (pt.kind == partSuffix && off+len(key) != len(wk)) {
				continue
			}
			u := unitIndex(wk, off)
			stretched, ok := partRuns(runs, wr[u:u+len(runs)], u > 0, u+len(runs) < len(wr))
			if ok {
				dst = append(dst, Match{Start: int(w.start), End: int(w.end), Term: pt.term.Text,
					List: pt.term.List, Steps: w.steps | stretched})
				break
			}
		}
	}
	return dst
}

func spanned(found []Match, start, end int) bool {
	for _, m := range found {
		if m.Start == start && m.End == end {
			return true
		}
	}
	return false
}

// unitIndex converts a byte offset of a key into the index of its unit.
func unitIndex(key []byte, off int) int {
	u := 0
	for i := 0; i < off; {
		n := 1
		if key[i] >= 0x80 {
			for n < 4 && i+n < len(key) && key[i+n]&0xC0 == 0x80 {
				n++
			}
		}
		i += n
		u++
	}
	return u
}

// sameRuns compares the repeat counts of a term's letters with a word's.
// A letter matches when it is repeated as often as in the term, or when it
// is stretched to three or more: "fuuuck" is "fuck" and "asss" is "ass", but
// "as" is not "ass" and "but" is not "butt".
func sameRuns(term, text []uint8) (Steps, bool) {
	var steps Steps
	for i, n := range term {
		x := text[i]
		switch {
		case x == n:
		case x >= 3 && x > n:
			steps = StepStretch
		default:
			return 0, false
		}
	}
	return steps, true
}

// partRuns is sameRuns for a term that is part of a word: where the word
// goes on past the term, the letter at the edge may repeat more often than
// in the term ("ass*" matches "assess").
func partRuns(term, text []uint8, openStart, openEnd bool) (Steps, bool) {
	var steps Steps
	last := len(term) - 1
	for i, n := range term {
		x := text[i]
		switch {
		case x == n:
		case x > n && ((i == 0 && openStart) || (i == last && openEnd)):
		case x >= 3 && x > n:
			steps = StepStretch
		default:
			return 0, false
		}
	}
	return steps, true
}

// keyFilter is a one-hash Bloom filter over folded keys: a cheap "surely
// not" before a map lookup, for the many words of a message that are in no
// list. 64 Kibit hold a few thousand keys with few false hits; beyond that
// it still only costs a lookup that would have happened anyway.
type keyFilter [1024]uint64

func keyHash(key []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range key {
		h = (h ^ uint32(c)) * 16777619
	}
	return h ^ h>>16
}

func (f *keyFilter) add(key string) {
	h := keyHash([]byte(key)) & 0xFFFF
	f[h>>6] |= 1 << (h & 63)
}

// mayHaveHash reports whether a key with keyHash h may have been added.
func (f *keyFilter) mayHaveHash(h uint32) bool {
	h &= 0xFFFF
	return f[h>>6]&(1<<(h&63)) != 0
}

// gramFilter is a cheap "surely not" before the partial-term automaton,
// whose nodes are large and scattered: a text holds a partial term only if
// it holds that term's first four bytes (three for a term of three, such as
// "jiz", the key of "jizz"). Those of every term are kept exactly, behind
// small bit sets of their hashes that stay in cache.
type gramFilter struct {
	bits  [2][64]uint64 // 4096 bits each, for three and four bytes
	grams [2][]uint32
	off   bool // a term shorter than three bytes, or too many terms: every text goes to the automaton
}

// maxGrams is the most first-byte sequences the filter keeps; past it the
// bit sets fill up and the automaton is as quick.
const maxGrams = 128

func gramHash(g uint32) uint32 { return (g * 2654435761) >> 20 }

func (f *gramFilter) add(key string) {
	var b [4]byte
	n := copy(b[:], key)
	if n < 3 {
		f.off = true
		return
	}
	g, k := binary.LittleEndian.Uint32(b[:]), n-3
	if slices.Contains(f.grams[k], g) {
		return
	}
	f.grams[k] = append(f.grams[k], g)
	if len(f.grams[0])+len(f.grams[1]) > maxGrams {
		f.off = true
		return
	}
	h := gramHash(g)
	f.bits[k][h>>6] |= 1 << (h & 63)
}

// mayMatch reports whether keys hold the first bytes of a partial term.
func (f *gramFilter) mayMatch(keys []byte) bool {
	if f.off {
		return true
	}
	three, four := len(f.grams[0]) > 0, len(f.grams[1]) > 0
	for i := 0; i+3 <= len(keys); i++ {
		var g uint32
		if i+4 <= len(keys) {
			g = binary.LittleEndian.Uint32(keys[i:])
		} else {
			g = uint32(keys[i]) | uint32(keys[i+1])<<8 | uint32(keys[i+2])<<16
		}
		if four && i+4 <= len(keys) {
			if h := gramHash(g); f.bits[1][h>>6]&(1<<(h&63)) != 0 && slices.Contains(f.grams[1], g) {
				return true
			}
		}
		if three {
			g3 := g & 0xFFFFFF
			if h := gramHash(g3); f.bits[0][h>>6]&(1<<(h&63)) != 0 && slices.Contains(f.grams[0], g3) {
				return true
			}
		}
	}
	return false
}
