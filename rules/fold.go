package rules

//go:generate go run ./internal/genfold -data unicodedata -o fold_table.go

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Steps records which foldings a piece of text needed before it matched a
// term. It is a bit set; String lists the steps by name.
type Steps uint16

// The folding steps, in the order the pipeline applies them.
const (
	StepCase        Steps = 1 << iota // upper or mixed case
	StepWidth                         // compatibility forms: fullwidth, mathematical, enclosed letters (NFKC)
	StepDiacritics                    // accents, other combining marks, letters with hooks and strokes
	StepConfusables                   // look-alike letters from other scripts (Unicode's confusables data)
	StepInvisible                     // zero-width and other invisible or format characters
	StepLeetspeak                     // digits and symbols standing for letters
	StepStretch                       // letters repeated to stretch the word
	StepSeparators                    // letters split by spaces, punctuation, symbols or emoji
	StepStyled                        // styled letters without a compatibility form: negative squared and circled, small capitals, modifier letters
	StepRegional                      // regional indicator symbols (the letters of flag emoji)
	StepReversed                      // stored reversed and shown the right way round by a bidirectional override
	StepCompound                      // glued to other words: a hashtag, a handle, camelCase, PascalCase
	StepCensored                      // letters hidden by symbols (f*ck) where only one listed term fits
)

var stepNames = [...]string{"case", "width", "diacritics", "confusables", "invisible", "leetspeak", "stretch",
	"separators", "styled letters", "regional indicators", "bidi override", "compound", "censored"}

// String lists the steps, comma-separated, or "none".
func (s Steps) String() string {
	if s == 0 {
		return "none"
	}
	var b strings.Builder
	for i, name := range stepNames {
		if s&(1<<i) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name)
	}
	return b.String()
}

// class says what part a character plays in a word.
type class uint8

const (
	clsSep    class = iota // ends a word: spaces, punctuation, symbols
	clsLetter              // a letter: out holds its folded form
	clsDigit               // an ASCII digit: a letter in leetspeak when its word has letters
	clsSym                 // a symbol that stands for a letter in leetspeak ($, @, !)
	clsDrop                // invisible or combining: ignored, the word goes on
)

// fold is what the pipeline knows about one character.
type fold struct {
	cls   class
	n     uint8   // bytes used in out
	out   [4]byte // folded form: ASCII letters, or one lower-case non-Latin letter in UTF-8
	leet  byte    // the letter a digit or symbol stands for; 0 when none
	trim  bool    // a symbol that is punctuation at the edge of a word ("wow!!!")
	upper bool    // an upper-case letter: where a lower-case one precedes it, a new word may start (camelCase)
	steps Steps
}

// tableFold is one character of the generated foldTable (fold_table.go):
// a character without a compatibility decomposition that reads as Latin
// letters.
type tableFold struct {
	r      rune
	to     string
	kind   tableKind
	script uint8 // index in tableScripts
}

type tableKind uint8

const (
	tableConfusable tableKind = iota // a look-alike (confusables.txt, lookalikes.txt)
	tableStyled                      // a styled letter: negative squared or circled, small capital, modifier letter
	tableRegional                    // a regional indicator symbol
	tableDiacritic                   // a letter with a hook, stroke or bar
)

var tableSteps = [...]Steps{tableConfusable: StepConfusables, tableStyled: StepStyled, tableRegional: StepRegional,
	tableDiacritic: StepDiacritics}

// lookalikeScripts are the scripts whose characters in foldTable are read
// as Latin letters. A script left out keeps its letters: Latin, Greek and
// Cyrillic letters are mixed up by readers of Latin text, and the others
// listed are used for their shapes, not their sounds, in chat that is
// otherwise Latin. Scripts of languages whose words must keep their own
// letters (Hebrew, Arabic, the Indic scripts, Georgian, Han...) are not
// listed; a language that needs another policy changes this table.
var lookalikeScripts = map[string]bool{
	"Latin": true, "Common": true, "Greek": true, "Cyrillic": true, "Armenian": true, "Cherokee": true,
	"Coptic": true, "Lisu": true, "Canadian_Aboriginal": true, "Runic": true, "Old_Italic": true,
	"Tifinagh": true, "Osage": true, "Deseret": true, "Carian": true, "Lycian": true, "Warang_Citi": true,
	"Elbasan": true, "Bamum": true, "Mende_Kikakui": true, "Miao": true,
}

