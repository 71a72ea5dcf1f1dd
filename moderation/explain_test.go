package moderation_test

import (
	"testing"

	"github.com/modgate/modgate/moderation"
)

// TestExplainObserveModeDoesNotEndTheCheck: a rule in observe mode that
// would reject is reported as matched, and the rules after it as reached;
// the check ends at the enforced decision.
func TestExplainObserveModeDoesNotEndTheCheck(t *testing.T) {
	t.Parallel()
	src := `version: 1
rules:
  - {id: observe-reject, when: {text: {contains: [darn]}}, action: reject, mode: observe}
  - {id: mask, when: {text: {contains: [darn]}}, action: mask}
  - {id: allow, when: {text: {contains: [fine]}}, action: allow}
  - {id: after, when: {text: {contains: [darn]}}, action: flag}
`
	e := moderation.NewEngine(mustSet(t, src), moderation.EngineOptions{})
	v, results := e.Explain(&moderation.Message{Text: "darn, fine"})
	if v.Text != "****, fine" {
		t.Fatalf("verdict %+v", v)
	}
	want := []struct {
		id               string
		reached, matched bool
	}{{"observe-reject", true, true}, {"mask", true, true}, {"allow", true, true}, {"after", false, true}}
	for i, w := range want {
		r := results[i]
		if r.RuleID != w.id || r.Reached != w.reached || r.Matched != w.matched {
			t.Errorf("%s: reached %v matched %v, want %v %v", r.RuleID, r.Reached, r.Matched, w.reached, w.matched)
		}
	}
}
