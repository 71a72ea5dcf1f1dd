package rules

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
	StepDiacritics                    // accents and other combining marks
	StepConfusables                   // look-alike letters from other scripts (Cyrillic, Greek)
	StepInvisible                     // zero-width and other invisible or format characters
	StepLeetspeak                     // digits and symbols standing for letters
	StepStretch                       // letters repeated to stretch the word
	StepSeparators                    // letters split by spaces or punctuation
)

var stepNames = [...]string{"case", "width", "diacritics", "confusables", "invisible", "leetspeak", "stretch", "separators"}

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
	steps Steps
}

// confusables maps look-alike letters of other scripts to the Latin letter
// they imitate. It follows Unicode's confusables data (UTS #39) for Cyrillic
// and Greek, and adds the few lower-case forms that imitate a small capital.
var confusables = map[rune]rune{
	// Cyrillic, lower case
	'а': 'a', 'в': 'b', 'г': 'r', 'е': 'e', 'ё': 'e', 'і': 'i', 'ї': 'i', 'ј': 'j', 'к': 'k', 'м': 'm',
	'н': 'h', 'о': 'o', 'п': 'n', 'р': 'p', 'с': 'c', 'т': 't', 'у': 'y', 'х': 'x', 'ѕ': 's', 'ԁ': 'd',
	'һ': 'h', 'ӏ': 'l', 'ԛ': 'q', 'ԝ': 'w', 'ь': 'b', 'ү': 'y', 'ɡ': 'g', 'ԍ': 'g', 'ո': 'n', 'ս': 'u',
	// Cyrillic, upper case
	'А': 'a', 'В': 'b', 'Е': 'e', 'К': 'k', 'М': 'm', 'Н': 'h', 'О': 'o', 'Р': 'p', 'С': 'c', 'Т': 't',
	'У': 'y', 'Х': 'x', 'І': 'i', 'Ј': 'j', 'Ѕ': 's', 'Ӏ': 'l', 'Ԛ': 'q', 'Ԝ': 'w', 'Ү': 'y', 'Һ': 'h',
	'Ԍ': 'g', 'Ь': 'b',
	// Greek, lower case
	'α': 'a', 'β': 'b', 'γ': 'y', 'ε': 'e', 'ζ': 'z', 'η': 'n', 'ι': 'i', 'κ': 'k', 'μ': 'u', 'ν': 'v',
	'ο': 'o', 'ρ': 'p', 'σ': 'o', 'ς': 'c', 'τ': 't', 'υ': 'u', 'χ': 'x', 'ω': 'w', 'ϲ': 'c', 'ϳ': 'j',
	// Greek, upper case
	'Α': 'a', 'Β': 'b', 'Ε': 'e', 'Ζ': 'z', 'Η': 'h', 'Ι': 'i', 'Κ': 'k', 'Μ': 'm', 'Ν': 'n', 'Ο': 'o',
	'Ρ': 'p', 'Τ': 't', 'Υ': 'y', 'Χ': 'x', 'Ϲ': 'c', 'Ϳ': 'j',
	// Latin look-alikes outside the basic alphabet
	'ı': 'i', 'ȷ': 'j', 'ɑ': 'a', 'ɩ': 'i', 'ʀ': 'r', 'ʏ': 'y', 'ᴄ': 'c', 'ᴏ': 'o', 'ᴠ': 'v', 'ᴡ': 'w',
	'ᴢ': 'z', 'ꜱ': 's', 'ƿ': 'p', 'ß': 's',
}

// leet maps digits and symbols to the letter they usually stand for. '1', '!'
// and '|' stand for both "i" and "l"; the matcher folds those two letters
// together, so one entry serves.
var leet = map[rune]byte{
	'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '8': 'b', '9': 'g',
	'@': 'a', '$': 's', '!': 'i', '|': 'i', '+': 't', '€': 'e', '¡': 'i',
}

// trimmed symbols read as punctuation when they start or end a word.
const trimmed = "!|+¡"

var (
	asciiFold [utf8.RuneSelf]fold
	wideFold  map[rune]fold
	foldOnce  sync.Once
)

