package moderation

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/modgate/modgate/rawjson"
	"github.com/modgate/modgate/rules"
)

// Engine runs the rule set in force over messages. The set is swapped
// atomically on reload: an evaluation sees one whole set, old or new, and
// never waits. Engine is safe for concurrent use.
type Engine struct {
	set       atomic.Pointer[rules.Set]
	now       func() time.Time
	state     State
	replayTTL time.Duration
}

// EngineOptions configure an engine; zero values take the defaults.
type EngineOptions struct {
	Now       func() time.Time // the clock
	State     State            // rate-limit counters and webhook ids; nil: limits never fire
	ReplayTTL time.Duration    // how long a webhook id's answer is kept (default 10m)
}

// DefaultReplayTTL is how long a webhook id's answer is kept by default.
const DefaultReplayTTL = 10 * time.Minute

// NewEngine returns an engine serving set.
func NewEngine(set *rules.Set, opts EngineOptions) *Engine {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ReplayTTL <= 0 {
		opts.ReplayTTL = DefaultReplayTTL
	}
	e := &Engine{now: opts.Now, state: opts.State, replayTTL: opts.ReplayTTL}
	e.set.Store(set)
	return e
}

// Rules returns the set in force.
func (e *Engine) Rules() *rules.Set { return e.set.Load() }

// Swap puts set in force and returns the one it replaces.
func (e *Engine) Swap(set *rules.Set) *rules.Set { return e.set.Swap(set) }

// Options are per message.
type Options struct {
	WebhookID string    // Stream's X-Webhook-Id: a retry gets the first answer; "" for none
	Deadline  time.Time // past it, on_error decides; zero: none
}

// Result is what an evaluation reports beside its verdict: what its one
// call to State made of the hook call that brought the message.
type Result struct {
	// Retry: the webhook id was claimed before, so nothing was counted.
	// Limit rules then let the message through.
	Retry bool
	// Replayed: a Retry whose first answer State kept. The verdict is that
	// answer read back, to be sent again as it was: it holds only what the
	// answer needs (see readAnswer), and no rule that fired.
	Replayed bool
	// Stored: the verdict's answer was kept with the claim (a message only
	// limit rules could have changed, which they let through): Remember has
	// nothing to do.
	Stored bool
	// StateErr: State failed or was too slow; each limit rule's on_error
	// decided for it.
	StateErr error
}

