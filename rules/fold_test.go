package rules

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// foldString folds each character of s on its own and returns the letters
// and leetspeak letters it reads as, with the steps it needed.
func foldString(s string) (string, Steps) {
	foldOnce.Do(initFold)
	var out []byte
	var steps Steps
	for _, r := range s {
		f := lookupFold(r)
		steps |= f.steps
		switch f.cls {
		case clsLetter:
			out = append(out, f.out[:f.n]...)
		case clsSym, clsDigit:
			out = append(out, f.leet)
		case clsSep:
			out = append(out, ' ')
		}
	}
	return string(out), steps
}

// TestFoldTableKeepsTheLetters: the generated table folds every look-alike
// the earlier hand-written one did (ß is now leetspeak for b).
func TestFoldTableKeepsTheLetters(t *testing.T) {
	t.Parallel()
	earlier := map[rune]rune{
		'а': 'a', 'в': 'b', 'г': 'r', 'е': 'e', 'ё': 'e', 'і': 'i', 'ї': 'i', 'ј': 'j', 'к': 'k', 'м': 'm',
		'н': 'h', 'о': 'o', 'п': 'n', 'р': 'p', 'с': 'c', 'т': 't', 'у': 'y', 'х': 'x', 'ѕ': 's', 'ԁ': 'd',
		'һ': 'h', 'ӏ': 'l', 'ԛ': 'q', 'ԝ': 'w', 'ь': 'b', 'ү': 'y', 'ɡ': 'g', 'ԍ': 'g', 'ո': 'n', 'ս': 'u',
		'А': 'a', 'В': 'b', 'Е': 'e', 'К': 'k', 'М': 'm', 'Н': 'h', 'О': 'o', 'Р': 'p', 'С': 'c', 'Т': 't',
		'У': 'y', 'Х': 'x', 'І': 'i', 'Ј': 'j', 'Ѕ': 's', 'Ӏ': 'l', 'Ԛ': 'q', 'Ԝ': 'w', 'Ү': 'y', 'Һ': 'h',
		'Ԍ': 'g', 'Ь': 'b',
		'α': 'a', 'β': 'b', 'γ': 'y', 'ε': 'e', 'ζ': 'z', 'η': 'n', 'ι': 'i', 'κ': 'k', 'μ': 'u', 'ν': 'v',
		'ο': 'o', 'ρ': 'p', 'σ': 'o', 'ς': 'c', 'τ': 't', 'υ': 'u', 'χ': 'x', 'ω': 'w', 'ϲ': 'c', 'ϳ': 'j',
		'Α': 'a', 'Β': 'b', 'Ε': 'e', 'Ζ': 'z', 'Η': 'h', 'Ι': 'i', 'Κ': 'k', 'Μ': 'm', 'Ν': 'n', 'Ο': 'o',
		'Ρ': 'p', 'Τ': 't', 'Υ': 'y', 'Χ': 'x', 'Ϲ': 'c', 'Ϳ': 'j',
		'ı': 'i', 'ȷ': 'j', 'ɑ': 'a', 'ɩ': 'i', 'ʀ': 'r', 'ʏ': 'y', 'ᴄ': 'c', 'ᴏ': 'o', 'ᴠ': 'v', 'ᴡ': 'w',
		'ᴢ': 'z', 'ꜱ': 's', 'ƿ': 'p', 'ß': 'b',
	}
	for r, want := range earlier {
		if want == 'l' {
			want = 'i' // the matcher reads l and i as one letter
		}
		if got, _ := foldString(string(r)); strings.ReplaceAll(got, "l", "i") != string(want) {
			t.Errorf("%q (U+%04X) folds to %q, want %c", r, r, got, want)
		}
	}
}

// TestFoldStyledAndLookalikeLetters: the characters the issue of styled
// letters and other scripts names, each read as its Latin letter with the
// step that explains it.
func TestFoldStyledAndLookalikeLetters(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, want string
		steps          Steps
	}{
		{"negative squared", "🅵🆄🅲🅺", "fuck", StepStyled},
		{"negative circled", "🅐🅑🅒", "abc", StepStyled},
		{"crossed negative squared", "\U0001F18A", "p", StepStyled},
		{"small capitals", "ꜱʜɪᴛ", "shit", StepStyled},
		{"small capitals, more", "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ", "abcdefghijklmnoprstuvwyz", StepStyled},
		{"superscript and modifier letters", "ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻ", "abcdefghijklmnoprstuvwxyz", StepWidth},
		{"modifier small capital", "ᶦ", "i", StepWidth | StepStyled},
		{"regional indicators", "🇫🇺🇨🇰", "fuck", StepRegional},
		{"armenian", "օսհցո", "ouhgn", StepConfusables},
		{"cherokee capitals", "ᎪᏴᏟᎬᎻ", "abceh", StepConfusables},
		{"cherokee small letters", "ꭺꮯ", "ac", StepConfusables},
		{"latin ipa and small capitals", "ɑɡıɪȷʀꜱʜʟʏ", "agiijrshly", StepConfusables | StepStyled},
		{"coptic", "ⲁⲥⲉⲟⲣ", "aceop", StepConfusables},
		{"hooks and strokes", "ƈɗƒɦɲłħø", "cdfhnlho", StepDiacritics},
		{"mathematical, circled, parenthesized", "𝐟ⓤ⒞🅺", "fuck", StepWidth | StepStyled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, steps := foldString(tc.in)
			if got != tc.want {
				t.Errorf("%q folds to %q, want %q", tc.in, got, tc.want)
			}
			if steps&tc.steps != tc.steps {
				t.Errorf("%q: steps %s, want at least %s", tc.in, steps, tc.steps)
			}
		})
	}
}

// TestFoldInvisible: every invisible character the disguises use is
// dropped inside a word.
func TestFoldInvisible(t *testing.T) {
	t.Parallel()
	for _, r := range []rune{0x00AD, 0x2060, 0x180E, 0xFEFF, 0x034F, 0xFE0F, 0xFE00, 0xE0100, 0xE0001, 0xE0041,
		0xE007F, 0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800, 0x2061, 0x2062, 0x2063, 0x2064, 0x200B, 0x200C, 0x200D,
		0x202E, 0x2066, 0x2069} {
		if !invisible(r) || lookupFoldSafe(r).cls != clsDrop {
			t.Errorf("U+%04X is not dropped", r)
		}
	}
}

// TestFoldTableScripts: characters of scripts left out of lookalikeScripts
// keep their letters, and the table holds no ASCII and nothing NFKD folds.
func TestFoldTableScripts(t *testing.T) {
	t.Parallel()
	foldOnce.Do(initFold)
	if got, _ := foldString("סוס"); got == "olo" || got == "oio" {
		t.Errorf("Hebrew letters were read as Latin: %q", got)
	}
	for _, e := range foldTable {
		if e.r < utf8.RuneSelf {
			t.Errorf("U+%04X is ASCII", e.r)
		}
		if len(e.to) == 0 || len(e.to) > 3 {
			t.Errorf("U+%04X reads as %q", e.r, e.to)
		}
	}
}
