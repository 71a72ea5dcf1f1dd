package rules

import (
	"slices"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// Strikes are what a rule gives the sender of a message it acts on: Count
// strikes, each remembered for Decay. The sender's strikes are kept in
// state beside the rate limits and counted in the same call; consequences
// read them (StrikeCounts) to climb a ladder.
type Strikes struct {
	Count int
	Decay time.Duration
}

// Bounds of strikes.
const (
	DefaultStrikeDecay = 24 * time.Hour      // a strike is remembered this long unless the rule says
	MaxStrikeDecay     = 30 * 24 * time.Hour // the longest a strike is remembered
	MaxStrikeCount     = 100                 // strikes one rule gives for one message
)

// strikesField is the condition field consequences read the sender's
// strikes with.
const strikesField = "user.strikes"

// strikes reads a rule's `strikes`: a number (remembered for
// DefaultStrikeDecay), or {count, decay}.
func (p *parser) strikes(n *yaml.Node) *Strikes {
	s := &Strikes{Count: 1, Decay: DefaultStrikeDecay}
	if r := resolve(n); r.Kind == yaml.ScalarNode {
		s.Count = p.strikeCount(r, "strikes")
		return s
	}
	m := p.mapping(n, "strikes", "count", "decay")
	if m == nil {
		return nil
	}
	if v, ok := m["count"]; ok {
		s.Count = p.strikeCount(v, "strikes.count")
	}
	if v, ok := m["decay"]; ok {
		if str, ok := p.str(v, "strikes.decay"); ok {
			d, err := ParseDuration(str)
			switch {
			case err != nil:
				p.errorf(v, "strikes.decay: %v", err)
			case d < time.Minute || d > MaxStrikeDecay:
				p.errorf(v, "strikes.decay: %q must be from 1m to 30d", str)
			}
			s.Decay = d
		}
	}
	return s
}

func (p *parser) strikeCount(v *yaml.Node, path string) int {
	s, ok := p.str(v, path)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxStrikeCount {
		p.errorf(v, "%s: %q is not a whole number from 1 to %d", path, s, MaxStrikeCount)
	}
	return n
}

// StrikeWindow is a count of the sender's strikes that a consequence reads:
// those given within Within and still remembered. Observed counts the
// strikes of rules in observe mode too, as if they were enforced: what a
// consequence in observe mode reads, to say truly what it would have done.
type StrikeWindow struct {
	Within   time.Duration
	Observed bool
}

// StrikeCounts are a sender's strikes as the engine counted them for one
// message, in the message's one call to state: what consequences read.
type StrikeCounts struct {
	Windows []StrikeWindow
	Counts  []int // the strikes given within each window, the message's own included
	// Given and GivenObserved are the strikes the message gave: by rules in
	// force, and by rules in observe mode.
	Given, GivenObserved int
}

// Count returns the strikes given within w, the message's own included,
// and as many before the message; false when w was not counted.
func (s *StrikeCounts) Count(w StrikeWindow) (now, before int, ok bool) {
	if s == nil {
		return 0, 0, false
	}
	i := slices.Index(s.Windows, w)
	if i < 0 || i >= len(s.Counts) {
		return 0, 0, false
	}
	now = s.Counts[i]
	own := s.Given
	if w.Observed {
		own += s.GivenObserved
	}
	return now, max(now-own, 0), true
}

// strikesCond is `user.strikes`: the sender's strikes within a window,
// compared. It is read only in a consequence's `when`, after the message's
// own strikes are counted (Input.Strikes); without counts (a dry run, or
// state that failed) it answers Unknown.
type strikesCond struct {
	window  StrikeWindow
	reaches int // > 0: this message brought the count from below it to it or above
	over    int // >= 0: more than this
	under   int // >= 0: fewer than this
}

func (c *strikesCond) Match(in *Input, found []Match) ([]Match, Truth) {
	now, before, ok := in.Strikes.Count(c.window)
	if !ok {
		return found, Unknown
	}
	holds := (c.reaches <= 0 || before < c.reaches && now >= c.reaches) &&
		(c.over < 0 || now > c.over) && (c.under < 0 || now < c.under)
	return found, truth(holds)
}

// Window is the count the condition reads.
func (c *strikesCond) Window() StrikeWindow { return c.window }

// strikeScope is where a `user.strikes` may be read: a consequence's
// `when`, whose windows it collects.
type strikeScope struct {
	observed bool // the consequence, or its rule, is in observe mode
	windows  []StrikeWindow
}

// strikesCond reads `user.strikes: {within, reaches, over, under}`.
func (p *parser) strikesCond(k, v *yaml.Node, path string) Condition {
	at := path + "." + strikesField
	if p.strikeScope == nil {
		p.errorf(k, "%s: the sender's strikes are read in a consequence's `when` (under `consequences:`), "+
			"where the message's own strikes are counted", at)
		return nil
	}
	m := p.mapping(v, at, "within", "reaches", "over", "under")
	if m == nil {
		return nil
	}
	c := &strikesCond{reaches: -1, over: -1, under: -1, window: StrikeWindow{Observed: p.strikeScope.observed}}
	if w, ok := m["within"]; !ok {
		p.errorf(v, "%s.within: missing: say how far back strikes count (10m, 1h, 7d)", at)
	} else if s, ok := p.str(w, at+".within"); ok {
		d, err := ParseDuration(s)
		switch {
		case err != nil:
			p.errorf(w, "%s.within: %v", at, err)
		case d < time.Minute || d > MaxStrikeDecay:
			p.errorf(w, "%s.within: %q must be from 1m to 30d", at, s)
		}
		c.window.Within = d
	}
	compared := false
	for _, op := range []struct {
		key string
		to  *int
		min int
	}{{"reaches", &c.reaches, 1}, {"over", &c.over, 0}, {"under", &c.under, 1}} {
		n, ok := m[op.key]
		if !ok {
			continue
		}
		compared = true
		if s, ok := p.str(n, at+"."+op.key); ok {
			x, err := strconv.Atoi(s)
			if err != nil || x < op.min || x > 1_000_000 {
				p.errorf(n, "%s.%s: %q is not a whole number of %d or more", at, op.key, s, op.min)
			}
			*op.to = x
		}
	}
	if !compared {
		p.errorf(v, "%s: names no test: reaches (this message brings the count to it), over or under", at)
	}
	if !slices.Contains(p.strikeScope.windows, c.window) {
		p.strikeScope.windows = append(p.strikeScope.windows, c.window)
	}
	return c
}
