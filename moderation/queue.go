package moderation

import (
	"context"
	"encoding/json"
	"time"
)

// Held is an item of the review queue: waiting for a moderator, or with a
// decision on its way to Stream. Most are held messages (KindMessage);
// reports of stored messages (KindReport) and the consequences the rules
// give senders (KindConsequence) share the queue's exactly-once tries,
// retries and audit.
type Held struct {
	ID           string          `json:"id"`             // the queue's id: the Stream message id for pending messages
	Kind         ItemKind        `json:"kind,omitempty"` // "" for a held message
	MessageID    string          `json:"message_id"`     // Stream's id: a pending message's, or the message a before-send edit changes ("" for a new one)
	Hook         string          `json:"hook"`           // HookPending or HookBeforeSend
	ChannelCID   string          `json:"channel_cid"`
	UserID       string          `json:"user_id"`
	Text         string          `json:"text"`            // as received
	Patch        *Patch          `json:"patch,omitempty"` // pending: what an approval changes in the message before committing it
	Message      json.RawMessage `json:"message"`         // as received, to send again on approval of a before-send hold
	Rules        []string        `json:"rules"`           // the rules that held it
	Terms        []string        `json:"terms,omitempty"`
	Spans        []Span          `json:"spans,omitempty"` // where in Text the terms were found
	RulesVersion string          `json:"rules_version"`
	HeldAt       time.Time       `json:"held_at"`
	Deadline     time.Time       `json:"deadline"` // after it the message can no longer be approved
	// Unevaluated: the rules could not all be evaluated (out of time, or
	// their limits counted by an earlier delivery), so the message waits
	// for a moderator whatever those evaluated decided.
	Unevaluated bool `json:"unevaluated,omitempty"`
	// Revisions counts the deliveries of a pending message with another
	// text since it was queued (see Queue.Revise).
	Revisions int `json:"revisions,omitempty"`
	// Notice is what the sender of a held message is told when a
	// moderator rejects it (its rule's rejected_reply); "" for nothing.
	Notice string `json:"notice,omitempty"`
	// Report is who reported the message or user of a KindReport item.
	Report *Report `json:"report,omitempty"`
	// Consequence is what a KindConsequence item does to its sender (UserID).
	Consequence *Consequence `json:"consequence,omitempty"`

	// The decision, once made: by a moderator, or by the rules for a
	// pending message they decided at once (DecidedBy "modgate").
	Decision  Decision  `json:"decision,omitempty"`
	DecidedBy string    `json:"decided_by,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	DecidedAt time.Time `json:"decided_at,omitzero"`

	State      HeldState `json:"state"`
	Attempts   int       `json:"attempts,omitempty"`    // tries to carry decisions out
	LastError  string    `json:"last_error,omitempty"`  // why the last try did not reach Stream
	RetryAt    time.Time `json:"retry_at,omitzero"`     // deciding: when the decision is tried again
	LeaseUntil time.Time `json:"lease_until,omitzero"`  // deciding: until when the try under way owns the item
	Unsure     bool      `json:"unconfirmed,omitempty"` // a try may have reached Stream without Stream confirming it
	DoneAt     time.Time `json:"done_at,omitzero"`

	Lease string `json:"-"` // the token of the try under way; it alone may settle it
}

// ItemKind is what a queue item is about.
type ItemKind string

// The kinds of items.
const (
	KindMessage     ItemKind = ""            // a message a rule held
	KindReport      ItemKind = "report"      // a stored message (or a user) reported or flagged
	KindConsequence ItemKind = "consequence" // a ban, shadow ban, timeout or flag to carry out, or a ban to lift
)

// Span is a part of a held message's text that a rule matched: what a
// moderator sees highlighted, and how the text was disguised.
type Span struct {
	Rule   string `json:"rule"`
	Start  int    `json:"start"` // bytes of Held.Text
	End    int    `json:"end"`
	Term   string `json:"term"`           // as written in its list, or in the rule
	List   string `json:"list,omitempty"` // "" for a term written in the rule
	Folded string `json:"folded"`         // the text as the matcher compared it
	Steps  string `json:"steps"`          // the foldings it needed (rules.Steps: "leetspeak,separators", or "none")
}

// HeldState is where a held message is in its review.
type HeldState string

// The states. A decision moves an item from waiting to deciding: a try to
// carry it out holds a lease on the item, so that two moderators clicking
// at once make one decision, and a try that dies (with its process) is
// taken over once its lease runs out. A try that fails leaves the item
// deciding, to be tried again at RetryAt, until Stream confirms (done) or
// refuses for good, or the deadline passes (failed). A moderator may decide
// again about a deciding item between tries and about a failed one.
const (
	HeldWaiting  HeldState = "waiting"
	HeldDeciding HeldState = "deciding"
	HeldDone     HeldState = "done"    // Stream confirmed; kept a while to be read, then forgotten
	HeldFailed   HeldState = "failed"  // the decision cannot reach Stream: refused, or out of time
	HeldExpired  HeldState = "expired" // the deadline passed with no decision
)

// Open reports whether the item is still in the queue's lists (waiting,
// deciding or failed), as opposed to closed (done or expired).
func (s HeldState) Open() bool { return s == HeldWaiting || s == HeldDeciding || s == HeldFailed }

// QueueFilter selects open held messages; empty fields select all.
type QueueFilter struct {
	ChannelCID string
	UserID     string
	Rule       string
	HeldAfter  time.Time // held at or after
	HeldBefore time.Time // held before
	Kind       *ItemKind // only this kind; nil: every kind
	Newest     bool      // newest first; otherwise held first first
	Cursor     string    // from the previous page (listed in the same order); "" for the first
	Limit      int       // at most this many; 0 for the store's default
}

// Take asks to start a try at carrying out a decision.
type Take struct {
	// Decision is a moderator's decision, which replaces the one recorded;
	// "" tries the recorded decision again, once its RetryAt has come.
	Decision Decision
	Actor    string
	Reason   string
	// Force replaces an approval that may have reached Stream unconfirmed
	// with a rejection; without it that gets ErrUnconfirmed.
	Force bool
	// Revisions, when not nil, is the item's Revisions as the moderator
	// read it: a decision about a message that changed since gets
	// ErrConflict.
	Revisions *int

	Lease      string    // the try's token
	Now        time.Time // the queue's clock
	LeaseUntil time.Time
}

// Revision is a newer delivery of a queued pending message with another
// text (Stream calling the hook again for a message its sender changed
// while it was pending): its content, and what the rules say of it.
type Revision struct {
	Text         string
	Spans        []Span
	Patch        *Patch
	Rules        []string
	Terms        []string
	RulesVersion string
	Unevaluated  bool
	// Reject: the rules reject the new text. The item is then rejected by
	// modgate with Reason, whatever was decided; otherwise it waits for a
	// moderator, unless it was being rejected: a rejection stands.
	Reject bool
	Reason string
	Now    time.Time
}

// Apply replaces h's content with r's and counts the revision; the
// decision is the queue's to change (see Queue.Revise).
func (r *Revision) Apply(h *Held) {
	h.Text, h.Spans, h.Patch, h.Rules, h.Terms = r.Text, r.Spans, r.Patch, r.Rules, r.Terms
	h.RulesVersion, h.Unevaluated = r.RulesVersion, r.Unevaluated
	h.Revisions++
}

// Settle is how a try ended.
type Settle struct {
	Lease     string // the try's token: a try that lost its lease settles nothing
	Now       time.Time
	Done      bool      // Stream confirmed
	Error     string    // why not
	Unsure    bool      // the try may have reached Stream
	RetryAt   time.Time // when to try again; zero (or past the deadline): failed for good
	KeepUntil time.Time // when done: when the item is forgotten
}

// Queue keeps held messages. Every change of an item is atomic, and shared
// by every process using the same store. Errors: ErrNotFound for an id the
// queue does not know (or has forgotten), ErrExpired for an item past its
// deadline, ErrConflict for one already decided or being decided,
// ErrUnconfirmed (see Take.Force), ErrFull, ErrInvalid for a bad cursor.
type Queue interface {
	// Put adds an item, unless its id is there already, in any state: the
	// same message delivered again makes one item. It reports whether it
	// added it; ErrFull when the queue holds its maximum of open items.
	Put(ctx context.Context, h Held) (bool, error)
	// Get returns an item in any state, until it is forgotten.
	Get(ctx context.Context, id string) (Held, error)
	// List returns one page of open items before their deadline, held
	// first first (newest first with f.Newest), and the cursor of the next
	// page ("" at the end).
	List(ctx context.Context, f QueueFilter, now time.Time) ([]Held, string, error)
	// Take moves an item to deciding under a new lease, exactly once.
	Take(ctx context.Context, id string, t Take) (Held, error)
	// Settle ends the try holding s.Lease: done, to be tried again, or
	// failed. ErrConflict when another try holds the item now.
	Settle(ctx context.Context, id string, s Settle) (Held, error)
	// Due returns up to limit deciding items whose try is due: RetryAt
	// passed, or the lease of the last try ran out. Soonest due first.
	Due(ctx context.Context, now time.Time, limit int) ([]Held, error)
	// Expire closes up to limit open items past their deadline that no live
	// lease holds (waiting ones expire, deciding ones fail) and returns
	// those it closed, as they were.
	Expire(ctx context.Context, now time.Time, limit int) ([]Held, error)
	// Revise applies a newer delivery of an open item's message, at once:
	// its content (Revision.Apply), and its decision as Revision says. A
	// try under way loses its lease (it settles nothing), and an approval
	// it may have carried out is marked unconfirmed. It returns the item
	// as revised; ErrConflict for a done item, ErrExpired for one past its
	// deadline.
	Revise(ctx context.Context, id string, r Revision) (Held, error)
	// Remove forgets an item (its sender deleted it) and returns it.
	Remove(ctx context.Context, id string) (Held, error)
	// AddReporter adds r to the report of item id, in any state, unless
	// r.UserID reported it before; it returns the item and whether r is
	// new. An item lists MaxReporters reporters and counts them all.
	AddReporter(ctx context.Context, id string, r Reporter) (Held, bool, error)
	// Len is the number of open items.
	Len(ctx context.Context) (int, error)
}

// MaxQueuePage is the largest page a list returns.
const MaxQueuePage = 500

// PageSize bounds a requested page size.
func PageSize(limit int) int {
	switch {
	case limit <= 0:
		return 50
	case limit > MaxQueuePage:
		return MaxQueuePage
	}
	return limit
}

// Matches reports whether h is selected by f (cursor and limit aside).
func (f *QueueFilter) Matches(h *Held) bool {
	if f.ChannelCID != "" && h.ChannelCID != f.ChannelCID {
		return false
	}
	if f.UserID != "" && h.UserID != f.UserID {
		return false
	}
	if !f.HeldAfter.IsZero() && h.HeldAt.Before(f.HeldAfter) {
		return false
	}
	if !f.HeldBefore.IsZero() && !h.HeldAt.Before(f.HeldBefore) {
		return false
	}
	if f.Kind != nil && h.Kind != *f.Kind {
		return false
	}
	if f.Rule != "" {
		for _, r := range h.Rules {
			if r == f.Rule {
				return true
			}
		}
		return false
	}
	return true
}
