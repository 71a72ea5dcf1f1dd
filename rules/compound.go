package rules

import (
	_ "embed"
	"strings"
	"sync"
	"unicode/utf8"
)

// englishWords is the dictionary that hashtags and handles are split with
// (wordlists/README.md says where it comes from).
//
//go:embed wordlists/english.txt
var englishWords string

// shortWords are the words of one or two letters a hashtag or handle is
// split into; the dictionary's other short entries are mostly
// abbreviations, which would split innocent words into odd pieces.
var shortWords = []string{"a", "i", "u", "am", "an", "as", "at", "be", "by", "do", "go", "he", "hi", "if", "in",
	"is", "it", "me", "my", "no", "of", "oh", "ok", "on", "or", "so", "to", "up", "us", "we", "ya", "yo", "ur"}

// dictionary is a set of folded keys, as hashes: an open-addressing table.
type dictionary struct {
	slots []uint64
}

var (
	english     dictionary
	englishOnce sync.Once
)

func loadEnglish() {
	words := strings.Split(englishWords, "\n")
	english.slots = make([]uint64, 1<<17)
	for len(english.slots) < 2*len(words) {
		english.slots = make([]uint64, 2*len(english.slots))
	}
	for _, w := range words {
		if len(w) >= 3 {
			english.add(w)
		}
	}
	for _, w := range shortWords {
		english.add(w)
	}
}

// wordKey folds a lower-case ASCII word as a text's plain word is folded,
// with its repeated letters written out.
func wordKey(w string, buf []byte) []byte {
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c == 'l':
			c = 'i'
		case c == 'h' && i > 0 && w[i-1] == 'p':
			buf[len(buf)-1] = 'f'
			continue
		case c == 'v' && i > 0 && w[i-1] == 'v':
			buf[len(buf)-1] = 'w'
			continue
		}
		buf = append(buf, c)
	}
	return buf
}

func dictHash(key []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range key {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h | 1 // 0 marks an empty slot
}

func (d *dictionary) add(w string) {
	var buf [64]byte
	if len(w) > len(buf) {
		return
	}
	h := dictHash(wordKey(w, buf[:0]))
	mask := uint64(len(d.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch d.slots[i] {
		case 0:
			d.slots[i] = h
			return
		case h:
			return
		}
	}
}

func (d *dictionary) has(key []byte) bool {
	h := dictHash(key)
	mask := uint64(len(d.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch d.slots[i] {
		case 0:
			return false
		case h:
			return true
		}
	}
}

// piece is one part of a split word.
type piece struct {
	u0, u1 int32
	term   *wordTerm
}

// maxSplit is the longest word, in letters, that is split into words.
const maxSplit = 64

// split cuts units [u0, u1) of w, its letters written out, into the fewest
// pieces, each a listed term, a word of lexicon or a number, preferring
// longer pieces and then pieces that are not terms; it appends the term
// pieces of the best split to dst. A word that cannot be split entirely
// gives none. Without a lexicon, a piece that is not a term must be one of
// the single-letter words (a, i, u): so a word joined from single
// characters may hold a term twice or after "i" ("s h i t s h i t",
// "i f u c k"), but a term inside a longer word is no piece of it.
func (m *Matcher) split(t *Text, w *word, u0, u1 int32, lexicon *dictionary, dst []piece) []piece {
	key := t.keys[w.k0:w.k1]
	if len(key) != int(w.n) {
		return dst // letters of other scripts: units are not bytes
	}
	var text [maxSplit]byte
	var unitOf [maxSplit + 1]int32
	n := int32(0)
	for u := u0; u < u1; u++ {
		for range t.runs[w.r0+u] {
			if int(n) == len(text) {
				return dst
			}
			text[n], unitOf[n] = key[u], u
			n++
		}
	}
	unitOf[n] = u1
	type best struct {
		pieces, terms int32
		sq            int32
		from          int32
		term          *wordTerm
		ok            bool
	}
	var b [maxSplit + 1]best
	b[0].ok = true
	var kb [maxSplit]byte
	var rb [maxSplit]uint8
	for i := int32(1); i <= n; i++ {
		for j := max(0, i-32); j < i; j++ {
			if !b[j].ok {
				continue
			}
			part := text[j:i]
			// The piece folded as a term is: repeats collapsed.
			k, r := kb[:0], rb[:0]
			for _, c := range part {
				if len(k) > 0 && k[len(k)-1] == c {
					if r[len(r)-1] < 255 {
						r[len(r)-1]++
					}
					continue
				}
				k, r = append(k, c), append(r, 1)
			}
			var wt *wordTerm
			if m.bloom.mayHaveHash(keyHash(k)) {
				terms := m.words[string(k)]
				for x := range terms {
					if _, ok := sameRuns(terms[x].runs, r); ok {
						wt = &terms[x]
						break
					}
				}
			}
			if wt == nil {
				switch {
				case isNumber(part):
				case lexicon == nil && j == 0 && len(part) == 1 && (part[0] == 'a' || part[0] == 'i' || part[0] == 'u'):
				case lexicon != nil && lexicon.has(part):
				default:
					continue
				}
			}
			c := best{pieces: b[j].pieces + 1, terms: b[j].terms, sq: b[j].sq + (i-j)*(i-j), from: j, term: wt, ok: true}
			if wt != nil {
				c.terms++
			}
			o := b[i]
			if !o.ok || c.pieces < o.pieces || c.pieces == o.pieces && (c.sq > o.sq || c.sq == o.sq && c.terms < o.terms) {
				b[i] = c
			}
		}
	}
	if !b[n].ok || b[n].terms == 0 {
		return dst
	}
	for i := n; i > 0; i = b[i].from {
		if b[i].term != nil {
			dst = append(dst, piece{u0: unitOf[b[i].from], u1: unitOf[i-1] + 1, term: b[i].term})
		}
	}
	return dst
}

func isNumber(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// matchSplit reports the term pieces of a split of units [u0, u1) of w.
func (m *Matcher) matchSplit(t *Text, w *word, u0, u1 int32, lexicon *dictionary, steps Steps, dst []Match) []Match {
	var buf [8]piece
	for _, p := range m.split(t, w, u0, u1, lexicon, buf[:0]) {
		start, end := t.unitSpan(w, p.u0, p.u1)
		dst = append(dst, Match{Start: int(start), End: int(end), Term: p.term.term.Text, List: p.term.term.List,
			Steps: w.steps | steps})
	}
	return dst
}

// matchCompound splits a hashtag or handle into words ("#fuckmondays",
// "@dickhead99"); a term inside a longer word ("#therapistlife",
// "@cockpitview") is not one of them.
func (m *Matcher) matchCompound(t *Text, w *word, dst []Match) []Match {
	englishOnce.Do(loadEnglish)
	u0 := int32(0)
	if w.flags&wordHandle != 0 {
		u0 = 1 // the '@'
	}
	if !utf8.Valid(t.keys[w.k0:w.k1]) {
		return dst
	}
	return m.matchSplit(t, w, u0, w.numFrom, &english, StepCompound, dst)
}
