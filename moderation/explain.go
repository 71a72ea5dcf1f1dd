package moderation

import (
	"github.com/modgate/modgate/rules"
)

// RuleResult says what one rule made of a message, for dry runs.
type RuleResult struct {
	RuleID  string
	Action  rules.Action
	Reached bool // false when an earlier rule had already ended the check
	Matched bool
	Matches []Explained
}

// Explained is a match with the text it covered and the folded form the
// matcher compared.
type Explained struct {
	rules.Match
	Original string // the characters of the message that formed the match
	Folded   string
}

// Explain evaluates msg like Evaluate, without a deadline, and also reports
// every rule: whether the check reached it, whether it matched, and why.
// It is for dry runs and tools, not the hot path.
func (e *Engine) Explain(msg *Message) (Verdict, []RuleResult) {
	set := e.set.Load()
	v := e.Evaluate(msg, zeroTime)
	text := rules.Analyze(msg.Text)
	defer text.Release()
	in := rules.Input{Text: text}
	reached := true
	out := make([]RuleResult, 0, len(set.Rules))
	fired := map[string]bool{}
	for _, f := range v.Fired {
		fired[f.RuleID] = true
	}
	for _, r := range set.Rules {
		res := RuleResult{RuleID: r.ID, Action: r.Action, Reached: reached}
		var found []rules.Match
		res.Matched = true
		if r.When != nil {
			found, res.Matched = r.When.Match(&in, nil)
		}
		for _, m := range found {
			res.Matches = append(res.Matches, Explained{
				Match:    m,
				Original: msg.Text[m.Start:m.End],
				Folded:   text.Folded(m.Start, m.End),
			})
		}
		if reached && res.Matched && r.Action.Final() && fired[r.ID] {
			reached = false
		}
		out = append(out, res)
	}
	return v, out
}
