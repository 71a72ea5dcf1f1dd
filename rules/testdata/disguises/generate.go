//go:build ignore

// Command generate writes the disguise fixtures: positives.jsonl (a
// block-list term under one disguise, or three at once, in a chat line)
// and negatives.jsonl (innocent words that look like a term once
// disguised). Run from package rules:
//
//	go run ./testdata/disguises/generate.go
//
// It draws from testdata/corpus/blocklist.txt and wordlists/english.txt
// with a fixed seed, so the files only change when this program does.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"unicode"
)

const perKind = 150

var rng = rand.New(rand.NewPCG(16, 2026))

func pick[T any](xs []T) T  { return xs[rng.IntN(len(xs))] }
func chance(p float64) bool { return rng.Float64() < p }

type positive struct {
	Text      string `json:"text"`
	Term      string `json:"term"`
	Technique string `json:"technique"`
	Detail    string `json:"detail,omitempty"`
}

type negative struct {
	Text string `json:"text"`
	Kind string `json:"kind"`
	Word string `json:"word"`
}

func main() {
	terms := readLines("testdata/corpus/blocklist.txt")
	dict := readLines("wordlists/english.txt")
	var words, phrases []string
	for _, t := range terms {
		switch {
		case strings.ContainsAny(t, " -"):
			phrases = append(phrases, t)
		case len(t) >= 3 && strings.IndexFunc(t, unicode.IsDigit) < 0:
			words = append(words, t)
		}
	}
	innocent := innocentWords(dict, words)
	common := commonWords(dict, words)

	var pos []positive
	add := func(technique, detail, term, disguised string) {
		pos = append(pos, positive{Text: carry(disguised), Term: term, Technique: technique, Detail: detail})
	}
	for range perKind {
		t := pick(words)
		add("styled", "", t, styled(t, true))
		t = pick(words)
		add("regional_indicators", "", t, regional(t))
		t = pick(words)
		add("symbol_separators", "", t, separated(t))
		t = pick(words)
		add("extended_leetspeak", "", t, extendedLeet(t))
		t = pick(words)
		add("lookalikes", "", t, lookalikes(t))
		t = pick(words)
		add("invisible", "", t, invisibles(t))
		t = pick(words)
		add("bidi", "", t, bidi(t))
		t = pick(append(words, phrases...))
		add("compound", "", t, compound(t, common))
		if t, c, ok := censored(words, terms); ok {
			add("censored", "", t, c)
		}
		t = pick(words)
		d, detail := mixed3(t)
		add("mixed3", detail, t, d)
	}

	var neg []negative
	addNeg := func(kind, word, text string) { neg = append(neg, negative{Text: text, Kind: kind, Word: word}) }
	for range perKind {
		w := pick(innocent)
		addNeg("separated", w, carryInnocent(separatedInnocent(w)))
		w = pick(innocent)
		addNeg("styled", w, carryInnocent(styledInnocent(w)))
		w = pick(innocent)
		addNeg("compound", w, carryInnocent(compoundInnocent(w, common)))
		n := pick(places)
		addNeg("names", n, fmt.Sprintf(pick(nameSentences), n))
		w = pick(innocent)
		addNeg("links_and_code", w, linkOrCode(w, common))
	}
	write("testdata/disguises/positives.jsonl", pos)
	write("testdata/disguises/negatives.jsonl", neg)
}

// innocentWords are dictionary words that hold a block-list term without
// being it or a form of it.
func innocentWords(dict, terms []string) []string {
	var out []string
	for _, w := range dict {
		if len(w) < 5 || slices.Contains(terms, w) || profane[w] {
			continue
		}
		for _, t := range terms {
			if i := strings.Index(w, t); i >= 0 && !(i == 0 && inflection[w[len(t):]]) {
				out = append(out, w)
				break
			}
		}
	}
	return out
}

var inflection = map[string]bool{"s": true, "es": true, "ed": true, "er": true, "ers": true, "ing": true, "y": true,
	"ier": true, "iest": true, "ily": true, "iness": true, "ish": true, "ings": true, "d": true, "ies": true,
	"ting": true, "ted": true, "ty": true, "tier": true, "tiest": true, "house": true, "houses": true, "head": true}

