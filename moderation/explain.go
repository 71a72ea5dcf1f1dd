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

// Explain evaluates msg like Evaluate, without a deadline, and also reports
// every rule: whether the check reached it, whether it matched, and why.
// The check ends at the rule that decided it: the one that refused the
// message, or the first enforced allow that fired; a rule in observe mode
// never ends it. It is for dry runs and tools, not the hot path.
func (e *Engine) Explain(msg *Message) (Verdict, []RuleResult) {
	set := e.set.Load()
	// A dry run counts nothing: limits are shown, never hit.
	dry := NewEngine(set, EngineOptions{Now: e.now})
	v, _ := dry.Evaluate(context.Background(), msg, Options{})
	text := rules.Analyze(msg.Text)
	defer text.Release()
	in := rules.Input{Text: text, Message: msg.Object, User: msg.User, Channel: msg.Channel,
		RequestInfo: msg.RequestInfo, Metadata: msg.Metadata, Hook: msg.Hook, Now: e.now()}
	if in.Hook == "" {
		in.Hook = HookBeforeSend
	}
	endedBy := endedBy(&v)
	reached := true
	out := make([]RuleResult, 0, len(set.Rules))
	for _, r := range set.Rules {
		res := RuleResult{RuleID: r.ID, Action: r.Action, Reached: reached, Observed: r.Mode == rules.ModeObserve, Limit: r.Limit}
		if !r.Active.Contains(in.Now) {
			res.Skipped = "inactive"
		} else if ex := set.Exempt(r); ex != nil {
			if _, exempt := ex.Match(&in, nil); exempt == rules.True {
				res.Skipped = "exempt"
			}
		}
		var found []rules.Match
		res.Matched = true
		if r.When != nil {
			var t rules.Truth
			found, t = r.When.Match(&in, nil)
			res.Matched = t == rules.True
		}
		for _, m := range found {
			ex := Explained{Match: m}
			if m.Start >= 0 && m.End <= len(msg.Text) {
				ex.Original, ex.Folded = msg.Text[m.Start:m.End], text.Folded(m.Start, m.End)
			}
			res.Matches = append(res.Matches, ex)
		}
		if r.ID == endedBy {
			reached = false
		}
		out = append(out, res)
	}
	return v, out
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
