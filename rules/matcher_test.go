package rules

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func mustMatcher(t testing.TB, terms ...string) *Matcher {
	t.Helper()
	ts := make([]Term, len(terms))
	for i, s := range terms {
		ts[i] = Term{Text: s, List: "test"}
	}
	m, err := NewMatcher(ts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func find(m *Matcher, text string) []Match {
	t := Analyze(text)
	defer t.Release()
	return m.Match(t, nil)
}

func TestMatcherFindsDisguises(t *testing.T) {
	t.Parallel()
	m := mustMatcher(t, "fuck", "shit", "ass", "butt", "piece of shit", "g-spot", "2g1c", "paki", "idiot", "clit")
	cases := []struct {
		name, text, term string
		steps            Steps
	}{
		{"plain", "what the fuck", "fuck", 0},
		{"case", "what the FuCk", "fuck", StepCase},
		{"leetspeak digits", "sh1t happens", "shit", StepLeetspeak},
		{"leetspeak symbols", "you @$$", "ass", StepLeetspeak},
		{"leetspeak bang inside", "p@k!stan? no: p@k!", "paki", StepLeetspeak},
		{"stretched", "fuuuuuck", "fuck", StepStretch},
		{"stretched double", "buttttt", "butt", StepStretch},
		{"dots", "f.u.c.k this", "fuck", StepSeparators},
		{"spaces", "f u c k this", "fuck", StepSeparators},
		{"hyphens", "f-u-c-k", "fuck", StepSeparators},
		{"underscores", "f_u_c_k", "fuck", StepSeparators},
		{"separator with leet", "s.h.!.t", "shit", StepSeparators | StepLeetspeak},
		{"fullwidth", "ｆｕｃｋ", "fuck", StepWidth},
		{"mathematical bold", "𝐟𝐮𝐜𝐤", "fuck", StepWidth},
		{"enclosed", "ⓕⓤⓒⓚ", "fuck", StepWidth},
		{"greek upsilon", "fυck", "fuck", StepConfusables},
		{"cyrillic", "ѕһіt", "shit", StepConfusables},
		{"zero width space", "f\u200buck", "fuck", StepInvisible},
		{"zero width joiner and soft hyphen", "sh\u200di\u00adt", "shit", StepInvisible},
		{"accents", "fúck", "fuck", StepDiacritics},
		{"combining marks", "f\u0301u\u0300c\u0331k", "fuck", StepDiacritics},
		{"leading bang as a letter", "what an !diot", "idiot", StepLeetspeak},
		{"capital i for l", "cIit", "clit", StepCase},
		{"phrase", "you piece of shit", "piece of shit", 0},
		{"phrase with odd spacing", "you piece   of\tshit", "piece of shit", 0},
		{"phrase written together", "you pieceofshit", "piece of shit", 0},
		{"phrase split letter by letter", "p.i.e.c.e o.f s.h.i.t", "piece of shit", StepSeparators},
		{"hyphenated term", "the g-spot", "g-spot", 0},
		{"hyphenated term leet", "the g-sp07", "g-spot", StepLeetspeak},
		{"digits in the term", "2g1c", "2g1c", 0},
		{"term twice split", "s h i t s h i t", "shit", StepSeparators},
		{"trailing punctuation", "fuck!!!", "fuck", 0},
		{"mixture", "Ｆ.υ.ｕ.ｕ.ç.Ｋ", "fuck", StepWidth | StepConfusables | StepStretch | StepSeparators | StepDiacritics | StepCase},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := find(m, tc.text)
			for _, g := range got {
				if g.Term == tc.term {
					if g.Steps&tc.steps != tc.steps {
						t.Errorf("steps %s, want at least %s", g.Steps, tc.steps)
					}
					if !utf8.ValidString(tc.text[g.Start:g.End]) {
						t.Errorf("span %d:%d cuts a character", g.Start, g.End)
					}
					return
				}
			}
			t.Fatalf("%q: %s not found (got %+v)", tc.text, tc.term, got)
		})
	}
}

