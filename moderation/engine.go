package moderation

import (
	"encoding/json"
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

// scratch holds one evaluation's buffers, reused across messages.
type scratch struct {
	in       rules.Input
	found    []rules.Match
	masks    []rules.Match
	rewrites []*rules.Rule
	flags    []string
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// Evaluate runs the rules top to bottom over msg (see package rules for the
// order and precedence). Past deadline (zero: none) the remaining rules are
// not evaluated: the first of them whose on_error is reject or hold decides,
// otherwise the message goes through unchanged; DeadlineHit is set.
func (e *Engine) Evaluate(msg *Message, deadline time.Time) Verdict {
	set := e.set.Load()
	v := Verdict{RulesVersion: set.Version}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	now := e.now()
	in := &sc.in
	in.Reset()
	in.Text = rules.Analyze(msg.Text)
	defer in.Text.Release()
	in.Message, in.User, in.Channel, in.RequestInfo, in.Metadata = msg.Object, msg.User, msg.Channel, msg.RequestInfo, msg.Metadata
	in.Hook, in.Now = msg.Hook, now
	if in.Hook == "" {
		in.Hook = HookBeforeSend
	}
	sc.masks, sc.rewrites, sc.flags = sc.masks[:0], sc.rewrites[:0], sc.flags[:0]

	for i, r := range set.Rules {
		if !deadline.IsZero() && e.now().After(deadline) {
			return e.onError(set, set.Rules[i:], v.Fired, in)
		}
		if !r.Active.Contains(now) {
			continue
		}
		if ex := set.Exempt(r); ex != nil {
			if _, exempt := ex.Match(in, sc.found[:0]); exempt {
				continue
			}
		}
		found := sc.found[:0]
		matched := true
		if r.When != nil {
			found, matched = r.When.Match(in, found)
		}
		sc.found = found[:0]
		if !matched {
			continue
		}
		f := Firing{RuleID: r.ID, Action: r.Action, Observed: r.Mode == rules.ModeObserve}
		if len(found) > 0 {
			f.Matches = append([]rules.Match(nil), found...)
		}
		v.Fired = append(v.Fired, f)
		if f.Observed {
			continue
		}
		switch r.Action {
		case rules.ActionAllow:
			v.Action = rules.ActionAllow
		case rules.ActionReject, rules.ActionHold:
			v.Action, v.RuleID = r.Action, r.ID
			v.Reply = set.ReplyFor(r).Render(replyData(r, found, msg, in))
			return v
		case rules.ActionMask:
			for _, m := range found {
				if m.Start >= 0 { // matches in other fields than the text explain, and are not masked
					sc.masks = append(sc.masks, m)
				}
			}
		case rules.ActionRewrite:
			sc.rewrites = append(sc.rewrites, r)
		case rules.ActionFlag:
			sc.flags = append(sc.flags, r.ID)
		}
		if r.Action == rules.ActionAllow {
			break
		}
	}
	e.applyChanges(set, &v, msg.Text, sc)
	return v
}

// applyChanges writes what mask, rewrite and flag rules accumulated: masks
// on the original text first, then each rewrite in rule order.
func (e *Engine) applyChanges(set *rules.Set, v *Verdict, text string, sc *scratch) {
	changes := rules.ActionNone
	out := text
	if len(sc.masks) > 0 {
		out = rules.Mask(out, sc.masks)
		changes = rules.ActionMask
	}
	for _, r := range sc.rewrites {
		rw := r.Rewrite
		if rw.ChangesText() {
			out = rw.ApplyText(out)
		}
		if rw.Silent != nil {
			v.Fields = setField(v.Fields, "silent", boolJSON(*rw.Silent))
		}
		if rw.ShowInChannel != nil {
			v.Fields = setField(v.Fields, "show_in_channel", boolJSON(*rw.ShowInChannel))
		}
		for _, fv := range rw.Set {
			v.Fields = setField(v.Fields, fv.Key, fv.JSON)
		}
		changes = rules.ActionRewrite
	}
	if len(sc.flags) > 0 {
		ids, _ := json.Marshal(sc.flags)
		v.Fields = setField(v.Fields, set.Settings.FlagField, ids)
		if changes == rules.ActionNone {
			changes = rules.ActionFlag
		}
	}
	if out != text {
		v.Text, v.TextChanged = out, true
	}
	if changes != rules.ActionNone && (v.TextChanged || len(v.Fields) > 0) {
		v.Action = changes
	}
}

func setField(fields []rules.FieldValue, key string, js []byte) []rules.FieldValue {
	for i := range fields {
		if fields[i].Key == key {
			fields[i].JSON = js
			return fields
		}
	}
	return append(fields, rules.FieldValue{Key: key, JSON: js})
}

func boolJSON(b bool) []byte {
	if b {
		return []byte("true")
	}
	return []byte("false")
}

// onError decides for the rules that could not be evaluated: the first
// enforced rule among them whose on_error refuses the message decides.
func (e *Engine) onError(set *rules.Set, rest []*rules.Rule, fired []Firing, in *rules.Input) Verdict {
	v := Verdict{RulesVersion: set.Version, DeadlineHit: true, Fired: fired}
	now := e.now()
	for _, r := range rest {
		if r.Mode == rules.ModeObserve || !r.Active.Contains(now) {
			continue
		}
		if r.OnError == rules.ActionReject || r.OnError == rules.ActionHold {
			v.Action, v.RuleID = r.OnError, r.ID
			v.Reply = set.ReplyFor(r).Render(rules.ReplyData{RuleID: r.ID, Limit: r.Limit})
			return v
		}
	}
	return v
}

func replyData(r *rules.Rule, found []rules.Match, msg *Message, in *rules.Input) rules.ReplyData {
	d := rules.ReplyData{RuleID: r.ID, Limit: r.Limit}
	for _, m := range found {
		if m.Start >= 0 && m.End <= len(msg.Text) {
			d.Match = msg.Text[m.Start:m.End]
			break
		}
	}
	d.UserName, _ = rules.JSONString(rules.Lookup(in.User, "name"))
	return d
}
