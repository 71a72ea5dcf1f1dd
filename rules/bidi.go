package rules

import (
	"unicode/utf8"
)

// Bidirectional controls.
const (
	bidiLRE = 0x202A
	bidiRLE = 0x202B
	bidiPDF = 0x202C
	bidiLRO = 0x202D
	bidiRLO = 0x202E
	bidiLRI = 0x2066
	bidiRLI = 0x2067
	bidiFSI = 0x2068
	bidiPDI = 0x2069
)

// readBidi adds the words a reader sees once the bidirectional controls
// are applied, where they differ from the words as stored: a term stored
// reversed inside a right-to-left override ("\u202Ekcuf\u202C" shows
// "fuck"), also for part of a word. Latin letters inside a right-to-left
// isolate or embedding keep their order on screen, but clients and
// notifications that ignore the controls show them otherwise, and
// disguises use them as if they reversed: a second reading reverses those
// too. The words as stored stay: a client that ignores the controls shows
// those. Spans point at the stored characters, so a mask stars what the
// reader sees.
func (t *Text) readBidi() {
	var buf []byte
	for _, naive := range [...]bool{false, true} {
		buf = t.visual(buf[:0], naive)
		if buf == nil {
			continue
		}
		t.cur = string(buf)
		n0, x0 := len(t.words), len(t.extra)
		t.chars, t.atoms = t.chars[:0], t.atoms[:0]
		t.scan()
		for i := n0; i < len(t.words); i++ {
			t.toSource(&t.words[i])
		}
		for i := x0; i < len(t.extra); i++ {
			t.toSource(&t.extra[i])
		}
		for i := n0; i < len(t.words); i++ {
			w := t.words[i]
			if t.sameAsWritten(&w, n0) {
				continue
			}
			w.flags |= wordReading
			w.steps |= StepReversed
			t.extra = append(t.extra, w)
		}
		t.words = t.words[:n0]
	}
	t.cur = t.src
	t.vmap = t.vmap[:0]
}

// sameAsWritten reports whether one of the first n words is w.
func (t *Text) sameAsWritten(w *word, n int) bool {
	key := t.keys[w.k0:w.k1]
	for i := range t.words[:n] {
		o := &t.words[i]
		if o.start == w.start && o.end == w.end && string(t.keys[o.k0:o.k1]) == string(key) {
			return true
		}
	}
	return false
}

// toSource turns the byte offsets of a word read from t.cur into offsets
// of src.
func (t *Text) toSource(w *word) {
	if w.flags&wordPlain != 0 {
		// Give it spans: its units' bytes no longer follow from the runs.
		s0 := int32(len(t.spans))
		for u := range w.n {
			t.spans = append(t.spans, [2]int32{t.plainUnitStart(w, u), t.plainUnitStart(w, u+1)})
		}
		w.s0 = s0
		w.flags &^= wordPlain
	}
	for u := range w.n {
		sp := &t.spans[w.s0+u]
		sp[0], sp[1] = t.srcSpan(sp[0], sp[1])
	}
	w.start, w.end = t.srcSpan(w.start, w.end)
	for k := range w.edges.nTail {
		_, w.edges.tailEnd[k] = t.srcSpan(w.edges.tailEnd[k]-1, w.edges.tailEnd[k])
	}
	for k := range w.edges.nHead {
		w.edges.headStart[k], _ = t.srcSpan(w.edges.headStart[k], w.edges.headStart[k]+1)
	}
}

// srcSpan returns the bytes of src that bytes [a, b) of t.cur come from.
func (t *Text) srcSpan(a, b int32) (int32, int32) {
	if a >= b {
		return t.vmap[a], t.vmap[a]
	}
	lo, hi := t.vmap[a], t.vmap[a]+1
	for _, v := range t.vmap[a+1 : b] {
		lo, hi = min(lo, v), max(hi, v+1)
	}
	return lo, hi
}

// visual writes the text in the order a reader sees it, without the
// controls, into buf, and fills t.vmap; nil when no control reorders
// anything. The levels follow the bidirectional algorithm for explicit
// controls with a left-to-right paragraph: a letter takes the level of its
// override, or else the next even level; each line is then reversed from
// its highest level down to the lowest odd one. With naive set, every
// right-to-left control, and a left-to-right isolate, overrides like
// U+202E.
func (t *Text) visual(buf []byte, naive bool) []byte {
	type entry struct {
		level    int8
		override int8 // 0 none, 'L', 'R'
		isolate  bool
	}
	var stack [64]entry
	depth := 0
	stack[0] = entry{}
	type item struct {
		r     rune
		at    int32
		level int8
	}
	var items []item
	s := t.src
	reordered := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		at := int32(i)
		i += size
		top := stack[depth]
		nextOdd, nextEven := (top.level+1)|1, (top.level+2)&^1
		push := func(e entry) {
			if depth < len(stack)-1 && e.level <= 125 {
				depth++
				stack[depth] = e
			}
		}
		switch r {
		case bidiRLO:
			push(entry{level: nextOdd, override: 'R'})
			continue
		case bidiLRO:
			push(entry{level: nextEven, override: 'L'})
			continue
		case bidiRLE:
			if naive {
				push(entry{level: nextOdd, override: 'R'})
			} else {
				push(entry{level: nextOdd})
			}
			continue
		case bidiLRE:
			push(entry{level: nextEven})
			continue
		case bidiRLI, bidiLRI, bidiFSI:
			switch {
			case naive:
				push(entry{level: nextOdd, override: 'R', isolate: true})
			case r == bidiRLI:
				push(entry{level: nextOdd, isolate: true})
			default:
				push(entry{level: nextEven, isolate: true})
			}
			continue
		case bidiPDF:
			if depth > 0 && !stack[depth].isolate {
				depth--
			}
			continue
		case bidiPDI:
			for depth > 0 && !stack[depth].isolate {
				depth--
			}
			if depth > 0 {
				depth--
			}
			continue
		case '\n', '\r', '\u2029':
			depth = 0
		}
		level := top.level
		switch {
		case top.override == 'R':
			level = top.level | 1
		case top.override == 'L':
		case level%2 == 1 && lookupFold(r).cls != clsSep:
			level++ // a left-to-right letter or digit in a right-to-left embedding
		}
		if level%2 == 1 {
			reordered = true
		}
		items = append(items, item{r: r, at: at, level: level})
	}
	if !reordered {
		return nil
	}
	// Reverse each line from the highest level down to the lowest odd one.
	for lo := 0; lo < len(items); {
		hi := lo
		for hi < len(items) && items[hi].r != '\n' {
			hi++
		}
		line := items[lo:hi]
		maxLevel := int8(0)
		for _, it := range line {
			maxLevel = max(maxLevel, it.level)
		}
		for lv := maxLevel; lv >= 1; lv-- {
			for a := 0; a < len(line); {
				if line[a].level < lv {
					a++
					continue
				}
				b := a
				for b < len(line) && line[b].level >= lv {
					b++
				}
				for x, y := a, b-1; x < y; x, y = x+1, y-1 {
					line[x], line[y] = line[y], line[x]
				}
				a = b
			}
		}
		lo = hi + 1
	}
	t.vmap = t.vmap[:0]
	for _, it := range items {
		n := len(buf)
		buf = utf8.AppendRune(buf, it.r)
		for k := range len(buf) - n {
			t.vmap = append(t.vmap, it.at+int32(k))
		}
	}
	return buf
}