func TestMatcherLeavesInnocentTextAlone(t *testing.T) {
	t.Parallel()
	m := mustMatcher(t, "ass", "butt", "sex", "tit", "cock", "hell", "shit", "rapist", "cum", "anal", "fag")
	for _, text := range []string{
		"Scunthorpe United won", "the assassin passed the class", "a cocktail in the cockpit",
		"my therapist is great", "this hit hard", "hot water please", "but that is fine",
		"was struck", "can also", "as is", "Essex and Sussex", "titles and titans",
		"hello", "shiitake mushrooms", "cucumber", "analysis of the canal", "but", "butte", "1 2 3 4",
		"I'm so tired", "email me at assist@example.com", "figure 4: sex ratio",
	} {
		if got := find(m, text); len(got) > 0 && !(strings.Contains(text, "sex ratio") && got[0].Term == "sex") {
			t.Errorf("%q flagged: %+v", text, got)
		}
	}
}

func TestWildcards(t *testing.T) {
	t.Parallel()
	m := mustMatcher(t, "fuck*", "*shit", "*porn*", "ass*")
	cases := []struct {
		text string
		want string
	}{
		{"fucking hell", "fuck*"},
		{"what a fuuucker", "fuck*"},
		{"bullshit", "*shit"},
		{"horseshit!", "*shit"},
		{"cyberpornography", "*porn*"},
		{"assess the assets", "ass*"},
		{"motherfucker", ""},
		{"shitty", ""},
		{"ash", ""},
		{"as", ""},
	}
	for _, tc := range cases {
		got := find(m, tc.text)
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%q matched %+v", tc.text, got)
		case tc.want != "" && (len(got) == 0 || got[0].Term != tc.want):
			t.Errorf("%q: got %+v, want %s", tc.text, got, tc.want)
		}
	}
}

func TestTermErrors(t *testing.T) {
	t.Parallel()
	for _, term := range []string{"", "  ", "***", "!!!", "f*ck", "*two words*", strings.Repeat("a", MaxTermLength+1),
		"one two three four five six seven eight nine"} {
		if _, err := NewMatcher([]Term{{Text: term}}); err == nil {
			t.Errorf("term %q accepted", term)
		}
	}
}

