package moderation

import (
	"context"
	"errors"
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
	found    []rules.Match // what the rule being tested matched
	matches  []rules.Match // what the rules that fired matched, by step
	steps    []step
	hits     []Hit
	masks    []rules.Match
	rewrites []*rules.Rule
	flags    []string
	key      []byte
	exempt   exemptCache
	answer   []byte             // the stored form of an answer, for Remember
	strikes  Strikes            // what the message does to its sender's strikes, for State
	counts   rules.StrikeCounts // what State counted of them, for consequences

	explain   bool         // a dry run that explains itself: see Explain
	explained []RuleResult // what each rule made of the message, when explaining
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// Evaluate runs the rules top to bottom over msg (see package rules for the
// order and precedence) in four steps: the cheap tests of every rule the
// check reaches (word lists, fields, links, networks), up to the first rule
// that surely ends it; the costly tests (regular expressions) of the rules
// above that one still undecided, in order; one call to State that claims
// the webhook id, counts the limits those rules met, in order, and gives
// the sender the strikes of the rules that act and counts those their
// consequences read; then the decision, and the consequences whose `when`
// holds, the message's own strikes counted (Verdict.Consequences). A
// message a rule refuses is not counted by the limits of the rules after
// it, and the rules after it give no strikes.
//
// A retry of a webhook id is not counted again, gives no strikes and has
// no consequences: when State kept the first answer the verdict is that
// answer (Result.Replayed), to be sent again.
//
// Costly rules cannot starve cheap ones: a listed slur is found whatever
// patterns stand above its rule. The deadline is watched as the work is
// done (rules.Budget), inside a long regular expression too. A rule that
// could not be evaluated in time follows its on_error: reject or hold
// decides in the rule's place, allow (the default) passes over it; the
// rules that were evaluated keep their meaning. When State fails or is too
// slow, each limit rule's on_error decides for it.
func (e *Engine) Evaluate(ctx context.Context, msg *Message, opt Options) (Verdict, Result) {
	v, res, _ := e.evaluate(ctx, msg, opt, false)
	return v, res
}

// evaluate is Evaluate, or with explain a dry run that explains itself (see
// Explain) and returns what each rule made of the message.
func (e *Engine) evaluate(ctx context.Context, msg *Message, opt Options, explain bool) (Verdict, Result, []RuleResult) {
	set := e.set.Load()
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	now := sc.start(msg, opt.Deadline, e.now, explain)
	defer sc.in.Text.Release()
	var res Result
	if !opt.Deadline.IsZero() && now.After(opt.Deadline) {
		// Out of time before the first rule: nothing is evaluated, counted or claimed.
		unevaluated(sc, set.Rules, now)
		return e.decide(set, msg, sc, &res), res, nil
	}

	// 1 and 2. The conditions: cheap tests first, then costly ones.
	cheapTests(set, sc, now)
	costlyTests(set, sc)

	// 3. One call to State: claim the webhook id, count the limits.
	sender := ""
	if e.state != nil {
		sender = sc.sender(&sc.in)
	}
	e.limitHits(sc, sender)
	if !explain {
		if sender != "" {
			sc.strikeItems(sender)
		}
		if first, replayed := e.count(ctx, sc, opt, sender, now, &res); replayed {
			return first, res, nil
		}
	}

	// 4. The decision, then what it does to the sender.
	v := e.decide(set, msg, sc, &res)
	e.consequences(msg, sc, &v, &res)
	if explain {
		return v, res, sc.explanation(&v)
	}
	return v, res, nil
}

// start prepares the scratch for msg and returns the time the evaluation
// starts, read after the text's analysis so that the first look at the
// deadline sees the time it took.
func (sc *scratch) start(msg *Message, deadline time.Time, clock func() time.Time, explain bool) time.Time {
	in := &sc.in
	in.Reset()
	in.Text = rules.Analyze(msg.Text)
	now := clock()
	in.Message, in.User, in.Channel, in.RequestInfo, in.Metadata = msg.Object, msg.User, msg.Channel, msg.RequestInfo, msg.Metadata
	in.Known = msg.Members
	in.Hook, in.Now = msg.Hook, now
	if in.Hook == "" {
		in.Hook = HookBeforeSend
	}
	in.Budget = rules.Budget{Deadline: deadline, Clock: clock}
	sc.matches, sc.steps, sc.hits, sc.key = sc.matches[:0], sc.steps[:0], sc.hits[:0], sc.key[:0]
	sc.masks, sc.rewrites, sc.flags = sc.masks[:0], sc.rewrites[:0], sc.flags[:0]
	sc.strikes.reset()
	sc.exempt = exemptCache{}
	sc.explain, sc.explained = explain, nil
	return now
}

// count makes the evaluation's one call to State: it claims the webhook id
// for sender, counts the hits of the fired limit rules, and gives and
// counts the sender's strikes, waiting no longer than the deadline leaves.
// For a retry whose first answer State kept, it returns that answer's
// verdict and true.
func (e *Engine) count(ctx context.Context, sc *scratch, opt Options, sender string, now time.Time, res *Result) (Verdict, bool) {
	if e.state == nil || (len(sc.hits) == 0 && opt.WebhookID == "" && sc.strikes.empty()) {
		return Verdict{}, false
	}
	var ifAllowed []byte
	if opt.WebhookID != "" && sc.in.Hook == HookBeforeSend && onlyLimits(sc.steps) {
		ifAllowed = answerUnchanged // no rule but a limit matched: allowed means unchanged
	}
	claim := Claim{ID: opt.WebhookID, Sender: sender, TTL: e.replayTTL}
	if !sc.strikes.empty() {
		claim.Strikes = &sc.strikes
	}
	stateDeadline := opt.Deadline
	if !stateDeadline.IsZero() {
		stateDeadline = stateDeadline.Add(-decideMargin)
	}
	replay, err := e.state.Count(ctx, claim, ifAllowed, now, stateDeadline, sc.hits)
	res.StateErr = err
	res.Stored = replay.Stored && err == nil
	sc.strikeCounts(err == nil && !replay.Seen)
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