// leet maps digits and symbols to the letter they usually stand for. '1', '!'
// and '|' stand for both "i" and "l"; the matcher folds those two letters
// together, so one entry serves. Sequences of several symbols ("|_|") are in
// leetSequences.
var leet = map[rune]byte{
	'0': 'o', '1': 'i', '2': 'z', '3': 'e', '4': 'a', '5': 's', '6': 'g', '7': 't', '8': 'b', '9': 'g',
	'@': 'a', '$': 's', '!': 'i', '|': 'i', '+': 't', '(': 'c', '<': 'c',
	'€': 'e', '¡': 'i', '¢': 'c', '£': 'l', '¥': 'y', '†': 't', 'ß': 'b',
}

// trimmed symbols read as punctuation when they start or end a word.
const trimmed = "!|+¡(<¢£€¥"

var (
	asciiFold [utf8.RuneSelf]fold
	wideFold  map[rune]fold
	lookalike map[rune]tableFold // foldTable, for the scripts of lookalikeScripts
	foldOnce  sync.Once
)

// foldRanges are the blocks whose characters fold to something else; every
// character in them, and every character of foldTable, is folded once, when
// the first text is matched.
var foldRanges = [][2]rune{
	{0x0080, 0x058F},   // Latin-1, Latin extended, IPA, modifiers, combining, Greek, Cyrillic, Armenian
	{0x1AB0, 0x1AFF},   // combining marks extended
	{0x1D00, 0x1EFF},   // phonetic extensions, combining supplement, Latin extended additional
	{0x1F00, 0x1FFF},   // Greek extended
	{0x2000, 0x2BFF},   // punctuation, super/subscripts, letterlike, enclosed alphanumerics, symbols
	{0x2C60, 0x2C7F},   // Latin extended-C
	{0x2DE0, 0x2DFF},   // Cyrillic extended-A (combining)
	{0x3000, 0x303F},   // CJK punctuation (ideographic space)
	{0x3200, 0x33FF},   // enclosed CJK and compatibility squares with Latin letters
	{0xA640, 0xA69F},   // Cyrillic extended-B
	{0xA720, 0xA7FF},   // Latin extended-D
	{0xFB00, 0xFB06},   // Latin ligatures
	{0xFE00, 0xFE2F},   // variation selectors, combining half marks
	{0xFE50, 0xFE6F},   // small form variants
	{0xFF00, 0xFFEF},   // halfwidth and fullwidth forms
	{0x1D400, 0x1D7FF}, // mathematical alphanumeric symbols
	{0x1F100, 0x1F1FF}, // enclosed alphanumeric supplement, regional indicators
	{0xE0000, 0xE007F}, // tags
	{0xE0100, 0xE01EF}, // variation selectors supplement
}

func initFold() {
	lookalike = make(map[rune]tableFold, len(foldTable))
	for _, e := range foldTable {
		if lookalikeScripts[tableScripts[e.script]] {
			lookalike[e.r] = e
		}
	}
	for r := rune(0); r < utf8.RuneSelf; r++ {
		f := computeFold(r)
		asciiFold[r] = f
		plainLetter[r] = f.cls == clsLetter && f.n == 1 && f.out[0] < utf8.RuneSelf && f.steps&^StepCase == 0
	}
	wideFold = make(map[rune]fold, 8192)
	add := func(r rune) {
		if f := computeFold(r); f.cls != clsSep || f.steps != 0 {
			wideFold[r] = f
		}
	}
	for _, rg := range foldRanges {
		for r := rg[0]; r <= rg[1]; r++ {
			add(r)
		}
	}
	for r := range lookalike {
		add(r)
	}
}

// lookupFold returns the fold of r.
func lookupFold(r rune) fold {
	if r < utf8.RuneSelf {
		return asciiFold[r]
	}
	if f, ok := wideFold[r]; ok {
		return f
	}
	return computeOther(r)
}

