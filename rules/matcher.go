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
	m := &Matcher{words: map[string][]wordTerm{}, phrases: map[string][]phraseTerm{}}
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
		return nil
	}
	m.phrases[words[0].key] = append(m.phrases[words[0].key], phraseTerm{term: term, words: words})
	m.bloom.add(words[0].key)
	// A phrase also matches its words written together ("blow job", "blowjob").
	joined := joinWords(words)
	m.words[joined.key] = append(m.words[joined.key], wordTerm{term: term, runs: joined.runs})
	m.bloom.add(joined.key)
	return nil
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
// and phrases, followed by partial-word terms.
func (m *Matcher) Match(t *Text, dst []Match) []Match {
	for i := range t.words {
		w := &t.words[i]
		key := t.keys[w.k0:w.k1]
		runs := t.runs[w.r0 : w.r0+w.n]
		before := len(dst)
		dst = m.lookup(w, key, runs, w.hash, false, false, dst)
		if len(dst) == before && w.steps&StepSeparators != 0 {
			dst = m.matchJoinedParts(t, w, key, runs, dst)
		}
		if len(dst) == before && w.tail != 0 {
			dst = m.matchWithTail(w, key, runs, dst)
		}
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

// matchWithTail tries a word with its trailing symbol read as a letter:
// "p@k!" is "paki", while "fuck!" already matched without it.
func (m *Matcher) matchWithTail(w *word, key []byte, runs []uint8, dst []Match) []Match {
	var kb [64]byte
	var rb [64]uint8
	if len(key) >= len(kb) {
		return dst
	}
	k := append(kb[:0], key...)
	r := append(rb[:0], runs...)
	if last := len(k) - 1; last >= 0 && k[last] == w.tail {
		r[len(r)-1]++
	} else {
		k = append(k, w.tail)
		r = append(r, 1)
	}
	before := len(dst)
	dst = m.lookup(w, k, r, keyHash(k), false, false, dst)
	for i := before; i < len(dst); i++ {
		dst[i].End = int(w.tailEnd)
		dst[i].Steps |= StepLeetspeak
	}
	return dst
}

// minJoinedPart is the fewest letters a term found inside a longer joined
// word must have, unless it starts or ends that word.
const minJoinedPart = 3

// matchJoinedParts looks for terms inside a word that was joined from single
// characters, which holds more than the term when its neighbours are single
// characters too ("f u c k y o u", "i f u c k", a term written twice). Each
// part found is reported with the bytes of its own letters.
func (m *Matcher) matchJoinedParts(t *Text, w *word, key []byte, runs []uint8, dst []Match) []Match {
	var offs [65]int32 // byte offset of each unit in key, and of the end
	n := int(w.n)
	if n+1 > len(offs) {
		return dst
	}
	for i, u := 0, 0; u < n; u++ {
		offs[u] = int32(i)
		if key[i] >= utf8.RuneSelf {
			_, size := utf8.DecodeRune(key[i:])
			i += size
		} else {
			i++
		}
	}
	offs[n] = int32(len(key))
	spans := t.spans[w.s0 : w.s0+w.n]
	for u0 := 0; u0 < n; u0++ {
		for u1 := n; u1 > u0; u1-- {
			if (u1-u0 < minJoinedPart && u0 != 0 && u1 != n) || u1-u0 < 2 {
				continue
			}
			// Each letter of a joined word was its own character, so a
			// repeat at the edge of a part may hold a neighbour's letter
			// ("b a s t a r d D").
			before := len(dst)
			part := key[offs[u0]:offs[u1]]
			dst = m.lookup(w, part, runs[u0:u1], keyHash(part), true, true, dst)
			if len(dst) > before {
				for i := before; i < len(dst); i++ {
					dst[i].Start, dst[i].End = int(spans[u0][0]), int(spans[u1-1][1])
				}
				u0 = u1 - 1
				break
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
