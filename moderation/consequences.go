package moderation

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/modgate/modgate/rules"
)

// Consequence is what happens to a sender through Stream because a rule
// acted on their message: a ban, a shadow ban, a timeout in the channel, a
// flag, and the steps modgate takes on its own (telling the sender of a
// rejection, lifting a ban). A verdict lists those its rules led to; a
// queue item of kind KindConsequence carries one out.
type Consequence struct {
	Do      string `json:"do"`                // rules.DoBan, DoShadowBan, DoTimeout, DoFlag, or DoTell, DoLift
	RuleID  string `json:"rule_id,omitempty"` // the rule that led to it
	Minutes int    `json:"minutes,omitempty"` // how long a ban, shadow ban or timeout lasts; 0: for ever
	Reason  string `json:"reason,omitempty"`  // what Stream records
	// Observed: the consequence, or its rule, is in observe mode: counted
	// and logged as would_<do>, not carried out.
	Observed bool `json:"observed,omitempty"`
	// Strikes are the sender's strikes its `when` read (the first count it
	// read), the message's own included, within StrikesWithin.
	Strikes       int    `json:"strikes,omitempty"`
	StrikesWithin string `json:"strikes_within,omitempty"`
	// FlagUser: a flag of the sender rather than of the message, which
	// Stream never stores (refused, held) or whose id is not known yet.
	FlagUser bool `json:"flag_user,omitempty"`
	// Notice is what DoTell tells the sender.
	Notice string `json:"notice,omitempty"`
	// Lifts is the item of the ban, shadow ban or timeout DoLift lifts,
	// and LiftsDo what it did.
	Lifts   string `json:"lifts,omitempty"`
	LiftsDo string `json:"lifts_do,omitempty"`
}

// The steps modgate takes on its own, beside those the rules name.
const (
	DoTell = "tell" // tell the sender of a held message that a moderator rejected it
	DoLift = "lift" // lift a ban, shadow ban or timeout: a moderator's decision
)

// Liftable reports whether a moderator can lift what c did.
func (c *Consequence) Liftable() bool {
	return c.Do == rules.DoBan || c.Do == rules.DoShadowBan || c.Do == rules.DoTimeout
}

// StrikesText says the strikes that led to c, for people: "3 strikes within 10
// minutes"; "" when its rule read none.
func (c *Consequence) StrikesText() string {
	if c.StrikesWithin == "" {
		return ""
	}
	word := "strikes"
	if c.Strikes == 1 {
		word = "strike"
	}
	return fmt.Sprintf("%d %s within %s", c.Strikes, word, c.StrikesWithin)
}

// Done names the consequence once carried out, as the audit log writes it:
// banned, shadow_banned, timed_out, flagged, told, lifted; with would_ for
// one in observe mode (would_ban...).
func (c *Consequence) Done() string {
	if c.Observed {
		return "would_" + c.Do
	}
	switch c.Do {
	case rules.DoBan:
		return AuditBanned
	case rules.DoShadowBan:
		return AuditShadowBanned
	case rules.DoTimeout:
		return AuditTimedOut
	case rules.DoFlag:
		return AuditFlagged
	case DoTell:
		return AuditTold
	case DoLift:
		return AuditLifted
	}
	return c.Do
}

// consequences adds to v what the consequences of the rules that acted on
// the message make of it, their strikes counted: the consequences whose
// `when` holds. A retry adds none: the first delivery decided them, and a
// retry counted no strikes.
func (e *Engine) consequences(msg *Message, sc *scratch, v *Verdict, res *Result) {
	if res.Retry || len(v.Fired) == 0 {
		return
	}
	for _, f := range v.Fired {
		if f.OnError {
			continue
		}
		r := sc.ruleOf(f.RuleID)
		if r == nil || len(r.Consequences) == 0 {
			continue
		}
		for i := range r.Consequences {
			c := &r.Consequences[i]
			if c.When != nil {
				sc.found = sc.found[:0]
				if _, t := c.When.Match(&sc.in, sc.found); t != rules.True {
					continue
				}
			}
			out := Consequence{Do: c.Do, RuleID: r.ID, Minutes: c.Minutes(), Observed: c.Mode == rules.ModeObserve || f.Observed,
				Reason: c.Reason.Render(replyData(r, f.Matches, msg, &sc.in, 0, false))}
			if ws := c.StrikeWindows(); len(ws) > 0 {
				if n, _, ok := sc.in.Strikes.Count(ws[0]); ok {
					out.Strikes, out.StrikesWithin = n, rules.HumanDuration(ws[0].Within)
				}
			}
			if c.Do == rules.DoFlag && (v.Refused() || msg.ID == "") {
				out.FlagUser = true
			}
			v.Consequences = append(v.Consequences, out)
		}
	}
}

// ruleOf finds the rule of a step by id.
func (sc *scratch) ruleOf(id string) *rules.Rule {
	for _, st := range sc.steps {
		if st.rule != nil && st.rule.ID == id {
			return st.rule
		}
	}
	return nil
}

