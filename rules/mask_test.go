package rules

import (
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestMaskKeepsFormatCharacters: a mask stars the letters of the word and
// nothing else. Format characters written right after the word (the end
// of a bidirectional override, a word joiner, a variation selector, a
// zero-width joiner before an emoji) once went with it, and the rest of the
// message then read differently: "\u202Efuck\u202C ,see moc.elgoog" showed
// a spoofed domain once the closing U+202C was gone.
func TestMaskKeepsFormatCharacters(t *testing.T) {
	t.Parallel()
	m := mustMatcher(t, "fuck", "shit")
	cases := []struct{ name, text, want string }{
		{"pop directional formatting U+202C", "\u202Efuck\u202C ,see moc.elgoog", "\u202E****\u202C ,see moc.elgoog"},
		{"pop directional isolate U+2069", "\u2067fuck\u2069 then", "\u2067****\u2069 then"},
		{"zero width space U+200B", "fuck\u200B off", "****\u200B off"},
		{"word joiner U+2060", "fuck\u2060 you", "****\u2060 you"},
		{"variation selector U+FE0F", "fuck\uFE0F now", "****\uFE0F now"},
		{"zero width joiner before an emoji", "shit\u200D💩 happens", "****\u200D💩 happens"},
		{"inside the word", "f\u200Bu\u202Cc\u2060k", "*\u200B*\u202C*\u2060*"},
		{"combining marks go with their letter", "fu\u0308ck\u0301 it", "**** it"},
		{"nothing matched", "\u202Ehello\u202C", "\u202Ehello\u202C"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			found := find(m, tc.text)
			if tc.want != tc.text && len(found) == 0 {
				t.Fatalf("%q: no match", tc.text)
			}
			if got := Mask(tc.text, found); got != tc.want {
				t.Fatalf("Mask(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

// TestReplaceKeepsFormatCharacters: a rewrite's replace keeps them too.
func TestReplaceKeepsFormatCharacters(t *testing.T) {
	t.Parallel()
	set, err := Parse("rules.yaml", []byte(`version: 1
rules:
  - id: r
    action: rewrite
    rewrite: {replace: {heck: "h*ck"}}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	rw := set.Rules[0].Rewrite
	for text, want := range map[string]string{
		"\u202Eheck\u202C ,see moc.elgoog": "\u202Eh*ck\u202C ,see moc.elgoog",
		"what the heck\uFE0F":              "what the h*ck\uFE0F",
	} {
		if got := rw.ApplyText(text); got != want {
			t.Errorf("ApplyText(%q) = %q, want %q", text, got, want)
		}
	}
}

// FuzzMaskKeepsOutside: a mask changes the matched letters and nothing
// else. The text between the matches comes out byte for byte; inside a
// match, every invisible or format character stays, in order; every other
// character becomes one '*', except combining marks, which go with their
// letter; and the result is valid UTF-8.
func FuzzMaskKeepsOutside(f *testing.F) {
	m := mustMatcher(f, "fuck", "shit", "piece of shit", "ass*", "*hole")
	for _, s := range []string{"what the fuck", "f.u.c.k", "piece of s h i t", "assholes", "ｆｕｃｋ!", "sh\u200bit\u0301",
		"\u202Efuck\u202C ,see moc.elgoog", "\u2067shit\u2069", "fuck\u200B", "fuck\u2060x", "shit\uFE0F", "fuck\u200D💩",
		"f\u200Bu\u202Cc\u2060k", "a\u034Fss\u00ADhole", "🅵🆄🅲🅺", "🇫 🇺🇨\u200b🇰", "f🔥u-c_k", "ph|_|(|<",
		"fu\u202Ekc\u202C!", "\u2067tihs\u2069 x", "#FuckMondays", "@shithead99", "f*ck", "sh!t", "(fuck)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // texts come from JSON decoding: always valid UTF-8
		}
		found := find(m, s)
		masked := Mask(s, found)
		if !utf8.ValidString(masked) {
			t.Fatalf("Mask(%q) = %q is not valid UTF-8", s, masked)
		}
		spans := mergedSpans(t, s, found)
		rest := masked
		pos := 0
		for _, sp := range spans {
			outside := s[pos:sp[0]]
			if !strings.HasPrefix(rest, outside) {
				t.Fatalf("%q -> %q: %q before a match changed", s, masked, outside)
			}
			rest = rest[len(outside):]
			var want strings.Builder // what the span must become
			for _, r := range s[sp[0]:sp[1]] {
				switch {
				case r != utf8.RuneError && invisible(r):
					want.WriteRune(r)
				case r != utf8.RuneError && lookupFoldSafe(r).cls == clsDrop: // a mark on a starred letter
				default:
					want.WriteByte('*')
				}
			}
			if !strings.HasPrefix(rest, want.String()) {
				t.Fatalf("%q -> %q: the match %q should become %q", s, masked, s[sp[0]:sp[1]], want.String())
			}
			rest = rest[want.Len():]
			pos = sp[1]
		}
		if rest != s[pos:] {
			t.Fatalf("%q -> %q: the end %q changed to %q", s, masked, s[pos:], rest)
		}
	})
}

// mergedSpans returns the matches' spans in order, overlaps merged.
func mergedSpans(t *testing.T, s string, found []Match) [][2]int {
	var spans [][2]int
	for _, mt := range found {
		if mt.Start < 0 || mt.End > len(s) || mt.Start >= mt.End {
			t.Fatalf("bad span %+v for %q", mt, s)
		}
		spans = append(spans, [2]int{mt.Start, mt.End})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	var out [][2]int
	for _, sp := range spans {
		if n := len(out); n > 0 && sp[0] < out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], sp[1])
			continue
		}
		out = append(out, sp)
	}
	return out
}
