package rules

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Consequence is what happens to the sender, through Stream, when the rule
// it belongs to acts on a message and its `when` holds (nil: every time):
// a ban, a shadow ban, a timeout in the channel, or a flag in Stream's
// dashboard. Its `when` reads the sender's strikes (user.strikes), the
// message's own included, and any field a rule's `when` reads. A
// consequence in observe mode, or of a rule in observe mode, is counted
// and logged as "would <do>" and not carried out.
type Consequence struct {
	Do     string        // DoBan, DoShadowBan, DoTimeout or DoFlag
	For    time.Duration // how long a ban, shadow ban or timeout lasts; 0: for ever (bans only)
	Reason *Template     // what Stream records; DefaultConsequenceReason unless the file says
	When   Condition
	Mode   Mode
	Line   int

	windows []StrikeWindow // the strike counts its `when` reads
}

// What a consequence does.
const (
	DoBan       = "ban"        // ban the sender from the app: POST /moderation/ban
	DoShadowBan = "shadow_ban" // the same, shadowed: the sender still sees their messages, nobody else does
	DoTimeout   = "timeout"    // ban the sender from the message's channel for a while
	DoFlag      = "flag"       // flag the message (or, when Stream never stores it, the sender) for Stream's dashboard
)

var consequenceDos = []string{DoBan, DoShadowBan, DoTimeout, DoFlag}

// DefaultConsequenceReason is the reason a consequence gives Stream when it
// writes none.
const DefaultConsequenceReason = "modgate: rule {{rule.id}}"

var defaultReason = func() *Template {
	t, err := parseTemplate(DefaultConsequenceReason)
	if err != nil {
		panic(err)
	}
	return t
}()

// MaxConsequences bounds the consequences of one rule.
const MaxConsequences = 10

// maxBan is the longest ban, shadow ban or timeout a consequence gives.
const maxBan = 365 * 24 * time.Hour

// StrikeWindows are the counts of the sender's strikes its `when` reads.
func (c *Consequence) StrikeWindows() []StrikeWindow { return c.windows }

// StrikeWindows are the counts of the sender's strikes the rule's
// consequences read, each once.
func (r *Rule) StrikeWindows() []StrikeWindow {
	var out []StrikeWindow
	for i := range r.Consequences {
		for _, w := range r.Consequences[i].windows {
			if !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
	}
	return out
}

// consequences reads a rule's `consequences`; the rule's mode is known.
func (p *parser) consequences(n *yaml.Node, r *Rule) []Consequence {
	list := resolve(n)
	if list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
		p.errorf(n, "consequences: must be a list of consequences, each with `do`")
		return nil
	}
	if len(list.Content) > MaxConsequences {
		p.errorf(n, "consequences: more than %d", MaxConsequences)
		return nil
	}
	out := make([]Consequence, 0, len(list.Content))
	for i, cn := range list.Content {
		if c, ok := p.consequence(cn, fmt.Sprintf("consequences[%d]", i), r); ok {
			out = append(out, c)
		}
	}
	return out
}

func (p *parser) consequence(n *yaml.Node, path string, r *Rule) (Consequence, bool) {
	m := p.mapping(n, path, "when", "do", "for", "reason", "mode")
	if m == nil {
		return Consequence{}, false
	}
	c := Consequence{Line: resolve(n).Line, Mode: r.Mode, Reason: defaultReason}
	if v, ok := m["mode"]; ok && p.mode(v) == ModeObserve {
		c.Mode = ModeObserve
	}
	v, ok := m["do"]
	if !ok {
		p.errorf(n, "%s.do: missing (one of: %s)", path, strings.Join(consequenceDos, ", "))
	} else if s, ok := p.str(v, path+".do"); ok {
		known := false
		for _, d := range consequenceDos {
			known = known || d == s
		}
		if !known {
			p.errorf(v, "%s.do: %q is not one of: %s", path, s, strings.Join(consequenceDos, ", "))
		}
		c.Do = s
	}
	p.consequenceFor(m, n, path, &c)
	if v, ok := m["reason"]; ok {
		if s, ok := p.str(v, path+".reason"); ok {
			t, err := parseTemplate(s)
			switch {
			case err != nil:
				p.errorf(v, "%s.reason: %v", path, err)
			case len(s) > 500:
				p.errorf(v, "%s.reason: longer than 500 bytes", path)
			case r.Limit == nil && (t.Uses("limit.count") || t.Uses("limit.per") || t.Uses("retry_after")):
				p.errorf(v, "%s.reason: {{limit.count}}, {{limit.per}} and {{retry_after}} need a `limit` on the rule", path)
			}
			c.Reason = t
		}
	}
	if v, ok := m["when"]; ok {
		scope := &strikeScope{observed: c.Mode == ModeObserve}
		p.strikeScope = scope
		c.When = p.cond(v, path+".when", 0)
		p.strikeScope = nil
		c.windows = scope.windows
	}
	return c, true
}

