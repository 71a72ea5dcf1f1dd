package rules

import (
	"testing"
	"time"
)

// TestTemplateRender: every placeholder, and what a reply says when one has
// nothing to say: a sender without a name leaves no "Sorry , ..." behind,
// and an unknown wait is not "1 second".
func TestTemplateRender(t *testing.T) {
	t.Parallel()
	limit := &Limit{Count: 5, Per: 10 * time.Second}
	full := ReplyData{Match: "spam.xyz", RuleID: "links", UserName: "Ann", Limit: limit, RetryAfter: 4 * time.Second, RetryKnown: true}
	cases := []struct {
		name, src string
		data      ReplyData
		want      string
	}{
		{"all placeholders", "{{rule.id}}: {{match}}, {{user.name}}; {{limit.count}} per {{limit.per}}, in {{retry_after}}",
			full, "links: spam.xyz, Ann; 5 per 10 seconds, in 4 seconds"},
		{"no name before a comma", "Sorry {{user.name}}, that link is not allowed.", ReplyData{}, "Sorry, that link is not allowed."},
		{"no name before an exclamation mark", "Hi {{user.name}}!", ReplyData{}, "Hi!"},
		{"no name between words", "Please {{user.name}} wait", ReplyData{}, "Please wait"},
		{"no name at the start", "{{user.name}}, slow down.", ReplyData{}, "slow down."},
		{"no name at the end", "Slow down {{user.name}}", ReplyData{}, "Slow down"},
		{"a name", "Sorry {{user.name}}, no.", ReplyData{UserName: "Ann"}, "Sorry Ann, no."},
		{"wait unknown", "Try again in {{retry_after}}.", ReplyData{Limit: limit}, "Try again in a little while."},
		{"wait under a second", "Try again in {{retry_after}}.", ReplyData{Limit: limit, RetryAfter: 300 * time.Millisecond, RetryKnown: true},
			"Try again in 1 second."},
		{"plain text", "No.", full, "No."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tpl, err := parseTemplate(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if got := tpl.Render(tc.data); got != tc.want {
				t.Fatalf("Render = %q, want %q", got, tc.want)
			}
		})
	}
}
