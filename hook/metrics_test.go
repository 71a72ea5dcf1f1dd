package hook

import (
	"testing"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// BenchmarkCountFired: counting the rules that fired for a message, which
// the hook does for every message a rule matched.
func BenchmarkCountFired(b *testing.B) {
	m := newMetrics(nil, nil, nil, new(health))
	v := moderation.Verdict{Fired: []moderation.Firing{{RuleID: "profanity", Action: rules.ActionMask},
		{RuleID: "links", Action: rules.ActionHold, Observed: true}}}
	b.ReportAllocs()
	for b.Loop() {
		m.countFired(&v)
	}
}
