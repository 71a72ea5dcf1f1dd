package rules

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// normalise returns the folded words of s, one a line: a word boundary that
// folding cannot move.
func normalise(s string) string {
	t := Analyze(s)
	defer t.Release()
	words := make([]string, 0, t.Words())
	for i := range t.words {
		words = append(words, t.expand(&t.words[i]))
	}
	return strings.Join(words, "\n\n") // a blank line ends every word
}

// FuzzNormaliseIdempotent: folding never panics, and folding the folded form
// changes nothing.
func FuzzNormaliseIdempotent(f *testing.F) {
	for _, s := range []string{"", "hello world", "Ｆ.U.U.U.C.K 5h1t", "f\u200bu\u0301ck", "s h i t", "p@k!", "ǅ ﬁ ß Ⓐ 𝐀",
		"🅵🆄🅲🅺 ꜱʜɪᴛ", "🇫 🇺🇨\u200b🇰", "f🔥u-c_k", "ph|_|(|<", "\u202ekcuf\u202c", "#FuckMondays @dick99", "f*ck sh!t",
		"!!! ... ---", "1 2 3", "привет мир", "日本語", "\xff\xfe", "a\u0300\u0301\u0302"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := normalise(s)
		if twice := normalise(once); twice != once {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, once, twice)
		}
	})
}

// disguises are the techniques users apply to a word to slip it past a
// filter; each takes the word and a source of choices.
var disguises = []func(w string, pick func(int) int) string{
	func(w string, pick func(int) int) string { // case
		var b strings.Builder
		for _, r := range w {
			if pick(2) == 0 {
				r = unicode.ToUpper(r)
			}
			b.WriteRune(r)
		}
		return b.String()
	},
	func(w string, pick func(int) int) string { // leetspeak
		sub := map[rune][]string{'a': {"4", "@"}, 'e': {"3"}, 'i': {"1", "!"}, 'o': {"0"}, 's': {"5", "$"}, 't': {"7"}}
		var b strings.Builder
		for i, r := range w {
			if alts, ok := sub[r]; ok && pick(10) < 7 {
				alt := alts[pick(len(alts))]
				if alt == "!" && (i == 0 || i == len(w)-1) {
					alt = "1" // an edge "!" reads as punctuation
				}
				b.WriteString(alt)
				continue
			}
			b.WriteRune(r)
		}
		return b.String()
	},
	func(w string, pick func(int) int) string { // stretch one letter
		i := pick(len(w))
		return w[:i] + strings.Repeat(w[i:i+1], 3+pick(4)) + w[i+1:]
	},
	func(w string, pick func(int) int) string { // separators
		sep := []string{".", " ", "-", "_", "*", "/"}[pick(6)]
		return strings.Join(strings.Split(w, ""), sep)
	},
	func(w string, pick func(int) int) string { // confusables
		sub := map[rune]rune{'a': 'а', 'c': 'с', 'e': 'е', 'o': 'о', 'p': 'р', 'x': 'х', 'y': 'у', 'i': 'і', 's': 'ѕ', 'u': 'υ', 'k': 'κ', 't': 'τ'}
		var b strings.Builder
		for _, r := range w {
			if c, ok := sub[r]; ok && pick(10) < 6 {
				r = c
			}
			b.WriteRune(r)
		}
		return b.String()
	},
	func(w string, _ func(int) int) string { // fullwidth
		var b strings.Builder
		for _, r := range w {
			b.WriteRune(r - 'a' + 'ａ')
		}
		return b.String()
	},
	func(w string, pick func(int) int) string { // zero width
		var b strings.Builder
		for i, r := range w {
			if i > 0 && pick(10) < 5 {
				b.WriteString([]string{"\u200b", "\u200d", "\u2060", "\u00ad"}[pick(4)])
			}
			b.WriteRune(r)
		}
		return b.String()
	},
	func(w string, pick func(int) int) string { // combining marks
		var b strings.Builder
		for _, r := range w {
			b.WriteRune(r)
			if pick(2) == 0 {
				b.WriteRune(rune(0x300 + pick(0x32)))
			}
		}
		return b.String()
	},
}

// Disguises of the next evaders, after the first ones.
func init() {
	disguises = append(disguises,
		func(w string, pick func(int) int) string { // styled letters without a compatibility form
			var b strings.Builder
			for _, r := range w {
				switch pick(3) {
				case 0:
					b.WriteRune(0x1F170 + r - 'a') // negative squared
				case 1:
					b.WriteRune(0x1F150 + r - 'a') // negative circled
				default:
					b.WriteRune(r)
				}
			}
			return b.String()
		},
		func(w string, pick func(int) int) string { // regional indicators
			var b strings.Builder
			for i, r := range w {
				if i > 0 {
					b.WriteString([]string{"", " ", "\u200b"}[pick(3)])
				}
				b.WriteRune(0x1F1E6 + r - 'a')
			}
			return b.String()
		},
		func(w string, pick func(int) int) string { // separators of several kinds
			seps := []string{".", "-", "_", "🔥", "~", "·", "  ", "\t", "/"}
			var b strings.Builder
			for i, r := range w {
				if i > 0 {
					b.WriteString(seps[pick(len(seps))])
				}
				b.WriteRune(r)
			}
			return b.String()
		},
		func(w string, pick func(int) int) string { // leetspeak sequences
			sub := map[rune][]string{'u': {"|_|", "(_)"}, 'k': {"|<"}, 'b': {"|3"}, 'w': {"\\/\\/", "vv"}, 'n': {"|\\|"},
				'h': {"|-|"}, 'd': {"|)"}, 'r': {"|2"}, 'f': {"ph"}, 'o': {"()"}}
			var b strings.Builder
			for i, r := range w {
				if alts, ok := sub[r]; ok && i > 0 && i < len(w)-1 && pick(10) < 7 {
					b.WriteString(alts[pick(len(alts))])
					continue
				}
				b.WriteRune(r)
			}
			return b.String()
		},
		func(w string, pick func(int) int) string { // reversed inside a bidi override
			r := []rune(w)
			slices.Reverse(r)
			return "\u202e" + string(r) + "\u202c"
		},
		func(w string, pick func(int) int) string { // more invisible characters
			inv := []string{"\u180e", "\ufeff", "\u034f", "\U000E0041", "\u3164", "\u2800", "\u2062", "\ufe0f"}
			var b strings.Builder
			for i, r := range w {
				if i > 0 && pick(2) == 0 {
					b.WriteString(inv[pick(len(inv))])
				}
				b.WriteRune(r)
			}
			return b.String()
		},
	)
}