// invisible reports characters that render as nothing: format characters
// (bidirectional controls, joiners, the byte order mark, invisible
// operators U+2061-2064), variation selectors, tags, fillers (Hangul, the
// Braille blank), the soft hyphen, the combining grapheme joiner and the
// Mongolian vowel separator.
func invisible(r rune) bool {
	switch {
	case r == 0x00AD, r == 0x034F, r == 0x115F, r == 0x1160, r == 0x17B4, r == 0x17B5, r == 0x180E,
		r == 0x3164, r == 0xFFA0, r == 0x2800, r == 0xFEFF:
		return true
	case r >= 0x200B && r <= 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2060 && r <= 0x206F:
		return true
	case r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0000 && r <= 0xE01EF, r >= 0x180B && r <= 0x180F:
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// computeOther folds a character outside the folded blocks: other scripts
// keep their letters (lower-cased), everything else ends a word.
func computeOther(r rune) fold {
	switch {
	case invisible(r):
		return fold{cls: clsDrop, steps: StepInvisible}
	case unicode.In(r, unicode.Mn, unicode.Me):
		return fold{cls: clsDrop, steps: StepDiacritics}
	case unicode.IsLetter(r):
		f := fold{cls: clsLetter}
		lr := unicode.ToLower(r)
		if lr != r {
			f.steps |= StepCase
			f.upper = true
		}
		f.n = uint8(utf8.EncodeRune(f.out[:], lr))
		return f
	}
	return fold{cls: clsSep}
}

// fromTable folds a character of foldTable.
func fromTable(r rune, e tableFold) fold {
	f := fold{cls: clsLetter, steps: tableSteps[e.kind]}
	f.n = uint8(copy(f.out[:], e.to))
	if unicode.IsUpper(r) {
		f.steps |= StepCase // but no word starts at it: look-alikes mix cases at random
	}
	return f
}

// computeFold runs the whole pipeline on one character: leetspeak symbols,
// then foldTable (look-alikes, styled letters, regional indicators), then
// compatibility decomposition (NFKD) with combining marks dropped and the
// parts folded again, case folded.
func computeFold(r rune) fold {
	if r < utf8.RuneSelf {
		return computeASCII(r)
	}
	if invisible(r) {
		return fold{cls: clsDrop, steps: StepInvisible}
	}
	if unicode.In(r, unicode.Mn, unicode.Me) {
		return fold{cls: clsDrop, steps: StepDiacritics}
	}
	if l, ok := leet[r]; ok {
		return fold{cls: clsSym, leet: l, trim: strings.ContainsRune(trimmed, r)}
	}
	if e, ok := lookalike[r]; ok {
		return fromTable(r, e)
	}
	var steps Steps
	decomposed := norm.NFKD.String(string(r))
	if norm.NFD.String(string(r)) != decomposed {
		steps |= StepWidth
	}
	var out []byte
	letters, upper := 0, false
	for _, x := range decomposed {
		if unicode.In(x, unicode.Mn, unicode.Me) {
			steps |= StepDiacritics
			continue
		}
		if e, ok := lookalike[x]; ok && x != r {
			f := fromTable(x, e)
			out = append(out, f.out[:f.n]...)
			steps |= f.steps
			letters++
			continue
		}
		lx := unicode.ToLower(x)
		if lx != x {
			steps |= StepCase
			upper = true
		}
		if lx < utf8.RuneSelf {
			a := computeASCII(lx)
			switch {
			case utf8.RuneCountInString(decomposed) == 1:
				if a.cls == clsSep {
					return fold{cls: clsSep}
				}
				a.steps |= steps
				a.upper = upper && steps&(StepConfusables|StepStyled) == 0
				return a
			case a.cls == clsLetter:
				out = append(out, a.out[0])
				letters++
				continue
			case a.cls == clsDigit:
				// A compatibility form spelling a number ("1/2", "(1)"): not a letter.
				return fold{cls: clsSep}
			}
			continue // the brackets and dots of "(a)" and "a."
		}
		if unicode.IsLetter(lx) {
			out = utf8.AppendRune(out, lx)
			letters++
			continue
		}
		return computeOther(r)
	}
	if letters == 0 {
		if steps&StepDiacritics != 0 && len(out) == 0 {
			return fold{cls: clsDrop, steps: steps}
		}
		return fold{cls: clsSep}
	}
	if len(out) > len(fold{}.out) {
		return computeOther(r)
	}
	f := fold{cls: clsLetter, n: uint8(len(out)), steps: steps, upper: upper && steps&(StepConfusables|StepStyled) == 0}
	copy(f.out[:], out)
	return f
}

func computeASCII(r rune) fold {
	switch {
	case r >= 'a' && r <= 'z':
		return fold{cls: clsLetter, n: 1, out: [4]byte{byte(r)}}
	case r >= 'A' && r <= 'Z':
		return fold{cls: clsLetter, n: 1, out: [4]byte{byte(r + 'a' - 'A')}, steps: StepCase, upper: true}
	case r >= '0' && r <= '9':
		return fold{cls: clsDigit, n: 1, out: [4]byte{byte(r)}, leet: leet[r]}
	}
	if l, ok := leet[r]; ok {
		return fold{cls: clsSym, leet: l, trim: strings.ContainsRune(trimmed, r)}
	}
	return fold{cls: clsSep}
}