// DefaultConsequenceRetries is how long modgate tries to carry out a
// consequence that lasts for ever (a flag, a permanent ban, telling the
// sender, lifting a ban); one that ends is tried until it would have ended.
const DefaultConsequenceRetries = 24 * time.Hour

// ConsequenceOptions place a consequence in the queue.
type ConsequenceOptions struct {
	// Delivery names the hook call that led to it (Stream's X-Webhook-Id,
	// or the pending message's id): the item's id is made from it, so that
	// a consequence is carried out once however often its call is
	// delivered. "": a random id.
	Delivery string
	Index    int // the consequence's place among the verdict's
	At       time.Time
}

// NewConsequence builds the queue item that carries out c, which verdict v
// gave the sender of msg. Every string is copied: the item outlives the
// request whose buffers msg points into.
func NewConsequence(msg *Message, v *Verdict, c Consequence, o ConsequenceOptions) Held {
	h := Held{
		Kind:         KindConsequence,
		Hook:         msg.Hook,
		ChannelCID:   stringAt(msg.Channel, "cid"),
		UserID:       stringAt(msg.User, "id"),
		MessageID:    strings.Clone(msg.ID),
		Text:         strings.Clone(msg.Text),
		Rules:        []string{c.RuleID},
		RulesVersion: v.RulesVersion,
		HeldAt:       o.At,
		Deadline:     o.At.Add(DefaultConsequenceRetries),
		Decision:     Approve,
		Consequence:  &c,
	}
	if h.ChannelCID == "" {
		h.ChannelCID = stringAt(msg.Object, "cid")
	}
	if h.UserID == "" {
		h.UserID = stringAt(msg.Object, "user", "id")
	}
	for _, f := range v.Fired {
		if f.RuleID == c.RuleID {
			for _, m := range f.Matches {
				h.Terms = append(h.Terms, termName(m))
			}
		}
	}
	if c.Minutes > 0 {
		h.Deadline = o.At.Add(time.Duration(c.Minutes) * time.Minute)
	}
	h.ID = consequenceID(o.Delivery, c.RuleID, o.Index)
	return h
}

// consequenceID is the queue id of a consequence.
func consequenceID(delivery, rule string, index int) string {
	var sum [sha256.Size]byte
	if delivery != "" {
		sum = sha256.Sum256([]byte("modgate consequence\x00" + delivery + "\x00" + rule + "\x00" + strconv.Itoa(index)))
	} else {
		rand.Read(sum[:])
	}
	return "cq-" + hex.EncodeToString(sum[:12])
}

// Consequences carries out the consequences v lists for msg's sender, in
// the background: each becomes a queue item, tried at once and again with
// backoff until Stream confirms, as decisions are (a restart finds them in
// the queue, with Redis). Those in observe mode are only written to the
// audit log as would_<do>. The items are built before Consequences
// returns: msg's buffers may be reused after it. They are timed by the
// queue's clock, which the minutes left of a ban are counted by.
func (r *Reviews) Consequences(msg *Message, v *Verdict, delivery string) {
	if len(v.Consequences) == 0 {
		return
	}
	at := r.now()
	items := make([]Held, 0, len(v.Consequences))
	for i, c := range v.Consequences {
		h := NewConsequence(msg, v, c, ConsequenceOptions{Delivery: delivery, Index: i, At: at})
		if h.UserID == "" {
			r.log().Warn("a consequence names no sender: it is not carried out", "rule_id", c.RuleID, "do", c.Do)
			continue
		}
		items = append(items, h)
	}
	r.tries.Add(1)
	go func() {
		defer r.tries.Done()
		// Not the tries' context: a message answered while modgate stops
		// (draining) still queues its consequences, for the next process.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, h := range items {
			r.consequence(ctx, h)
		}
	}()
}

// consequence queues one consequence and tries it, or writes it to the
// audit log as would_<do> when it is observed.
func (r *Reviews) consequence(ctx context.Context, h Held) {
	c := h.Consequence
	if c.Observed {
		r.recordConsequence(ctx, c.Done(), &h, "")
		return
	}
	if _, _, err := r.Hold(ctx, h); err != nil {
		r.log().Warn("a consequence could not be queued: it is not carried out", "rule_id", c.RuleID, "do", c.Do,
			"user_id", h.UserID, "err", err)
		r.recordConsequence(ctx, AuditFailed, &h, "not queued: "+err.Error())
	}
}

// recordConsequence writes what became of a consequence to the audit log:
// the rule, the strikes and the reason.
func (r *Reviews) recordConsequence(ctx context.Context, action string, h *Held, errText string) {
	c := h.Consequence
	reason := c.Reason
	if s := c.StrikesText(); s != "" {
		reason = joinReason(reason, s)
	}
	if c.Minutes > 0 {
		reason = joinReason(reason, "for "+rules.HumanDuration(time.Duration(c.Minutes)*time.Minute))
	}
	if c.Do == DoLift {
		reason = joinReason(h.Reason, "lifts the "+strings.ReplaceAll(c.LiftsDo, "_", " "))
		if c.Lifts != "" {
			reason += " of " + c.Lifts
		}
	}
	actor := h.DecidedBy
	if actor == "" {
		actor = "modgate"
	}
	r.record(ctx, actor, action, h, reason, errText)
}