// spreadDisguises are the disguises that may split a word into single
// characters, which join their single-character neighbours.
var spreadDisguises = map[int]bool{3: true, 9: true, 10: true}

var fuzzTerms = []string{"fuck", "shit", "bastard", "wank", "twat", "bollocks", "tosser", "cunt", "piss", "slut", "boobs", "jizz"}

// FuzzDisguisedTermIsFound: a listed term between word boundaries, under
// any single disguise, is always found.
func FuzzDisguisedTermIsFound(f *testing.F) {
	terms := make([]Term, len(fuzzTerms))
	for i, s := range fuzzTerms {
		terms[i] = Term{Text: s}
	}
	m, err := NewMatcher(terms)
	if err != nil {
		f.Fatal(err)
	}
	for i := range len(disguises) {
		f.Add(uint8(i), uint8(i), uint64(i)*7919, "well ", " then")
	}
	f.Fuzz(func(t *testing.T, termIdx, technique uint8, seed uint64, before, after string) {
		term := fuzzTerms[int(termIdx)%len(fuzzTerms)]
		x := seed | 1
		pick := func(n int) int {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			return int(x % uint64(n))
		}
		disguised := disguises[int(technique)%len(disguises)](term, pick)
		// Word boundaries: the surroundings end and start with a space. A
		// word split into single characters is one word with the single
		// characters around it ("0 f u c k 0" is "0fuck0"): a blank line
		// bounds it.
		if !utf8.ValidString(before) || !utf8.ValidString(after) {
			return
		}
		gap := " "
		if strings.Contains(disguised, " ") || spreadDisguises[int(technique)%len(disguises)] {
			gap = "\n\n"
		}
		text := before + gap + disguised + gap + after
		if strings.ContainsFunc(before+after, func(r rune) bool { return invisible(r) || r > 0x1F000 }) {
			return // invisible characters or regional indicators would join the word
		}
		if len(find(m, text)) == 0 {
			t.Fatalf("%q (%q disguised as %q) not found", text, term, disguised)
		}
	})
}

// analysed is everything an analysis leaves for matching.
type analysed struct {
	words                 []word
	keys                  []byte
	runs                  []uint8
	spans                 [][2]int32
	runes, letters, upper int32
	nonASCII              bool
}

// cloneOrNil copies s; empty is nil, whether the pooled Text was new or not.
func cloneOrNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func analyseBothWays(s string) (fast, general analysed) {
	take := func() analysed {
		t := Analyze(s)
		defer t.Release()
		return analysed{cloneOrNil(t.words), cloneOrNil(t.keys), cloneOrNil(t.runs), cloneOrNil(t.spans),
			t.runes, t.letters, t.upper, t.nonASCII}
	}
	fast = take()
	saved := plainLetter
	plainLetter = [utf8.RuneSelf]bool{} // every word the general way
	defer func() { plainLetter = saved }()
	return fast, take()
}

// FuzzPlainWordsFastPath: words of plain ASCII letters, made straight from
// the bytes, come out exactly as the general analysis makes them. It
// changes a package table, so it must not run in parallel with other tests.
func FuzzPlainWordsFastPath(f *testing.F) {
	for _, s := range []string{"hello world", "f u c k you", "Hello, WORLD!!", "a b c dd e", "p@k! sh1t", "s.h.i.t and more",
		"caf\u00e9 ok", "x", "", "  lead and trail  ", "f\u200bu\u200bck", "ab. c. d. ef", "0 b_o_o_b_s", "HELLLLLO", "w e t  d r e a m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fast, general := analyseBothWays(s)
		if !reflect.DeepEqual(fast, general) {
			t.Fatalf("%q:\n fast    %+v\n general %+v", s, fast, general)
		}
	})
}

// TestPlainWordsFastPathCorpus runs the comparison over the corpus. Like
// the fuzz target, it changes a package table: not in parallel.
func TestPlainWordsFastPathCorpus(t *testing.T) {
	dir := corpusDir(t)
	n := 0
	for _, file := range []string{"positives.jsonl", "negatives.jsonl"} {
		for _, l := range readLines(t, filepath.Join(dir, file)) {
			fast, general := analyseBothWays(l.Text)
			if !reflect.DeepEqual(fast, general) {
				t.Fatalf("%q:\n fast    %+v\n general %+v", l.Text, fast, general)
			}
			n++
		}
	}
	t.Logf("%d texts analysed both ways, identical", n)
}
