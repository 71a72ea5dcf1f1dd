package moderation

import (
	"time"

	"github.com/modgate/modgate/rules"
)

// An evaluation looks at the rules in two passes. The first runs every
// rule's cheap tests (word lists, fields, links, networks) top to bottom, up
// to the first rule that surely ends the check; a rule they leave undecided
// because of a costly test (a regular expression) waits. The second runs
// the waiting rules' costly tests, top to bottom. A costly rule above a
// cheap one therefore never keeps the cheap one from being evaluated, and
// the order of the rules still decides as the file says, for every rule
// that was evaluated.

// stepState is where a rule stands in an evaluation.
type stepState uint8

const (
	stepFired   stepState = iota // its condition holds
	stepPending                  // its cheap tests left it undecided: its costly ones decide
	stepUnknown                  // it could not be evaluated in time: its on_error decides
	stepDropped                  // its costly tests, or its limit's key, ruled it out
)

// step is a rule that fired, that waits for its costly tests, or that ran
// out of time; a step without a rule marks that time ran out.
type step struct {
	rule   *rules.Rule
	m0, m1 int // its matches in scratch.matches
	hit    int // its Hit, or -1
	state  stepState
	exempt rules.Truth // what its exemption made of the message in the first pass
}

// ends reports whether a rule that fires surely ends the check: an enforced
// allow, hold or reject without a limit still to count.
func ends(r *rules.Rule) bool {
	return r.Limit == nil && r.Mode == rules.ModeEnforce && r.Action.Final()
}

// onlyLimits reports whether every rule that matched is a limit rule.
func onlyLimits(steps []step) bool {
	for _, st := range steps {
		if st.state == stepDropped {
			continue
		}
		if st.state != stepFired || st.hit < 0 {
			return false
		}
	}
	return true
}

// cheapTests is the first pass. The budget is spent as each rule's work is
// estimated; past the deadline, the rules not reached are unevaluated.
//
// An evaluation that explains itself runs every test at once (it has no
// deadline to keep, so nothing is put off) and goes on past the rule that
// ends the check, to tell what each rule after it would have made of the
// message; those rules take no step.
func cheapTests(set *rules.Set, sc *scratch, now time.Time) {
	in := &sc.in
	in.SkipCostly = !sc.explain
	defer func() { in.SkipCostly = false }()
	ended := false
	for i, r := range set.Rules {
		if !in.Budget.Spend(r.Work(in)) {
			unevaluated(sc, set.Rules[i:], now)
			return
		}
		skip, exempt, when := sc.test(set, r, now)
		if sc.explain {
			sc.note(r, skip, when)
		}
		if ended || skip != "" || when == rules.False {
			continue
		}
		st := step{rule: r, hit: -1, exempt: exempt}
		if when == rules.Unknown || exempt == rules.Unknown {
			st.state = stepPending
		} else {
			st.m0, st.m1 = sc.keep()
		}
		sc.steps = append(sc.steps, st)
		if st.state == stepFired && ends(r) {
			if !sc.explain {
				return
			}
			ended = true
		}
	}
}

// Why a rule does not apply to a message.
const (
	skipInactive = "inactive" // outside its active window
	skipExempt   = "exempt"   // its exemption holds
)

// test runs one rule over the message: its window, its exemption and its
// condition (the cheap tests only, while in.SkipCostly puts the costly ones
// off), leaving what the condition matched in sc.found. A rule that does
// not apply (skip) is not tested further, unless the evaluation explains
// itself.
func (sc *scratch) test(set *rules.Set, r *rules.Rule, now time.Time) (skip string, exempt, when rules.Truth) {
	sc.found = sc.found[:0]
	if !r.Active.Contains(now) {
		skip = skipInactive
	} else if exempt = sc.exempt.ask(set, r, &sc.in, sc.found); exempt == rules.True {
		skip = skipExempt
	}
	if skip != "" && !sc.explain {
		return skip, exempt, rules.False
	}
	when = rules.True
	if r.When != nil {
		sc.found, when = r.When.Match(&sc.in, sc.found)
	}
	return skip, exempt, when
}

// keep copies what the rule just tested matched into sc.matches, and
// returns where it lies there.
func (sc *scratch) keep() (m0, m1 int) {
	m0 = len(sc.matches)
	sc.matches = append(sc.matches, sc.found...)
	return m0, len(sc.matches)
}

// costlyTests is the second pass: the waiting rules, top to bottom, until
// one fires that ends the check (the rules after it no longer matter) or
// the deadline passes (the rules still waiting are unevaluated).
func costlyTests(set *rules.Set, sc *scratch) {
	in := &sc.in
	for k := 0; k < len(sc.steps); k++ {
		st := &sc.steps[k]
		if st.state != stepPending {
			continue
		}
		if in.Budget.Passed() {
			st.state = stepUnknown
			continue
		}
		r := st.rule
		sc.found, st.state = sc.found[:0], stepFired
		when := rules.True
		if r.When != nil {
			sc.found, when = r.When.Match(in, sc.found)
		}
		if when == rules.True && st.exempt == rules.Unknown {
			// Not into sc.found, which holds what the rule matched.
			when = not(sc.exempt.ask(set, r, in, nil))
		}
		switch when {
		case rules.False:
			st.state = stepDropped
			continue
		case rules.Unknown:
			st.state = stepUnknown
			continue
		}
		st.m0, st.m1 = sc.keep()
		if ends(r) {
			sc.steps = sc.steps[:k+1]
			return
		}
	}
}

// not turns True and False round: an exemption that holds rules a rule out.
func not(t rules.Truth) rules.Truth {
	switch t {
	case rules.True:
		return rules.False
	case rules.False:
		return rules.True
	}
	return rules.Unknown
}

// unevaluated adds the rules the evaluation had no time for whose on_error
// refuses the message (each decides in its rule's place), and a mark that
// time ran out.
func unevaluated(sc *scratch, rest []*rules.Rule, now time.Time) {
	for _, r := range rest {
		if r.Active.Contains(now) && (r.OnError == rules.ActionReject || r.OnError == rules.ActionHold) {
			sc.steps = append(sc.steps, step{rule: r, hit: -1, state: stepUnknown})
		}
	}
	sc.steps = append(sc.steps, step{hit: -1, state: stepUnknown})
}

// exemptCache keeps what the settings' exemption, shared by most rules,
// made of the message: it is asked once, and again without putting costly
// tests off when the first answer was Unknown.
type exemptCache struct {
	asked  bool
	answer rules.Truth
}

// ask evaluates the exemption that applies to r. (Which one that is, is
// told by the rule, not by comparing conditions: an `all` or `any` is a
// slice, which cannot be compared.)
func (c *exemptCache) ask(set *rules.Set, r *rules.Rule, in *rules.Input, buf []rules.Match) rules.Truth {
	ex := set.Exempt(r)
	switch {
	case ex == nil:
		return rules.False
	case r.Exempt != nil: // the rule's own
		_, t := ex.Match(in, buf)
		return t
	case !c.asked || (c.answer == rules.Unknown && !in.SkipCostly):
		_, c.answer = ex.Match(in, buf)
		c.asked = true
	}
	return c.answer
}
