package moderation

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/modgate/modgate/rules"
)

// Engine runs the rule set in force over messages. The set is swapped
// atomically on reload: an evaluation sees one whole set, old or new, and
// never waits. Engine is safe for concurrent use.
type Engine struct {
	set atomic.Pointer[rules.Set]
	now func() time.Time
}

// NewEngine returns an engine serving set. now is the clock (nil: time.Now).
func NewEngine(set *rules.Set, now func() time.Time) *Engine {
	if now == nil {
		now = time.Now
	}
	e := &Engine{now: now}
	e.set.Store(set)
	return e
}

// Rules returns the set in force.
func (e *Engine) Rules() *rules.Set { return e.set.Load() }

// Swap puts set in force and returns the one it replaces.
func (e *Engine) Swap(set *rules.Set) *rules.Set { return e.set.Swap(set) }

var zeroTime time.Time

type scratch struct {
	found []rules.Match
	masks []rules.Match
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// Evaluate runs the rules top to bottom over msg. The first rule whose
// action is allow or reject ends the check; mask rules accumulate and their
// words are starred in the original text (an allow ends the check but keeps
// what earlier mask rules starred). Past deadline (zero: none) the
// message goes through unchanged with DeadlineHit set.
func (e *Engine) Evaluate(msg *Message, deadline time.Time) Verdict {
	set := e.set.Load()
	v := Verdict{RulesVersion: set.Version}
	text := rules.Analyze(msg.Text)
	defer text.Release()
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	sc.masks = sc.masks[:0]
	in := rules.Input{Text: text}

	for _, r := range set.Rules {
		if !deadline.IsZero() && e.now().After(deadline) {
			return Verdict{RulesVersion: set.Version, DeadlineHit: true, Fired: v.Fired}
		}
		found := sc.found[:0]
		matched := true
		if r.When != nil {
			found, matched = r.When.Match(&in, found)
		}
		sc.found = found[:0]
		if !matched {
			continue
		}
		f := Firing{RuleID: r.ID, Action: r.Action}
		if len(found) > 0 {
			f.Matches = append([]rules.Match(nil), found...)
		}
		v.Fired = append(v.Fired, f)
		if r.Action == rules.ActionAllow {
			v.Action = rules.ActionAllow
			break
		}
		switch r.Action {
		case rules.ActionReject:
			v.Action = rules.ActionReject
			v.Reply = set.ReplyFor(r)
			return v
		case rules.ActionMask:
			sc.masks = append(sc.masks, found...)
		}
	}
	if len(sc.masks) > 0 {
		v.Action = rules.ActionMask
		v.Text = rules.Mask(msg.Text, sc.masks)
	}
	return v
}