// profane words hold a term and keep its sense.
var profane = map[string]bool{"cocksucker": true, "cocksuckers": true, "motherfucker": true, "motherfuckers": true,
	"motherfucking": true, "bullshits": true, "bullshitted": true, "bullshitting": true, "pornographer": true,
	"pornographers": true, "pornographic": true, "nymphomaniac": true, "nymphomaniacs": true, "orgasmic": true,
	"smutty": true, "smuttier": true, "smuttiest": true, "cybersex": true, "bastardize": true, "bastardized": true,
	"bastardizes": true, "bastardizing": true, "niggard": true, "niggardly": true, "niggardliness": true,
	"niggards": true, "snigger": true, "sniggered": true, "sniggering": true, "sniggers": true, "clitoral": true,
	"clitorises": true, "vaginal": true, "vaginae": true, "penises": true, "pubescent": true, "pubescence": true,
	"incestuous": true, "retardant": true, "retardants": true, "retardation": true, "sexed": true, "oversexed": true,
	"wanked": true, "wanking": true, "wanks": true, "sexier": true, "sexiest": true, "sexily": true,
	"sexiness": true, "sexism": true, "sexist": true, "sexists": true, "sexing": true, "sexes": true}

// commonWords are short dictionary words that hold no term.
func commonWords(dict, terms []string) []string {
	var out []string
next:
	for _, w := range dict {
		if len(w) < 4 || len(w) > 8 {
			continue
		}
		for _, t := range terms {
			if strings.Contains(w, t) {
				continue next
			}
		}
		out = append(out, w)
	}
	return out
}

var carriers = []string{"bro really said %s", "%s lol", "no one cares, %s", "you are such a %s", "what the %s is this",
	"%s!!!", "ok %s whatever", "stop being a %s please", "lmao %s 😂", "my brother is a %s tbh", "he typed %s again",
	"%s", "honestly %s, go away", "and then she said %s and left", "%s %s"}

func carry(s string) string {
	c := pick(carriers)
	if strings.Count(c, "%s") == 2 {
		return fmt.Sprintf(c, s, s)
	}
	return fmt.Sprintf(c, s)
}

var innocentCarriers = []string{"teacher wrote %s on the board", "%s is such a weird word", "can you spell %s for me",
	"the answer was %s", "look: %s", "my notes say %s", "%s, apparently", "new post: %s"}

func carryInnocent(s string) string { return fmt.Sprintf(pick(innocentCarriers), s) }

// Letter styles.
func negSquared(r rune) string { return string(rune(0x1F170 + unicode.ToLower(r) - 'a')) }
func negCircled(r rune) string { return string(rune(0x1F150 + unicode.ToLower(r) - 'a')) }
func mathBold(r rune) string   { return string(rune(0x1D41A + r - 'a')) }
func mathScript(r rune) string { return string(rune(0x1D4EA + r - 'a')) } // bold script
func circled(r rune) string    { return string(rune(0x24D0 + r - 'a')) }
func parens(r rune) string     { return string(rune(0x249C + r - 'a')) }
func fullwidth(r rune) string  { return string(rune(0xFF41 + r - 'a')) }

var smallCaps = map[rune]string{'a': "ᴀ", 'b': "ʙ", 'c': "ᴄ", 'd': "ᴅ", 'e': "ᴇ", 'f': "ꜰ", 'g': "ɢ", 'h': "ʜ", 'i': "ɪ",
	'j': "ᴊ", 'k': "ᴋ", 'l': "ʟ", 'm': "ᴍ", 'n': "ɴ", 'o': "ᴏ", 'p': "ᴘ", 'r': "ʀ", 's': "ꜱ", 't': "ᴛ", 'u': "ᴜ",
	'v': "ᴠ", 'w': "ᴡ", 'y': "ʏ", 'z': "ᴢ"}

var superscript = map[rune]string{'a': "ᵃ", 'b': "ᵇ", 'c': "ᶜ", 'd': "ᵈ", 'e': "ᵉ", 'f': "ᶠ", 'g': "ᵍ", 'h': "ʰ", 'i': "ⁱ",
	'j': "ʲ", 'k': "ᵏ", 'l': "ˡ", 'm': "ᵐ", 'n': "ⁿ", 'o': "ᵒ", 'p': "ᵖ", 'r': "ʳ", 's': "ˢ", 't': "ᵗ", 'u': "ᵘ",
	'v': "ᵛ", 'w': "ʷ", 'x': "ˣ", 'y': "ʸ", 'z': "ᶻ"}

// styleLetter writes r in a random style; noDecomposition picks only the
// styles that have no compatibility form.
func styleLetter(r rune, noDecomposition bool) string {
	for {
		switch n := rng.IntN(9); {
		case n == 0:
			return negSquared(r)
		case n == 1:
			return negCircled(r)
		case n == 2 && smallCaps[r] != "":
			return smallCaps[r]
		case n == 3 && superscript[r] != "":
			return superscript[r]
		case noDecomposition:
			continue
		case n == 4:
			return mathBold(r)
		case n == 5:
			return mathScript(r)
		case n == 6:
			return circled(r)
		case n == 7:
			return parens(r)
		case n == 8:
			return fullwidth(r)
		}
	}
}

