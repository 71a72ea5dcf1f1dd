package hook

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/moderation"
)

func TestHighlight(t *testing.T) {
	t.Parallel()
	span := func(rule string, start, end int, term string) moderation.Span {
		return moderation.Span{Rule: rule, Start: start, End: end, Term: term, List: "l"}
	}
	show := func(segs []segment) string {
		var b strings.Builder
		for _, s := range segs {
			if s.Mark {
				fmt.Fprintf(&b, "[%s|%s]", s.Text, s.Title)
			} else {
				b.WriteString(s.Text)
			}
		}
		return b.String()
	}
	for _, tc := range []struct {
		name  string
		text  string
		spans []moderation.Span
		want  string
	}{
		{"no spans", "hello there", nil, "hello there"},
		{"one", "buy now please", []moderation.Span{span("spam", 0, 7, "buy now")}, "[buy now|l:buy now (rule spam)] please"},
		{"two, out of order", "a bad and worse end", []moderation.Span{span("r", 10, 15, "worse"), span("r", 2, 5, "bad")},
			"a [bad|l:bad (rule r)] and [worse|l:worse (rule r)] end"},
		{"overlapping, by two rules", "xx cheap meds yy", []moderation.Span{span("a", 3, 8, "cheap"), span("b", 3, 13, "cheap meds")},
			"xx [cheap meds|l:cheap (rule a); l:cheap meds (rule b)] yy"},
		{"touching", "abcd", []moderation.Span{span("a", 0, 2, "ab"), span("b", 2, 4, "cd")}, "[ab|l:ab (rule a)][cd|l:cd (rule b)]"},
		{"the same match twice", "bad", []moderation.Span{span("a", 0, 3, "bad"), span("a", 0, 3, "bad")}, "[bad|l:bad (rule a)]"},
		{"multi-byte characters", "çheap ｆｕｃｋ!", []moderation.Span{span("a", 7, 19, "fuck")}, "çheap [ｆｕｃｋ|l:fuck (rule a)]!"},
		{"a span inside a character is left out", "çheap", []moderation.Span{span("a", 1, 3, "x")}, "çheap"},
		{"a span past the end is left out", "short", []moderation.Span{span("a", 2, 40, "x")}, "short"},
		{"empty and negative spans are left out", "text", []moderation.Span{span("a", 2, 2, "x"), span("a", -1, 2, "x")}, "text"},
		{"markup is text", "<b>x</b>", []moderation.Span{span("a", 3, 4, "x")}, "<b>[x|l:x (rule a)]</b>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := highlight(tc.text, tc.spans)
			if show(got) != tc.want {
				t.Fatalf("got  %s\nwant %s", show(got), tc.want)
			}
			var joined strings.Builder
			for _, s := range got {
				joined.WriteString(s.Text)
			}
			if joined.String() != tc.text {
				t.Fatalf("the segments make %q, not the text", joined.String())
			}
		})
	}
}

// TestLocalPath: a redirect after sign-in or a decision never leaves the
// console, whatever the form said.
func TestLocalPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                               "/console",
		"/console":                       "/console",
		"/console/audit?actor=ann":       "/console/audit?actor=ann",
		"/console/items/a%2Fb":           "/console/items/a%2Fb",
		"/admin/queue":                   "/console",
		"/consolex":                      "/console",
		"//evil.example/console":         "/console",
		"https://evil.example/console":   "/console",
		"/\\evil.example":                "/console",
		"/console/\r\nSet-Cookie: x=1":   "/console",
		"javascript:alert(1)//console":   "/console",
		"/console/../admin":              "/console",
		"/console/./audit":               "/console/audit",
		"http:/console":                  "/console",
		"/console?next=//evil.example/x": "/console?next=//evil.example/x",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAgo: durations in words, as the queue shows them.
func TestAgo(t *testing.T) {
	t.Parallel()
	for d, want := range map[string]string{"-5s": "under a minute", "30s": "under a minute", "5m30s": "5 min", "3h": "3 h",
		"47h": "47 h", "72h": "3 d"} {
		dur, _ := time.ParseDuration(d)
		if got := ago(dur); got != want {
			t.Errorf("ago(%s) = %q, want %q", d, got, want)
		}
	}
}