// consequenceFor reads `for`: a duration in whole minutes (Stream bans by
// the minute), or `forever` for a ban or shadow ban; a timeout needs one,
// a flag takes none.
func (p *parser) consequenceFor(m map[string]*yaml.Node, n *yaml.Node, path string, c *Consequence) {
	v, ok := m["for"]
	switch {
	case c.Do == DoFlag && ok:
		p.errorf(v, "%s.for: a flag lasts until a moderator reviews it in Stream: leave `for` out", path)
		return
	case c.Do == DoFlag || c.Do == "":
		return
	case !ok:
		p.errorf(n, "%s.for: missing: say how long (15m, 24h, 7d), or `forever`", path)
		return
	}
	s, ok := p.str(v, path+".for")
	if !ok {
		return
	}
	if s == "forever" {
		if c.Do == DoTimeout {
			p.errorf(v, "%s.for: a timeout ends: give a duration (a ban may last forever)", path)
		}
		return
	}
	d, err := ParseDuration(s)
	switch {
	case err != nil:
		p.errorf(v, "%s.for: %v, or `forever`", path, err)
	case d < time.Minute || d > maxBan:
		p.errorf(v, "%s.for: %q must be from 1m to 365d", path, s)
	case d%time.Minute != 0:
		p.errorf(v, "%s.for: %q is not whole minutes, which Stream counts bans in", path, s)
	}
	c.For = d
}

// Minutes is how long a ban lasts in Stream's unit; 0 for ever.
func (c *Consequence) Minutes() int {
	return int(math.Round(c.For.Minutes()))
}

// rejectedReply reads `rejected_reply`: what a held message's sender is
// told when a moderator rejects it (see Rule.RejectedReply).
func (p *parser) rejectedReply(v *yaml.Node, r *Rule) {
	s, ok := p.str(v, "rejected_reply")
	if !ok {
		return
	}
	if r.Action != ActionHold && r.OnError != ActionHold {
		p.errorf(v, "rejected_reply: only a rule that holds messages has them rejected by a moderator")
		return
	}
	t, err := parseTemplate(s)
	switch {
	case err != nil:
		p.errorf(v, "rejected_reply: %v", err)
		return
	case len(s) > 2000:
		p.errorf(v, "rejected_reply: longer than 2000 bytes")
		return
	case t.Uses("limit.count") || t.Uses("limit.per") || t.Uses("retry_after"):
		p.errorf(v, "rejected_reply: {{limit.count}}, {{limit.per}} and {{retry_after}} mean nothing once a moderator decides")
		return
	}
	r.RejectedReply = t
}

// ruleSanctions reads what a rule does to the sender beyond the message:
// its strikes, its consequences (once its mode is known), and what a
// moderator's rejection of a message it held tells the sender.
func (p *parser) ruleSanctions(m map[string]*yaml.Node, r *Rule) {
	if v, ok := m["strikes"]; ok {
		r.Strikes = p.strikes(v)
	}
	if v, ok := m["consequences"]; ok {
		r.Consequences = p.consequences(v, r)
	}
	if v, ok := m["rejected_reply"]; ok {
		p.rejectedReply(v, r)
	}
}
