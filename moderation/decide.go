package moderation

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/modgate/modgate/rawjson"
	"github.com/modgate/modgate/rules"
)

// decide goes through the steps in rule order: the first that refuses or
// allows ends the check; masks, rewrites and flags accumulate.
func (e *Engine) decide(set *rules.Set, msg *Message, sc *scratch, res *Result) Verdict {
	v := Verdict{RulesVersion: set.Version}
	for _, st := range sc.steps {
		r := st.rule
		found := sc.matches[st.m0:st.m1]
		var retryAfter time.Duration
		switch {
		case st.state == stepDropped:
			continue
		case st.state != stepFired: // no time to evaluate it
			v.DeadlineHit = true
			if r == nil {
				continue
			}
			if refused := e.onError(set, &v, r, msg, sc, nil); refused {
				return v
			}
			continue
		case st.hit >= 0:
			h := &sc.hits[st.hit]
			switch {
			case res.StateErr != nil:
				if refused := e.onError(set, &v, r, msg, sc, found); refused {
					return v
				}
				continue
			case e.state == nil, res.Retry, !h.Done, h.Allowed:
				continue // within the limit, or not counted
			}
			retryAfter = h.RetryAfter
		}
		f := Firing{RuleID: r.ID, Action: r.Action, Observed: r.Mode == rules.ModeObserve}
		if len(found) > 0 {
			f.Matches = keepMatches(found)
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
			v.Reply = set.ReplyFor(r).Render(replyData(r, found, msg, &sc.in, retryAfter, true))
			if r.Action == rules.ActionHold {
				e.holdChanges(set, &v, msg.Text, sc)
				if r.RejectedReply != nil {
					v.Notice = r.RejectedReply.Render(replyData(r, found, msg, &sc.in, 0, false))
				}
			}
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

// onError applies the on_error of a rule that could not be evaluated (no
// time) or counted (State failed), and reports whether it refused the
// message. allow passes over the rule.
func (e *Engine) onError(set *rules.Set, v *Verdict, r *rules.Rule, msg *Message, sc *scratch, found []rules.Match) bool {
	if r.OnError != rules.ActionReject && r.OnError != rules.ActionHold {
		return false
	}
	v.Fired = append(v.Fired, Firing{RuleID: r.ID, Action: r.OnError, Observed: r.Mode == rules.ModeObserve, OnError: true})
	if r.Mode == rules.ModeObserve {
		return false
	}
	v.Action, v.RuleID = r.OnError, r.ID
	v.Reply = set.ReplyFor(r).Render(replyData(r, found, msg, &sc.in, 0, false))
	if r.OnError == rules.ActionHold {
		e.holdChanges(set, v, msg.Text, sc)
		if r.RejectedReply != nil {
			v.Notice = r.RejectedReply.Render(replyData(r, found, msg, &sc.in, 0, false))
		}
	}
	return true
}

// keepMatches copies matches out of the evaluation's buffers. The values of
// fields other than the text are views of the payload: they are copied too.
func keepMatches(found []rules.Match) []rules.Match {
	out := append([]rules.Match(nil), found...)
	for i := range out {
		if out[i].Value != "" {
			out[i].Value = strings.Clone(out[i].Value)
		}
	}
	return out
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

// holdChanges writes what the mask, rewrite and flag rules above a hold
// changed, for a moderator's approval to apply (see Verdict); the verdict
// stays a hold.
func (e *Engine) holdChanges(set *rules.Set, v *Verdict, text string, sc *scratch) {
	e.applyChanges(set, v, text, sc)
	v.Action = rules.ActionHold
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

// replyData fills a reply's placeholders: {{match}} is what the first
// match covered in the text, or the value of the field it was found in (a
// link's domain, a role); retryAfter is known only when the limit was
// counted.
func replyData(r *rules.Rule, found []rules.Match, msg *Message, in *rules.Input, retryAfter time.Duration, counted bool) rules.ReplyData {
	d := rules.ReplyData{RuleID: r.ID, Limit: r.Limit, RetryAfter: retryAfter, RetryKnown: counted && r.Limit != nil}
	for _, m := range found {
		if m.Start >= 0 && m.End <= len(msg.Text) {
			d.Match = msg.Text[m.Start:m.End]
			break
		}
		if m.Start < 0 && m.Value != "" {
			d.Match = m.Value
			break
		}
	}
	d.UserName = rawjson.String(rawjson.Lookup(msg.User, "name"))
	return d
}
