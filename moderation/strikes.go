package moderation

import (
	"time"

	"github.com/modgate/modgate/rules"
)

// Strikes are what a message does to its sender's strikes, in the message's
// one call to State (Claim.Strikes), after its hits: the strikes the rules
// that act on it give, and the counts their consequences read. A retry of a
// claimed webhook id gives and counts nothing.
type Strikes struct {
	Give []Strike     // in rule order
	Read []StrikeRead // read once the strikes are given
}

// Strike is the strikes one rule gives the sender, if it acts on the
// message: a rule acts unless a limit, counted in the same call, decides
// otherwise. With Hit set, the rule has a limit and acts only when that
// hit is refused; the rules above it count their limits in hits[:After],
// and one of those that is refused and stops the message (Hit.Stop) keeps
// the rule from acting at all.
type Strike struct {
	Count    int
	Decay    time.Duration // how long each is remembered
	Observed bool          // the rule is in observe mode: kept apart, read only by counts that say Observed
	Hit      int           // the rule's limit hit, or -1
	After    int           // hits of the rules above it

	Given bool // result: the strikes were given
}

// StrikeRead is one count of the sender's strikes: those given within
// Window.Within (and still remembered), the message's own included; with
// Window.Observed, the strikes of rules in observe mode too.
type StrikeRead struct {
	Window rules.StrikeWindow
	Count  int // result
}

// Earned reports whether s is given, hits being counted: its rule's limit
// refused the message, or, for a rule without one, no limit above it
// refused and stopped the message. Stores that count hits themselves call
// it once they are counted; the Redis script follows the same rule.
func (s *Strike) Earned(hits []Hit) bool {
	if s.Hit >= 0 {
		if s.Hit >= len(hits) {
			return false
		}
		h := &hits[s.Hit]
		return h.Done && !h.Allowed
	}
	for j := 0; j < s.After && j < len(hits); j++ {
		if h := &hits[j]; h.Stop && h.Done && !h.Allowed {
			return false
		}
	}
	return true
}

// reset empties s for another message, keeping its buffers.
func (s *Strikes) reset() {
	s.Give, s.Read = s.Give[:0], s.Read[:0]
}

func (s *Strikes) empty() bool { return len(s.Give) == 0 && len(s.Read) == 0 }

// strikeItems lists, for the call to State, the strikes the rules that
// fired may give and the counts their consequences read: the rules of the
// steps that decide can reach, up to the first that surely ends the check
// (an enforced allow, hold or reject without a limit, or a rule whose time
// ran out and whose on_error refuses). It lists nothing without a sender.
func (sc *scratch) strikeItems(sender string) {
	sc.strikes.reset()
	if sender == "" {
		return
	}
	hits := 0 // the hits of the rules above
	for k := range sc.steps {
		st := &sc.steps[k]
		r := st.rule
		switch {
		case st.state == stepDropped:
			continue
		case st.state != stepFired:
			if r != nil && r.Mode == rules.ModeEnforce && (r.OnError == rules.ActionReject || r.OnError == rules.ActionHold) {
				return // its on_error refuses the message in its place
			}
			continue
		}
		if r.Strikes != nil {
			sc.strikes.Give = append(sc.strikes.Give, Strike{Count: r.Strikes.Count, Decay: r.Strikes.Decay,
				Observed: r.Mode == rules.ModeObserve, Hit: st.hit, After: hits})
		}
		for _, w := range r.StrikeWindows() {
			sc.readStrikes(w)
		}
		if st.hit >= 0 {
			hits++
		}
		if ends(r) {
			return
		}
	}
}

// readStrikes asks for a count, once.
func (sc *scratch) readStrikes(w rules.StrikeWindow) {
	for _, r := range sc.strikes.Read {
		if r.Window == w {
			return
		}
	}
	sc.strikes.Read = append(sc.strikes.Read, StrikeRead{Window: w})
}

// strikeCounts fills the counts consequences read, from what State
// answered; without an answer (no state, a retry, a failure) they stay
// unknown and conditions on strikes are Unknown.
func (sc *scratch) strikeCounts(counted bool) {
	sc.in.Strikes = nil
	if !counted || sc.strikes.empty() {
		return
	}
	c := &sc.counts
	c.Windows, c.Counts, c.Given, c.GivenObserved = c.Windows[:0], c.Counts[:0], 0, 0
	for _, g := range sc.strikes.Give {
		switch {
		case !g.Given:
		case g.Observed:
			c.GivenObserved += g.Count
		default:
			c.Given += g.Count
		}
	}
	for _, r := range sc.strikes.Read {
		c.Windows = append(c.Windows, r.Window)
		c.Counts = append(c.Counts, r.Count)
	}
	sc.in.Strikes = c
}
