package hook_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modgate/modgate/hook"
	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
	"github.com/modgate/modgate/storage"
)

const flagRules = `
version: 1
settings: {flag_field: %s}
lists:
  swears: {terms: [fuck]}
rules:
  - id: slurs
    when: {text: {contains: [slurword]}}
    action: reject
    reply: "Not sent."
  - id: swears
    when: {text: {contains: [list.swears]}}
    action: mask
  - id: quiet
    when: {text: {contains: [psst]}}
    action: rewrite
    rewrite: {silent: true}
  - id: question
    when: {text: {contains: [why]}}
    action: flag
`

func flagFixture(t *testing.T, flagField string) *fixture {
	t.Helper()
	set, err := rules.Parse("flags.yaml", []byte(strings.Replace(flagRules, "%s", flagField, 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return newFixture(t, func(c *hook.Config) {
		c.Engine = moderation.NewEngine(set, moderation.EngineOptions{State: storage.NewMemory(storage.MemoryOptions{})})
		c.Approvals = stream.NewApprovals(testSecret)
	})
}

// TestClientCannotForgeFlags: the flag field belongs to modgate. Whatever a
// client put in it comes back [] on every answer that lets the message
// through (allow, mask, rewrite, a retry's stored answer, an approved
// message sent again), and a flag rule that fires overwrites it.
func TestClientCannotForgeFlags(t *testing.T) {
	t.Parallel()
	f := flagFixture(t, "modgate_flags")
	cases := []struct{ name, message, want string }{
		{"allow", `{"text":"hello","modgate_flags":["trusted"],"x":1}`, `{"text":"hello","modgate_flags":[],"x":1}`},
		{"allow, not a list", `{"modgate_flags":"trusted","text":"hello"}`, `{"modgate_flags":[],"text":"hello"}`},
		{"allow, key written with an escape", `{"text":"hello","modgate\u005fflags":["trusted"]}`, `{"text":"hello","modgate\u005fflags":[]}`},
		{"allow, repeated", `{"modgate_flags":["a"],"text":"hello","modgate_flags":null}`, `{"modgate_flags":[],"text":"hello","modgate_flags":[]}`},
		{"mask", `{"text":"what the fuck","modgate_flags":["trusted"]}`, `{"text":"what the ****","modgate_flags":[]}`},
		{"rewrite", `{"text":"psst","silent":false,"modgate_flags":["trusted"]}`, `{"text":"psst","silent":true,"modgate_flags":[]}`},
		{"flag", `{"text":"why","modgate_flags":["trusted"]}`, `{"text":"why","modgate_flags":["question"]}`},
		{"reject", `{"text":"slurword","modgate_flags":["trusted"]}`, `{"type":"error","text":"Not sent."}`},
		{"without the field, untouched", `{"text":"hello","flags":["mine"]}`, `{"text":"hello","flags":["mine"]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := answerMessage(t, f.send(payload(tc.message))); string(got) != tc.want {
				t.Fatalf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}

	t.Run("a retry's stored answer", func(t *testing.T) {
		for _, tc := range []struct{ name, message, want string }{
			{"unchanged", `{"text":"hello","modgate_flags":["trusted"]}`, `{"text":"hello","modgate_flags":[]}`},
			{"patched", `{"text":"fuck why","modgate_flags":["trusted"]}`, `{"text":"**** why","modgate_flags":["question"]}`},
		} {
			body := []byte(payload(tc.message))
			for attempt := range 2 {
				req := signed(body, testKey, testSecret)
				req.Header.Set("X-Webhook-Id", "wh-flags-"+tc.name)
				if got := answerMessage(t, f.do(req)); string(got) != tc.want {
					t.Fatalf("%s, attempt %d:\n got %s\nwant %s", tc.name, attempt+1, got, tc.want)
				}
			}
		}
		metrics := f.do(httptest.NewRequest(http.MethodGet, "/metrics", nil)).Body.String()
		if !strings.Contains(metrics, `modgate_hook_requests_total{hook="before_send",outcome="replay"} 2`) {
			t.Fatalf("the retries were not answered from the store:\n%s", grep(metrics, "hook_requests_total"))
		}
	})

	t.Run("an approved message sent again", func(t *testing.T) {
		marker := stream.NewApprovals(testSecret).Marker(&moderation.Held{ID: "bs-flags", UserID: "u-17", Text: "hello"})
		msg := `{"text":"hello","modgate_flags":["trusted"],"modgate_approval":"` + marker + `"}`
		if got := answerMessage(t, f.send(payload(msg))); string(got) != `{"text":"hello","modgate_flags":[]}` {
			t.Fatalf("answer %s", got)
		}
	})
}

// TestFlagFieldIsTheConfiguredOne: with another flag_field, that field is
// modgate's and modgate_flags is an ordinary custom field.
func TestFlagFieldIsTheConfiguredOne(t *testing.T) {
	t.Parallel()
	f := flagFixture(t, "review_flags")
	msg := `{"text":"why","review_flags":["trusted"],"modgate_flags":["mine"]}`
	if got := answerMessage(t, f.send(payload(msg))); string(got) != `{"text":"why","review_flags":["question"],"modgate_flags":["mine"]}` {
		t.Fatalf("answer %s", got)
	}
	msg = `{"text":"hello","review_flags":["trusted"],"modgate_flags":["mine"]}`
	if got := answerMessage(t, f.send(payload(msg))); string(got) != `{"text":"hello","review_flags":[],"modgate_flags":["mine"]}` {
		t.Fatalf("answer %s", got)
	}
}