func styled(w string, mix bool) string {
	var b strings.Builder
	for i, r := range w {
		b.WriteString(styleLetter(r, !mix || i%2 == 0))
	}
	return b.String()
}

func regional(w string) string {
	gap := pick([]string{"", " ", "\u200b", "mixed"})
	var b strings.Builder
	for i, r := range w {
		if i > 0 {
			g := gap
			if g == "mixed" {
				g = pick([]string{"", " ", "\u200b"})
			}
			b.WriteString(g)
		}
		b.WriteRune(0x1F1E6 + r - 'a')
	}
	return b.String()
}

var symbolSeps = []string{"*", "/", "|", ",", "+", "~", "^", "=", ":", "'", "`", "·", "•", ".", "-", "_", "\\", ";", "#", "%", "&"}
var emojiSeps = []string{"🔥", "💀", "😂", "❤️", "👍🏽", "✨", "🍆", "💯", "🙃", "⭐"}
var spaceSeps = []string{"  ", "   ", "\t", "\n", " \t ", " \n", "    "}

func separated(w string) string {
	kind := rng.IntN(4)
	one := func() string {
		switch k := kind; {
		case k == 3:
			k = rng.IntN(3)
			fallthrough
		case k == 0:
			return pick(symbolSeps)
		case k == 1:
			return pick(emojiSeps)
		default:
			return pick(spaceSeps)
		}
	}
	same := kind != 3 && chance(0.5)
	sep := one()
	var b strings.Builder
	for i, r := range w {
		if i > 0 {
			if !same {
				sep = one()
			}
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	return b.String()
}

var extended = map[rune][]string{
	'a': {"/-\\", "4", "@"}, 'b': {"8", "ß", "|3"}, 'c': {"(", "<", "¢"}, 'd': {"|)"}, 'e': {"€", "3"},
	'f': {"ph", "ƒ"}, 'g': {"9", "6"}, 'h': {"|-|"}, 'i': {"1", "!"}, 'k': {"|<"}, 'l': {"£", "|", "1"},
	'm': {"|\\/|"}, 'n': {"|\\|", "/\\/"}, 'o': {"ø", "()", "0"}, 'r': {"|2"}, 's': {"5", "$"}, 't': {"+", "†", "7"},
	'u': {"|_|", "(_)", "µ"}, 'w': {"vv", "\\/\\/"}, 'x': {"><"}, 'y': {"¥"}, 'z': {"2"},
}

var rare = map[string]bool{"/-\\": true, "ß": true, "|3": true, "(": true, "<": true, "¢": true, "|)": true, "€": true,
	"ph": true, "ƒ": true, "6": true, "|-|": true, "|<": true, "£": true, "|\\/|": true, "|\\|": true, "/\\/": true,
	"ø": true, "()": true, "|2": true, "†": true, "|_|": true, "(_)": true, "µ": true, "vv": true, "\\/\\/": true,
	"><": true, "¥": true, "2": true, "9": true, "+": true}

func extendedLeet(w string) string {
	for {
		var b strings.Builder
		hasRare := false
		for _, r := range w {
			if alts := extended[r]; alts != nil && chance(0.7) {
				a := pick(alts)
				hasRare = hasRare || rare[a]
				b.WriteString(a)
				continue
			}
			b.WriteRune(r)
		}
		if hasRare {
			return b.String()
		}
	}
}

var others = map[rune][]string{
	'a': {"ɑ", "ⲁ", "Ꭺ"}, 'b': {"Ᏼ", "ʙ", "ƀ"}, 'c': {"ƈ", "ⲥ", "Ꮯ", "ᴄ"}, 'd': {"ɗ", "ԁ", "Ꭰ"}, 'e': {"Ꭼ", "ⲉ", "ɇ"},
	'f': {"ƒ", "ꜰ"}, 'g': {"ɡ", "ց", "ɢ"}, 'h': {"հ", "Ꮋ", "ʜ", "ɦ", "ħ"}, 'i': {"ı", "ɪ", "ɨ"}, 'j': {"ȷ", "ʝ"},
	'k': {"ƙ", "ᴋ", "Ꮶ"}, 'l': {"ʟ", "ł", "ɭ"}, 'm': {"ᴍ", "Ꮇ", "ɱ"}, 'n': {"ո", "ɲ", "ɴ"}, 'o': {"օ", "ⲟ", "ø", "ᴏ"},
	'p': {"ⲣ", "Ꮲ", "ƥ"}, 'r': {"ʀ", "ɍ"}, 's': {"ꜱ", "ʂ", "Ꮪ"}, 't': {"ƭ", "ᴛ", "Ꭲ", "ŧ"}, 'u': {"ս", "ᴜ", "ʉ"},
	'v': {"ᴠ", "Ꮩ"}, 'w': {"ᴡ", "Ꮃ", "ɯ"}, 'x': {"ⲭ", "ӿ"}, 'y': {"ʏ", "ƴ", "Ꭹ"}, 'z': {"ᴢ", "ƶ", "Ꮓ"},
}

func lookalikes(w string) string {
	for {
		var b strings.Builder
		changed := false
		for _, r := range w {
			if alts := others[r]; alts != nil && chance(0.7) {
				b.WriteString(pick(alts))
				changed = true
				continue
			}
			b.WriteRune(r)
		}
		if changed {
			return b.String()
		}
	}
}

var invisibleChars = []string{"\u00ad", "\u2060", "\u180e", "\ufeff", "\u034f", "\ufe0f", "\ufe00", "\U000E0041",
	"\U000E0020", "\U000E0100", "\u115f", "\u1160", "\u3164", "\uffa0", "\u2800", "\u2061", "\u2062", "\u2063",
	"\u2064", "\u200b", "\u200c", "\u200d"}

func invisibles(w string) string {
	for {
		var b strings.Builder
		n := 0
		for i, r := range w {
			if i > 0 && chance(0.5) {
				b.WriteString(pick(invisibleChars))
				n++
			}
			b.WriteRune(r)
		}
		if n > 0 {
			return b.String()
		}
	}
}

func reverse(s string) string {
	r := []rune(s)
	slices.Reverse(r)
	return string(r)
}

func bidi(w string) string {
	switch rng.IntN(5) {
	case 0:
		return "\u202e" + reverse(w) + "\u202c"
	case 1:
		return "\u2067" + reverse(w) + "\u2069"
	case 2:
		return "\u2066\u202e" + reverse(w) + "\u202c\u2069"
	case 3:
		k := 1 + rng.IntN(len(w)-1)
		return w[:k] + "\u202e" + reverse(w[k:]) + "\u202c"
	default:
		return "\u2066" + reverse(w) + "\u2069"
	}
}

func title(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func compound(t string, common []string) string {
	t = strings.NewReplacer(" ", "", "-", "").Replace(t)
	a, b := pick(common), pick(common)
	switch rng.IntN(7) {
	case 0:
		return "#" + t + b
	case 1:
		return "#" + title(t) + title(b)
	case 2:
		return title(a) + title(t) + title(b)
	case 3:
		return a + title(t) + title(b)
	case 4:
		return a + "_" + t + "_" + b
	case 5:
		return "@" + t + b + fmt.Sprint(rng.IntN(100))
	default:
		return "#" + a + t
	}
}

// censored hides one or two letters of a term behind symbols, keeping only
// the forms that no other listed term fits.
func censored(words, all []string) (string, string, bool) {
	for range 100 {
		t := pick(words)
		if len(t) < 4 {
			continue
		}
		r := []rune(t)
		n := 1 + rng.IntN(2)
		start := 1 + rng.IntN(len(r)-1-n)
		pattern := slices.Clone(r)
		for i := start; i < start+n; i++ {
			pattern[i] = rune(pick([]string{"*", "#", "%", "!"})[0])
		}
		fits := 0
		for _, o := range all {
			or := []rune(o)
			if len(or) != len(r) {
				continue
			}
			ok := true
			for i := range or {
				if (i < start || i >= start+n) && or[i] != r[i] {
					ok = false
				}
			}
			if ok {
				fits++
			}
		}
		if fits == 1 {
			return t, string(pattern), true
		}
	}
	return "", "", false
}

// mixed3 applies three techniques at once: two that change letters and one
// that goes between them, or three that change letters.
func mixed3(w string) (string, string) {
	letterKinds := []string{"styled", "lookalikes", "extended_leetspeak", "case", "regional_indicators"}
	gapKinds := []string{"symbol_separators", "invisible"}
	rng.Shuffle(len(letterKinds), func(i, j int) { letterKinds[i], letterKinds[j] = letterKinds[j], letterKinds[i] })
	chosen := letterKinds[:2]
	gap := pick(gapKinds)
	if chance(0.3) {
		chosen = letterKinds[:3]
		gap = ""
	}
	var b strings.Builder
	sep := pick(append(symbolSeps[5:], " "))
	for i, r := range w {
		if i > 0 {
			switch gap {
			case "symbol_separators":
				b.WriteString(sep)
			case "invisible":
				if chance(0.6) {
					b.WriteString(pick(invisibleChars))
				}
			}
		}
		switch chosen[i%len(chosen)] {
		case "styled":
			b.WriteString(styleLetter(r, true))
		case "lookalikes":
			if alts := others[r]; alts != nil {
				b.WriteString(pick(alts))
			} else {
				b.WriteRune(r)
			}
		case "extended_leetspeak":
			if alts := extended[r]; alts != nil {
				b.WriteString(pick(alts))
			} else {
				b.WriteRune(r)
			}
		case "case":
			b.WriteRune(unicode.ToUpper(r))
		case "regional_indicators":
			b.WriteRune(0x1F1E6 + r - 'a')
		}
	}
	detail := strings.Join(chosen, "+")
	if gap != "" {
		detail += "+" + gap
	}
	return b.String(), detail
}

func separatedInnocent(w string) string {
	sep := pick([]string{".", "_", " ", "-", "*", "/", "·", "~", "mixed", "emoji"})
	var b strings.Builder
	for i, r := range w {
		if i > 0 {
			switch sep {
			case "mixed":
				b.WriteString(pick([]string{".", "-", "_", "/"}))
			case "emoji":
				b.WriteString(pick(emojiSeps))
			default:
				b.WriteString(sep)
			}
		}
		if i == 0 && chance(0.3) {
			r = unicode.ToUpper(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func styledInnocent(w string) string {
	switch rng.IntN(4) {
	case 0:
		return regional(w)
	case 1:
		return lookalikes(w)
	case 2:
		return styled(w, false)
	default:
		return styled(w, true)
	}
}

func compoundInnocent(w string, common []string) string {
	o := pick(common)
	switch rng.IntN(6) {
	case 0:
		return "#" + w + o
	case 1:
		return "#" + o + w
	case 2:
		return title(o) + title(w)
	case 3:
		return title(w) + title(o)
	case 4:
		return "@" + w + o + fmt.Sprint(rng.IntN(100))
	default:
		return "@" + o + "_" + w
	}
}

func linkOrCode(w string, common []string) string {
	o := pick(common)
	switch rng.IntN(8) {
	case 0:
		return fmt.Sprintf("check out https://www.%s%s.com/%s", w, o, o)
	case 1:
		return fmt.Sprintf("mail me at %s.%s@example.org", o, w)
	case 2:
		return fmt.Sprintf("run python %s_%s.py first", w, o)
	case 3:
		return fmt.Sprintf("the file is %s-%s.pdf", o, w)
	case 4:
		return fmt.Sprintf("call %s%s(x) in the loop", o, title(w))
	case 5:
		return fmt.Sprintf("see %s.%s.net", w, o)
	case 6:
		return fmt.Sprintf("git checkout feature/%s-%s", w, o)
	default:
		return fmt.Sprintf("%s = get_%s(%s_id)", o, w, o)
	}
}

var places = []string{"Cockburn", "Titcomb", "Shitterton", "Penistone", "Clitheroe", "Scunthorpe", "Middlesex", "Essex",
	"Sussex", "Cockermouth", "Cockfosters", "Hancock", "Babcock", "Hitchcock", "Dickens", "Dickinson", "Titchfield",
	"Titchmarsh", "Lickey", "Wetwang", "Cumbernauld", "Cumnor", "Assington", "Bitchfield", "Twatt", "Cockshutt",
	"Glasscock", "Wilcox", "Peacock", "Woodcock", "Alcock", "Hiscock", "Slutshole", "Spunkie", "Analytica", "Hoare",
	"Shittington", "Pissouri", "Cockayne", "Prickwillow", "Crapstone", "Bell End",
	"Scratchy Bottom", "Sandwich", "Dicker", "Penisarwaun", "Assynt", "Cumwhinton", "Cocking",
	"Titterstone", "Shitlington", "Sexhow", "Clitherall", "Lickfold", "Pratt's Bottom"}

var nameSentences = []string{"We drove through %s on the way to the coast.", "Dr. %s will see you at ten.",
	"My grandmother grew up near %s.", "Has anyone been to %s? Is it nice?", "The package is still stuck in %s.",
	"Professor %s gave us extra homework again.", "%s won the match last night!", "I met a guy called %s at the conference.",
	"There's a lovely pub in %s.", "Train to %s is delayed by twenty minutes."}

func readLines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func write[T any](path string, lines []T) {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
}
