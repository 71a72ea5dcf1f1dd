package moderation

import (
	"context"

	"github.com/modgate/modgate/rules"
)

// RuleResult says what one rule made of a message, for dry runs.
type RuleResult struct {
	RuleID   string
	Action   rules.Action
	Reached  bool   // false when an earlier rule had already ended the check
	Skipped  string // why the rule did not apply: "exempt", "inactive"; "" when it did
	Matched  bool
	Observed bool
	Limit    *rules.Limit // the rule acts only past this limit, which a dry run does not count
	Matches  []Explained
}

// Explained is a match with the text it covered and the folded form the
// matcher compared.
type Explained struct {
	rules.Match
	Original string // the characters of the message that formed the match
	Folded   string
}

// Explain evaluates msg like Evaluate, without a deadline and counting
// nothing (limits are shown, never hit), and also reports every rule:
// whether the check reached it, whether it matched, and why. It is the same
// walk over the rules as Evaluate's, which goes on past the rule that ended
// the check to tell what the rules after it would have made of the message.
// The check ends at the rule that decided it: the one that refused the
// message, or the first enforced allow that fired; a rule in observe mode
// never ends it. It is for dry runs and tools, not the hot path.
func (e *Engine) Explain(msg *Message) (Verdict, []RuleResult) {
	v, _, explained := e.evaluate(context.Background(), msg, Options{}, true)
	return v, explained
}

// note adds what a rule made of the message to the explanation.
func (sc *scratch) note(r *rules.Rule, skip string, when rules.Truth) {
	res := RuleResult{RuleID: r.ID, Action: r.Action, Skipped: skip, Matched: when == rules.True,
		Observed: r.Mode == rules.ModeObserve, Limit: r.Limit}
	text := sc.in.Text
	for _, m := range sc.found {
		ex := Explained{Match: m}
		if m.Start >= 0 && m.End <= len(text.Source()) {
			ex.Original, ex.Folded = text.Source()[m.Start:m.End], text.Folded(m.Start, m.End)
		}
		res.Matches = append(res.Matches, ex)
	}
	sc.explained = append(sc.explained, res)
}

// explanation hands out what the rules made of the message, each marked
// reached up to the rule that ended the check.
func (sc *scratch) explanation(v *Verdict) []RuleResult {
	out := sc.explained
	sc.explained = nil
	ended, reached := endedBy(v), true
	for i := range out {
		out[i].Reached = reached
		if out[i].RuleID == ended {
			reached = false
		}
	}
	return out
}

// endedBy names the rule that ended the check: the one that refused the
// message, or the first enforced allow that fired; "" when the check ran
// through every rule.
func endedBy(v *Verdict) string {
	if v.Refused() {
		return v.RuleID
	}
	for _, f := range v.Fired {
		if !f.Observed && f.Action == rules.ActionAllow {
			return f.RuleID
		}
	}
	return ""
}
