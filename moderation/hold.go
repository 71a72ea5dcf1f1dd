package moderation

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/modgate/modgate/rawjson"
	"github.com/modgate/modgate/rules"
)

// Decision is what becomes of a held message: approved, it reaches the
// channel; rejected, it does not.
type Decision string

// The decisions. The zero Decision is none yet: the message waits for a
// moderator.
const (
	Approve Decision = "approve"
	Reject  Decision = "reject"
)

// Valid reports whether d is Approve or Reject.
func (d Decision) Valid() bool { return d == Approve || d == Reject }

// past names the decision once made, as the audit log writes it.
func (d Decision) past() string {
	if d == Approve {
		return "approved"
	}
	return "rejected"
}

// HoldOptions place a message in the review queue.
type HoldOptions struct {
	// Delivery names the hook call that brought the message (Stream's
	// X-Webhook-Id, the same on every retry of the call). A message held on
	// the before-send hook is queued under an id made from it, so that a
	// retry, on this process or another, finds the item the first call
	// made; without it the id is random. A pending message's queue id is
	// its Stream id.
	Delivery string
	At       time.Time // when it was held
	Deadline time.Time // after it, the message can no longer be approved
	// FlagField is the field modgate owns (the rule set's flag field): a
	// pending message that carries it has it overwritten before its
	// commit (see Patch).
	FlagField string
	// Uncounted: the limit rules did not count this delivery (an earlier
	// one of the same call did, and left no item), so what they decide is
	// not known: a pending message no rule refused waits for a moderator.
	Uncounted bool
}

// NewHeld builds the queue item for msg and the verdict the rules reached
// for it: the message as a moderator reads it, the rules and terms that
// fired and where in the text they were found, and, for a pending message,
// what an approval changes in it (its Patch) and the decision modgate
// carries out itself when the rules made one. A pending message whose
// rules could not all be evaluated (out of time, v.DeadlineHit, or limits
// uncounted, o.Uncounted) and that no rule refused waits for a moderator
// (Unevaluated): pending messages fail closed. Every string is copied: the
// item outlives the request whose buffers msg points into.
//
// A message held on the before-send hook must name its channel and sender,
// which an approval needs to send it again; a pending message needs its id.
// Otherwise the error wraps ErrInvalid.
func NewHeld(msg *Message, v *Verdict, o HoldOptions) (Held, error) {
	h := Held{
		Hook:         msg.Hook,
		ChannelCID:   stringAt(msg.Channel, "cid"),
		UserID:       stringAt(msg.User, "id"),
		Text:         strings.Clone(msg.Text),
		RulesVersion: v.RulesVersion,
		HeldAt:       o.At,
		Deadline:     o.Deadline,
		State:        HeldWaiting,
		Notice:       v.Notice,
	}
	if h.ChannelCID == "" {
		h.ChannelCID = stringAt(msg.Object, "cid")
	}
	if h.UserID == "" {
		h.UserID = stringAt(msg.Object, "user", "id")
	}
	for _, f := range v.Fired {
		if f.Observed {
			continue
		}
		h.Rules = append(h.Rules, f.RuleID)
		for _, m := range f.Matches {
			h.Terms = append(h.Terms, termName(m))
		}
	}
	h.Spans = spansOf(h.Text, v.Fired)
	switch msg.Hook {
	case HookPending:
		if msg.ID == "" {
			return h, fmt.Errorf("a pending message has an id: %w", ErrInvalid)
		}
		h.ID, h.MessageID = strings.Clone(msg.ID), strings.Clone(msg.ID)
		switch {
		case v.Action == rules.ActionReject:
			h.Decision = Reject
			return h, nil
		case v.Action == rules.ActionHold:
		case v.DeadlineHit || o.Uncounted:
			h.Unevaluated = true
		default:
			h.Decision = Approve
		}
		h.Patch = newPatch(msg, v, o.FlagField)
	default:
		if h.ChannelCID == "" || h.UserID == "" {
			return h, fmt.Errorf("the message names no channel or no sender, which an approval needs: %w", ErrInvalid)
		}
		h.ID = beforeSendID(o.Delivery)
		h.MessageID = strings.Clone(msg.ID) // an edit: the message it changes
		h.Message = json.RawMessage(append([]byte(nil), msg.Object...))
	}
	return h, nil
}

// beforeSendID is the queue id of a message held on the before-send hook.
func beforeSendID(delivery string) string {
	var sum [sha256.Size]byte
	if delivery != "" {
		sum = sha256.Sum256([]byte("modgate hold\x00" + delivery))
	} else {
		rand.Read(sum[:])
	}
	return "bs-" + hex.EncodeToString(sum[:12])
}

// Unheld is what becomes of a message a rule held when the queue cannot
// keep it (full, or its store unreachable): never the hold reply, which
// would promise a moderator who will never see it. The rule's on_error
// decides: allow, written in the rules file, lets the message through
// (Approve); anything else (reject, hold, or nothing written) refuses it
// with the settings' reject reply (Reject).
func Unheld(set *rules.Set, v *Verdict) Decision {
	for _, r := range set.Rules {
		if r.ID == v.RuleID {
			if r.OnErrorSet && r.OnError == rules.ActionAllow {
				return Approve
			}
			break
		}
	}
	return Reject
}

// spansOf records where in text the rules that fired (observed ones aside)
// matched, as the matcher saw it then: the rules in force when a moderator
// looks may have changed, and a pending message keeps only its text, so the
// match cannot be found again later. Matches that are not in the text (a
// condition on another field) have no span.
func spansOf(text string, fired []Firing) []Span {
	var spans []Span
	var analyzed *rules.Text
	for _, f := range fired {
		if f.Observed {
			continue
		}
		for _, m := range f.Matches {
			if m.Start < 0 || m.End > len(text) || m.Start >= m.End {
				continue
			}
			if analyzed == nil {
				analyzed = rules.Analyze(text)
				defer analyzed.Release()
			}
			spans = append(spans, Span{Rule: f.RuleID, Start: m.Start, End: m.End, Term: m.Term, List: m.List,
				Folded: analyzed.Folded(m.Start, m.End), Steps: m.Steps.String()})
		}
	}
	return spans
}

// stringAt returns the JSON string at path in obj, or "".
func stringAt(obj []byte, path ...string) string {
	return rawjson.String(rawjson.Lookup(obj, path...))
}

// termName names a matched term for moderators: "list:term", or the term
// alone when the rule wrote it inline.
func termName(m rules.Match) string {
	if m.List == "" {
		return m.Term
	}
	return m.List + ":" + m.Term
}