// LiftRequest is a moderator's lifting of a ban, shadow ban or timeout:
// of the consequence item Of, when modgate banned the user (an item is
// forgotten an hour after it was carried out, so the request says what it
// did too), or of a ban made elsewhere.
type LiftRequest struct {
	UserID     string
	Do         string // rules.DoBan, DoShadowBan or DoTimeout
	ChannelCID string // the channel of a timeout
	Of         string // the consequence item that banned; "" for a ban made elsewhere
	Actor      string
	Reason     string
}

// Lift lifts a ban, shadow ban or timeout (Stream's DELETE
// /moderation/ban) as a consequence of its own (DoLift): queued, carried
// out once, tried again until Stream confirms, written to the audit log.
// It waits for the first try as Decide does, and returns the lifting item;
// a second lift of the same item returns the first. ErrInvalid for a
// request that lifts nothing, or an item that banned nobody.
func (r *Reviews) Lift(ctx context.Context, q LiftRequest) (Held, error) {
	if q.Of != "" {
		ban, err := r.Queue.Get(ctx, q.Of)
		switch {
		case err == nil && (ban.Kind != KindConsequence || ban.Consequence == nil || !ban.Consequence.Liftable()):
			return Held{}, fmt.Errorf("item %s is not a ban, shadow ban or timeout: %w", q.Of, ErrInvalid)
		case err == nil && q.UserID != "" && q.UserID != ban.UserID:
			return Held{}, fmt.Errorf("item %s banned %s, not %s: %w", q.Of, ban.UserID, q.UserID, ErrInvalid)
		case err == nil:
			q.UserID, q.Do, q.ChannelCID = ban.UserID, ban.Consequence.Do, ban.ChannelCID
		case !errors.Is(err, ErrNotFound):
			return Held{}, err
		}
	}
	c := Consequence{Do: q.Do}
	switch {
	case q.UserID == "":
		return Held{}, fmt.Errorf("a lift names the user: %w", ErrInvalid)
	case !c.Liftable():
		return Held{}, fmt.Errorf("%q is not a ban, shadow_ban or timeout: %w", q.Do, ErrInvalid)
	case q.Do == rules.DoTimeout && !strings.Contains(q.ChannelCID, ":"):
		return Held{}, fmt.Errorf("a timeout is lifted in its channel (type:id): %w", ErrInvalid)
	}
	now := r.now()
	lift := Held{Kind: KindConsequence, ID: liftID(q), ChannelCID: q.ChannelCID, UserID: q.UserID, HeldAt: now,
		Deadline: now.Add(DefaultConsequenceRetries), State: HeldWaiting,
		Consequence: &Consequence{Do: DoLift, Lifts: q.Of, LiftsDo: q.Do}}
	added, err := r.Queue.Put(ctx, lift)
	switch {
	case err != nil:
		return lift, err
	case !added:
		return r.Get(ctx, lift.ID) // lifted before: that lift stands
	}
	return r.Decide(ctx, lift.ID, Choice{Decision: Approve, Actor: q.Actor, Reason: q.Reason})
}

// liftID is the queue id of a lift: made from the item it lifts, so that
// a second click lifts once; random for a ban made elsewhere.
func liftID(q LiftRequest) string {
	var sum [sha256.Size]byte
	if q.Of != "" {
		sum = sha256.Sum256([]byte("modgate lift\x00" + q.Of))
	} else {
		rand.Read(sum[:])
	}
	return "lift-" + hex.EncodeToString(sum[:12])
}

// tell queues the message that tells the sender of h, a held message a
// moderator rejected, that it was (h.Notice), once.
func (r *Reviews) tell(h *Held) {
	if h.Kind != KindMessage || h.Decision != Reject || h.Notice == "" || h.UserID == "" || h.ChannelCID == "" {
		return
	}
	now := r.now()
	t := Held{Kind: KindConsequence, ID: "tell-" + h.ID, Hook: h.Hook, ChannelCID: h.ChannelCID, UserID: h.UserID,
		MessageID: h.MessageID, Rules: h.Rules, RulesVersion: h.RulesVersion, HeldAt: now, Deadline: now.Add(DefaultConsequenceRetries),
		Decision: Approve, Consequence: &Consequence{Do: DoTell, Notice: h.Notice}}
	if len(h.Rules) > 0 {
		t.Consequence.RuleID = h.Rules[0]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := r.Hold(ctx, t); err != nil {
		r.log().Warn("telling the sender of a rejected message failed: the message is not sent", "item_id", h.ID, "err", err)
	}
}