func TestMaskSpans(t *testing.T) {
	t.Parallel()
	m := mustMatcher(t, "fuck", "shit", "piece of shit")
	cases := []struct{ text, want string }{
		{"what the fuck?", "what the ****?"},
		{"f.u.c.k you", "******* you"},
		{"f\u200bu\u0301ck off", "*\u200b*** off"}, // the zero-width space stays, the accent goes with its letter
		{"ｆｕｃｋ!", "****!"},
		{"piece of shit", "*************"},
		{"shit shit", "**** ****"},
		{"fuuuck, 💩 and shit", "******, 💩 and ****"},
	}
	for _, tc := range cases {
		if got := Mask(tc.text, find(m, tc.text)); got != tc.want {
			t.Errorf("Mask(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestFolded(t *testing.T) {
	t.Parallel()
	text := Analyze("Ｆ.U.U.U.C.K 5h1t")
	defer text.Release()
	if got := text.Folded(0, len(text.Source())); got != "fuuuck shit" {
		t.Fatalf("Folded = %q", got)
	}
}

func TestLargeListMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 10,000-term list")
	}
	terms := syntheticTerms(10_000)
	m, err := NewMatcher(terms)
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != len(terms) {
		t.Fatalf("Len %d", m.Len())
	}
	if got := find(m, "xx "+terms[1234].Text+" yy"); len(got) == 0 {
		t.Fatalf("term %q not found", terms[1234].Text)
	}
}

// syntheticTerms makes n distinct pronounceable words and a few phrases and
// wildcard terms, like a large moderator-written list.
func syntheticTerms(n int) []Term {
	const cons, vows = "bcdfghjkmnprstvwz", "aeiou"
	seen := map[string]bool{}
	terms := make([]Term, 0, n)
	x := uint32(2463534242)
	next := func() uint32 { x ^= x << 13; x ^= x >> 17; x ^= x << 5; return x }
	for len(terms) < n {
		var b strings.Builder
		syll := 2 + int(next()%3)
		for range syll {
			b.WriteByte(cons[next()%uint32(len(cons))])
			b.WriteByte(vows[next()%uint32(len(vows))])
		}
		w := b.String()
		switch next() % 20 {
		case 0:
			w += " " + w[:3]
		case 1:
			w += "*"
		}
		if !seen[w] {
			seen[w] = true
			terms = append(terms, Term{Text: w, List: "big"})
		}
	}
	return terms
}

func TestLinkPrecheckAndCaps(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{"this is fine. really.": false, "e.g. this": true, "see example.com": true, "go to https://x": true,
		"v1.2 is out": true, "end.": false, "a. b. c.": false, "www.x.org": true, "": false} {
		if got := mayHaveLink(s); got != want {
			t.Errorf("mayHaveLink(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]float64{"ABC def": 0.5, "HELLO!!": 1, "123": 0, "ÀBc": 2.0 / 3, "": 0, "Ωmega": 0.2} {
		text := Analyze(s)
		if got := text.CapsRatio(); got < want-1e-9 || got > want+1e-9 {
			t.Errorf("CapsRatio(%q) = %v, want %v", s, got, want)
		}
		text.Release()
	}
	for _, s := range []string{"", "hello", "héllo wörld", "\xff\xfe bad", "f\u200bu\u200bck", "日本語のテキスト"} {
		text := Analyze(s)
		if got, want := text.Length(), utf8.RuneCountInString(s); got != want {
			t.Errorf("Length(%q) = %d, want %d", s, got, want)
		}
		text.Release()
	}
}

// TestFingerprint: near-identical texts share a fingerprint, others do not.
func TestFingerprint(t *testing.T) {
	t.Parallel()
	fp := func(s string) uint64 {
		text := Analyze(s)
		defer text.Release()
		return text.Fingerprint()
	}
	for _, same := range [][2]string{{"buy n0w!!!", "BUY NOOOW"}, {"call 555-1234", "call 555 0000"}, {"h.e.l.l.o there", "hello there"}, {"room 12 at 3", "room 7 at 11"}} {
		if fp(same[0]) != fp(same[1]) {
			t.Errorf("%q and %q should share a fingerprint", same[0], same[1])
		}
	}
	for _, other := range [][2]string{{"buy now", "buy cow"}, {"call 555", "call me"}, {"a b", "ab c"}, {"hello there", "there hello"}, {"", "x"}} {
		if fp(other[0]) == fp(other[1]) {
			t.Errorf("%q and %q should not share a fingerprint", other[0], other[1])
		}
	}
}

// TestGramFilterHidesNoPartialMatch: every text in which the automaton of
// partial terms finds something passes the filter in front of it, over the
// corpus with the built-in profanity list, and the filter turns most clean
// texts away.
func TestGramFilterHidesNoPartialMatch(t *testing.T) {
	t.Parallel()
	dir := corpusDir(t)
	words, err := Builtin("profanity-en")
	if err != nil {
		t.Fatal(err)
	}
	terms := make([]Term, len(words))
	for i, w := range words {
		terms[i] = Term{Text: w, List: "profanity-en"}
	}
	m, err := NewMatcher(terms)
	if err != nil {
		t.Fatal(err)
	}
	if m.partial == nil || m.grams.off {
		t.Fatal("the built-in list should have partial terms, all of three letters or more")
	}
	var lines []corpusLine
	lines = append(lines, readLines(t, filepath.Join(dir, "positives.jsonl"))...)
	lines = append(lines, readLines(t, filepath.Join(dir, "negatives.jsonl"))...)
	hits, passed, clean := 0, 0, 0
	for _, l := range lines {
		text := Analyze(l.Text)
		found := len(m.partial.MatchThreadSafe(text.keys)) > 0
		may := m.grams.mayMatch(text.keys)
		if found && !may {
			t.Errorf("filter hides a partial match in %q", l.Text)
		}
		if found {
			hits++
		} else {
			clean++
			if may {
				passed++
			}
		}
		text.Release()
	}
	if hits == 0 {
		t.Fatal("no partial match in the corpus: the test shows nothing")
	}
	t.Logf("%d texts with partial matches; %d of %d others passed the filter", hits, passed, clean)
	if passed*4 > clean {
		t.Errorf("filter lets %d of %d texts without partial terms through", passed, clean)
	}

	short, err := NewMatcher([]Term{{Text: "as*"}, {Text: "*fuck*"}})
	if err != nil {
		t.Fatal(err)
	}
	if !short.grams.off || !short.grams.mayMatch([]byte("\x00hello\x00")) {
		t.Error("a term shorter than three bytes must send every text to the automaton")
	}
	var many []string
	for i := range 2 * maxGrams {
		many = append(many, fmt.Sprintf("%c%cqz*", 'a'+i/26, 'a'+i%26))
	}
	if !mustMatcher(t, many...).grams.off {
		t.Error("a filter holding more than maxGrams sequences should step aside")
	}
	three := mustMatcher(t, "jizz*", "*fuck*")
	for text, want := range map[string]bool{"jizzed": true, "Jiiizz": true, "motherfucker": true, "jigsaw fun": false, "ji": false} {
		if got := len(three.Match(Analyze(text), nil)) > 0; got != want {
			t.Errorf("%q: matched %v, want %v", text, got, want)
		}
	}
}

// TestNewDisguises: one example of each disguise the fixtures measure,
// with the step that explains it, and the innocent words that look like
// them.
func TestNewDisguises(t *testing.T) {
	t.Parallel()
	m := mustMatcher(t, "fuck", "shit", "cock", "rapist", "dick", "bitch", "ass", "cunt", "tit", "piece of shit")
	cases := []struct {
		name, text, term string
		steps            Steps
	}{
		{"negative squared", "what the 🅵🆄🅲🅺", "fuck", StepStyled},
		{"small capitals", "ꜱʜɪᴛ happens", "shit", StepStyled},
		{"regional indicators", "🇫 🇺 🇨 🇰 off", "fuck", StepRegional | StepSeparators},
		{"regional indicators adjacent", "🇫🇺🇨🇰", "fuck", StepRegional},
		{"emoji separators", "f🔥u🔥c🔥k", "fuck", StepSeparators},
		{"mixed separators", "f.u-c_k you", "fuck", StepSeparators},
		{"white space runs", "f  \tu\n c  k", "fuck", StepSeparators},
		{"leetspeak sequences", "ph|_|(|<", "fuck", StepLeetspeak},
		{"leetspeak symbols as separators", "f|u|c|k", "fuck", StepSeparators},
		{"armenian and cherokee", "ꮯօᏟк", "cock", StepConfusables},
		{"hooks and strokes", "ƈøƈĸ", "cock", StepDiacritics},
		{"invisible", "f\u00adu\u2060c\u180ek\ufeff", "fuck", StepInvisible},
		{"bidi override", "\u202Ekcuf\u202C off", "fuck", StepReversed},
		{"partly reversed", "fu\u202Ekc\u202C", "fuck", StepReversed},
		{"isolate", "\u2067kcuf\u2069", "fuck", StepReversed},
		{"hashtag", "#fuckmondays", "fuck", StepCompound},
		{"pascal case", "TotalBitchMove", "bitch", StepCompound},
		{"camel case", "lolFuckThis", "fuck", StepCompound},
		{"handle", "@dickhead99", "dick", StepCompound},
		{"censored", "what the f*ck", "fuck", StepCensored},
		{"censored bang", "c!nt", "cunt", StepCensored},
		{"three at once", "🅵.|_|.ς.к", "fuck", StepStyled | StepLeetspeak | StepSeparators},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, g := range find(m, tc.text) {
				if g.Term == tc.term {
					if g.Steps&tc.steps != tc.steps {
						t.Errorf("steps %s, want at least %s", g.Steps, tc.steps)
					}
					return
				}
			}
			t.Fatalf("%q: %s not found", tc.text, tc.term)
		})
	}
	for _, text := range []string{"d.o.c.u.m.e.n.t.a.r.i.e.s", "a s s e s s m e n t", "M_i_l_f_o_r_d", "𝓬𝓸𝓬𝓴𝓽𝓪𝓲𝓵",
		"#therapistlife", "ClassicAssessment", "@cockpitview", "Cockburn and Titcomb", "analysis.py",
		"expertsexchange.com", "(um, not sure)", "ǝʇɐʇs", "#penisland"} {
		if got := find(m, text); len(got) > 0 {
			t.Errorf("%q flagged: %+v", text, got)
		}
	}
}

// TestAllowCensored: a matcher told to let censored words through does.
func TestAllowCensored(t *testing.T) {
	t.Parallel()
	m, err := NewMatcherWith([]Term{{Text: "fuck"}}, MatcherOptions{AllowCensored: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := find(m, "f*ck off"); len(got) > 0 {
		t.Errorf("censored word matched: %+v", got)
	}
	if got := find(m, "fuck off"); len(got) == 0 {
		t.Error("the plain word must still match")
	}
	set, err := Parse("rules.yaml", []byte("version: 1\nsettings: {allow_censored: true}\nrules:\n  - id: r\n    when: {text: {contains: [fuck]}}\n    action: reject\n    tests: {match: [fuck], no_match: [\"f*ck\"]}\n"), nil)
	if err != nil || !set.Settings.AllowCensored {
		t.Fatalf("allow_censored not read: %v", err)
	}
}
