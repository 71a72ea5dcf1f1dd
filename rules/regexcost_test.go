package rules

import (
	"strings"
	"testing"
)

// TestCostlyPatternWarnings: a pattern whose counted repetitions make its
// program long is accepted with a warning at its position; small patterns,
// and patterns anchored at the start of the text, are not warned about.
func TestCostlyPatternWarnings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern string
		warn    string // in the warning; "" for none
	}{
		{`[a-z]{1000}[0-9]`, "the repetition {1000} makes this pattern 1003 steps long"},
		{`(?:\w+\s){20,200}`, "the repetition {20,200}"},
		{`\b(?:\d[ -]?){13,16}\b`, ""},     // card numbers: 55 steps
		{`\w{3,30}@\w{3,30}\.\w{2,5}`, ""}, // 126 steps
		{`^.{0,500}spam`, ""},              // anchored: the match cannot start again at each character
		{`(?i)free\s+coins`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.pattern, func(t *testing.T) {
			t.Parallel()
			src := "version: 1\nrules:\n  - id: r\n    when: {text: {matches: '" + tc.pattern + "'}}\n    action: reject\n"
			set, err := Parse("rules.yaml", []byte(src), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.warn == "" {
				if len(set.Warnings) != 0 {
					t.Fatalf("warnings %v", set.Warnings)
				}
				return
			}
			if len(set.Warnings) != 1 {
				t.Fatalf("warnings %v", set.Warnings)
			}
			w := set.Warnings[0]
			if !w.Warning || w.Line != 4 || w.Column != 28 || w.Rule != "r" || !strings.Contains(w.Msg, tc.warn) {
				t.Fatalf("warning %q at %d:%d", w.Error(), w.Line, w.Column)
			}
			if !strings.HasPrefix(w.Error(), "rules.yaml:4:28: warning: rule \"r\": when.text.matches: ") {
				t.Fatalf("warning reads %q", w.Error())
			}
		})
	}
}

// TestWarningsGoWithErrors: a refused file still says what it would have
// been warned about.
func TestWarningsGoWithErrors(t *testing.T) {
	t.Parallel()
	src := "version: 1\nrules:\n  - id: r\n    when: {text: {matches: '[a-z]{1000}[0-9]'}}\n    action: nope\n"
	_, err := Parse("rules.yaml", []byte(src), nil)
	fe, ok := err.(*FileError)
	if !ok || len(fe.Problems) != 1 || len(fe.Warnings) != 1 {
		t.Fatalf("err %#v", err)
	}
	if strings.Contains(fe.Error(), "warning") {
		t.Fatalf("Error() lists warnings: %v", fe)
	}
}