// foldRanges are the blocks whose characters fold to something else; every
// character in them is folded once, when the first text is matched.
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
	{0x1F100, 0x1F1FF}, // enclosed alphanumeric supplement
	{0xE0000, 0xE007F}, // tags
	{0xE0100, 0xE01EF}, // variation selectors supplement
}

func initFold() {
	for r := rune(0); r < utf8.RuneSelf; r++ {
		f := computeFold(r)
		asciiFold[r] = f
		plainLetter[r] = f.cls == clsLetter && f.n == 1 && f.out[0] < utf8.RuneSelf && f.steps&^StepCase == 0
	}
	wideFold = make(map[rune]fold, 8192)
	for _, rg := range foldRanges {
		for r := rg[0]; r <= rg[1]; r++ {
			if f := computeFold(r); f.cls != clsSep || f.steps != 0 {
				wideFold[r] = f
			}
		}
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

// invisible reports characters that render as nothing: format characters,
// variation selectors, fillers and tags.
func invisible(r rune) bool {
	switch {
	case r == 0x00AD, r == 0x034F, r == 0x115F, r == 0x1160, r == 0x17B4, r == 0x17B5, r == 0x180E,
		r == 0x3164, r == 0xFFA0, r == 0x2800:
		return true
	case r >= 0x200B && r <= 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2060 && r <= 0x206F:
		return true
	case r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0000 && r <= 0xE01EF:
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
		}
		f.n = uint8(utf8.EncodeRune(f.out[:], lr))
		return f
	}
	return fold{cls: clsSep}
}

// computeFold runs the whole pipeline on one character: compatibility
// decomposition (NFKD), combining marks dropped, confusables mapped to Latin,
// case folded, digits and symbols given their leetspeak letter.
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
	if c, ok := confusables[r]; ok {
		return fold{cls: clsLetter, n: 1, out: [4]byte{byte(c)}, steps: StepConfusables}
	}
	if l, ok := leet[r]; ok {
		return fold{cls: clsSym, leet: l, trim: strings.ContainsRune(trimmed, r)}
	}
	var steps Steps
	decomposed := norm.NFKD.String(string(r))
	if norm.NFD.String(string(r)) != decomposed {
		steps |= StepWidth
	}
	var out []byte
	letters := 0
	for _, x := range decomposed {
		if unicode.In(x, unicode.Mn, unicode.Me) {
			steps |= StepDiacritics
			continue
		}
		if c, ok := confusables[x]; ok {
			out = append(out, byte(c))
			steps |= StepConfusables
			letters++
			continue
		}
		lx := unicode.ToLower(x)
		if lx != x {
			steps |= StepCase
		}
		if c, ok := confusables[lx]; ok {
			out = append(out, byte(c))
			steps |= StepConfusables
			letters++
			continue
		}
		if lx < utf8.RuneSelf {
			a := computeASCII(lx)
			switch {
			case len(decomposed) == 1 || utf8.RuneCountInString(decomposed) == 1:
				if a.cls == clsSep {
					return fold{cls: clsSep}
				}
				a.steps |= steps
				return a
			case a.cls == clsLetter:
				out = append(out, a.out[0])
				letters++
				continue
			}
			// A compatibility form spelling several characters that are not
			// all letters ("1/2", "(a)"): keep only its letters.
			if a.cls == clsDigit || a.cls == clsSym {
				return fold{cls: clsSep}
			}
			continue
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
	f := fold{cls: clsLetter, n: uint8(len(out)), steps: steps}
	copy(f.out[:], out)
	return f
}

func computeASCII(r rune) fold {
	switch {
	case r >= 'a' && r <= 'z':
		return fold{cls: clsLetter, n: 1, out: [4]byte{byte(r)}}
	case r >= 'A' && r <= 'Z':
		return fold{cls: clsLetter, n: 1, out: [4]byte{byte(r + 'a' - 'A')}, steps: StepCase}
	case r >= '0' && r <= '9':
		return fold{cls: clsDigit, n: 1, out: [4]byte{byte(r)}, leet: leet[r]}
	}
	if l, ok := leet[r]; ok {
		return fold{cls: clsSym, leet: l, trim: strings.ContainsRune(trimmed, r)}
	}
	return fold{cls: clsSep}
}