// scratch holds one evaluation's buffers, reused across messages.
type scratch struct {
	in       rules.Input
	found    []rules.Match
	matches  []rules.Match
	steps    []step
	hits     []Hit
	masks    []rules.Match
	rewrites []*rules.Rule
	flags    []string
	key      []byte
	exempt   exemptCache
	answer   []byte // the stored form of an answer, for Remember
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// Evaluate runs the rules top to bottom over msg (see package rules for the
// order and precedence) in four steps: the cheap tests of every rule the
// check reaches (word lists, fields, links, networks), up to the first rule
// that surely ends it; the costly tests (regular expressions) of the rules
// above that one still undecided, in order; one call to State that claims
// the webhook id and counts the limits those rules met, in order; then the
// decision. A message a rule refuses is not counted by the limits of the
// rules after it.
//
// A retry of a webhook id is not counted again: when State kept the first
// answer the verdict is that answer (Result.Replayed), to be sent again.
//
// Costly rules cannot starve cheap ones: a listed slur is found whatever
// patterns stand above its rule. The deadline is watched as the work is
// done (rules.Budget), inside a long regular expression too. A rule that
// could not be evaluated in time follows its on_error: reject or hold
// decides in the rule's place, allow (the default) passes over it; the
// rules that were evaluated keep their meaning. When State fails or is too
// slow, each limit rule's on_error decides for it.
func (e *Engine) Evaluate(ctx context.Context, msg *Message, opt Options) (Verdict, Result) {
	set := e.set.Load()
	var res Result
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	in := &sc.in
	in.Reset()
	in.Text = rules.Analyze(msg.Text)
	defer in.Text.Release()
	now := e.now() // after the analysis, so that the first deadline check sees its time
	in.Message, in.User, in.Channel, in.RequestInfo, in.Metadata = msg.Object, msg.User, msg.Channel, msg.RequestInfo, msg.Metadata
	in.Known = msg.Members
	in.Hook, in.Now = msg.Hook, now
	if in.Hook == "" {
		in.Hook = HookBeforeSend
	}
	in.Budget = rules.Budget{Deadline: opt.Deadline, Clock: e.now}
	sc.matches, sc.steps, sc.hits, sc.key = sc.matches[:0], sc.steps[:0], sc.hits[:0], sc.key[:0]
	sc.masks, sc.rewrites, sc.flags = sc.masks[:0], sc.rewrites[:0], sc.flags[:0]
	sc.exempt = exemptCache{}

	if !opt.Deadline.IsZero() && now.After(opt.Deadline) {
		// Out of time before the first rule: nothing is evaluated, counted or claimed.
		unevaluated(sc, set.Rules, now)
		return e.decide(set, msg, sc, &res), res
	}

	// 1 and 2. The conditions: cheap tests first, then costly ones.
	cheapTests(set, sc, now)
	costlyTests(set, sc)

	// 3. One call to State: claim the webhook id, count the limits.
	if first, replayed := e.count(ctx, sc, opt, now, &res); replayed {
		return first, res
	}

	// 4. The decision.
	return e.decide(set, msg, sc, &res), res
}

// count makes the evaluation's one call to State: it claims the webhook id
// and counts the limits the fired rules met, waiting no longer than the
// deadline leaves. For a retry whose first answer State kept, it returns
// that answer's verdict and true.
func (e *Engine) count(ctx context.Context, sc *scratch, opt Options, now time.Time, res *Result) (Verdict, bool) {
	sender := ""
	if e.state != nil {
		sender = sc.sender(&sc.in)
	}
	e.limitHits(sc, sender)
	if e.state == nil || (len(sc.hits) == 0 && opt.WebhookID == "") {
		return Verdict{}, false
	}
	var ifAllowed []byte
	if opt.WebhookID != "" && sc.in.Hook == HookBeforeSend && onlyLimits(sc.steps) {
		ifAllowed = answerUnchanged // no rule but a limit matched: allowed means unchanged
	}
	claim := Claim{ID: opt.WebhookID, Sender: sender, TTL: e.replayTTL}
	stateDeadline := opt.Deadline
	if !stateDeadline.IsZero() {
		stateDeadline = stateDeadline.Add(-decideMargin)
	}
	replay, err := e.state.Count(ctx, claim, ifAllowed, now, stateDeadline, sc.hits)
	res.StateErr = err
	res.Stored = replay.Stored && err == nil
	if !replay.Seen {
		return Verdict{}, false
	}
	res.Retry = true
	if replay.Answer == nil {
		return Verdict{}, false // the first attempt is still running, or its answer was not kept
	}
	first, ok := readAnswer(replay.Answer)
	res.Replayed = ok
	return first, ok
}

// decideMargin is the time state's answer leaves before the deadline, for
// the decision and the answer to go out within it.
const decideMargin = 10 * time.Millisecond

// limitHits lists the counters the fired limit rules count against.
func (e *Engine) limitHits(sc *scratch, sender string) {
	for k := range sc.steps {
		st := &sc.steps[k]
		if st.state != stepFired || st.rule.Limit == nil {
			continue
		}
		r := st.rule
		key, group, ok := e.limitKey(sc, r, &sc.in, sender)
		if !ok {
			st.state = stepDropped // the payload lacks what the limit counts by
			continue
		}
		st.hit = len(sc.hits)
		sc.hits = append(sc.hits, Hit{Key: key, Group: group, Limit: r.Limit.Count, Window: r.Limit.Per,
			Stop: r.Mode == rules.ModeEnforce && r.Action.Final()})
	}
}

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

// Remember keeps the answer of verdict v, which Evaluate reached with res
// for msg and its webhook id, so that Stream's retries get it again. It
// keeps nothing for a retry, for an answer kept with the claim already, or
// for a verdict that failing state or the deadline forced, which a retry
// may better.
func (e *Engine) Remember(ctx context.Context, msg *Message, id string, v *Verdict, res *Result) error {
	if e.state == nil || id == "" || res.Retry || res.Stored || res.StateErr != nil || v.DeadlineHit {
		return nil
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	sc.answer = appendAnswer(sc.answer[:0], v)
	return e.state.Remember(ctx, Claim{ID: id, Sender: senderOf(msg), TTL: e.replayTTL}, sc.answer)
}

// sender is the sender's user id, as limits by user count it, a view of the
// scratch buffer: "" when there is none.
func (sc *scratch) sender(in *rules.Input) string {
	start := len(sc.key)
	k, ok := in.AppendScope(sc.key, "user", "")
	sc.key = k
	if !ok || len(k) == start {
		return ""
	}
	return unsafe.String(&k[start], len(k)-start)
}

// senderOf is the sender's user id read from the message, as sc.sender
// reads it: a view of the message's bytes; "" when there is none.
func senderOf(msg *Message) string {
	raw := rawjson.Lookup(msg.User, "id")
	if len(raw) < 3 || raw[0] != '"' {
		return ""
	}
	return rawjson.View(raw)
}

// ErrUsed is returned by ClaimOnce for a key claimed before.
var ErrUsed = errors.New("used already")

// ApprovalTTL is how long a used approval marker is remembered (with Redis;
// in memory, at least the replay TTL, and never across a restart).
const ApprovalTTL = 7 * 24 * time.Hour

// ClaimOnce records key as used and returns ErrUsed when it was before, so
// that a one-time token (an approval marker) works once. Without state it
// cannot tell, and lets it through.
func (e *Engine) ClaimOnce(ctx context.Context, key string) error {
	if e.state == nil {
		return nil
	}
	rp, err := e.state.Count(ctx, Claim{ID: key, TTL: ApprovalTTL}, nil, e.now(), time.Time{}, nil)
	switch {
	case err != nil:
		return err
	case rp.Seen:
		return ErrUsed
	}
	return nil
}

// limitKey names the counter a message counts against: the rule, and the
// values of what the limit is counted by. It reports false when the payload
// lacks one of them (a server-side send has no IP). The group is the
// sender for a limit by user (with others or not), else the first value.
//
// The keys of one message are appended to one buffer and handed out as
// views of it: they live as long as the evaluation (an append that moves the
// buffer leaves the earlier views on the old array, which they keep alive).
func (e *Engine) limitKey(sc *scratch, r *rules.Rule, in *rules.Input, sender string) (key, group string, ok bool) {
	start := len(sc.key)
	k := append(sc.key, r.ID...)
	g0, g1 := 0, 0
	for i, by := range r.Limit.By {
		k = append(k, '|')
		k = append(k, by...)
		k = append(k, '=')
		v0 := len(k)
		if k, ok = in.AppendScope(k, by, r.Limit.Device); !ok {
			sc.key = k[:start]
			return "", "", false
		}
		if i == 0 {
			g0, g1 = v0, len(k)
		}
		if by == "user" {
			group = sender
		}
	}
	sc.key = k
	if group == "" && g1 > g0 {
		group = unsafe.String(&k[g0], g1-g0)
	}
	return unsafe.String(&k[start], len(k)-start), group, true
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
