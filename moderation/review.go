package moderation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Errors of the review flow, besides the sentinels every part of modgate
// uses.
var (
	// ErrFull: the queue holds its maximum of open items.
	ErrFull = errors.New("the review queue is full")
	// ErrUnconfirmed: a rejection would replace an approval that may have
	// reached Stream unconfirmed (see Choice.Force).
	ErrUnconfirmed = errors.New("an approval of this message may have reached Stream without Stream confirming it: " +
		"rejecting it now deletes the message even if it is visible in the channel; reject with force to do so")
	// ErrRefused: Stream refused a decision for good (a Publisher's error);
	// trying again would not help.
	ErrRefused = errors.New("stream refused the decision")
	// ErrAlreadyDone: Stream answered that what a decision asks was done
	// already (a Publisher's error, counted as success).
	ErrAlreadyDone = errors.New("stream had it done already")
	// ErrChanged: a moderator's decision names the revisions of a message
	// that changed since (see Choice.Revisions); it is an ErrConflict.
	ErrChanged = ErrorOf(ErrConflict, "the message changed since it was read")
	// ErrNotRevised: a pending message delivered again with another text
	// is queued, but the queue failed before the item could be revised
	// (see Reviews.Hold); it also wraps ErrUnavailable.
	ErrNotRevised = errors.New("a newer delivery of a queued message could not be applied")
)

// DeadlinePassed is the last error of a decision that did not reach Stream
// before its item's deadline.
const DeadlinePassed = "the deadline passed before Stream confirmed the decision"

// Publisher carries decisions to Stream. Its errors say what Stream did:
// one that wraps ErrAlreadyDone is a success; ErrRefused, a refusal for
// good; ErrUnavailable, that nothing reached Stream (try again later);
// any other, that the call may or may not have reached Stream.
type Publisher interface {
	// Patch updates the pending message h.MessageID with h.Patch, as its
	// sender, before its commit. Applying the same patch again leaves the
	// message as once: a try may repeat it whatever the last one did.
	Patch(ctx context.Context, h *Held) error
	// Commit makes a pending message visible.
	Commit(ctx context.Context, messageID string) error
	// Delete hard-deletes a message.
	Delete(ctx context.Context, messageID string) error
	// Send sends a message held on the before-send hook again, on its
	// sender's behalf, marked so that the hook lets it through: as a new
	// message with the id h.SendID(), or, for an edit, as the update of the
	// message it edits.
	Send(ctx context.Context, h *Held) error
	// Remove deletes a stored message, as Stream's moderators do (a soft
	// delete): a moderator's rejection of a reported message.
	Remove(ctx context.Context, messageID string) error
	// Enforce carries out consequence item h (h.Consequence) against its
	// sender h.UserID: a ban, shadow ban or timeout (for the minutes left
	// of it at now), a flag, telling the sender, or lifting a ban. Doing
	// it again leaves things as once.
	Enforce(ctx context.Context, h *Held, now time.Time) error
}

// SendID is the Stream id of the message an approval of h sends: the
// message an edit changes, or a new message named after the queue item,
// so that Stream refuses a second one ("already exists") rather than
// showing the message twice.
func (h *Held) SendID() string {
	if h.MessageID != "" {
		return h.MessageID
	}
	return h.ID
}

// AuditEntry is one line of the audit log: a decision modgate or a
// moderator made about a message, or a change of the rules.
type AuditEntry struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`  // "modgate", "stream", or the moderator's token name
	Action string    `json:"action"` // see the Audit* actions
	// The message.
	ItemID     string   `json:"item_id,omitempty"`
	MessageID  string   `json:"message_id,omitempty"`
	ChannelCID string   `json:"channel_cid,omitempty"`
	UserID     string   `json:"user_id,omitempty"`
	Rules      []string `json:"rules,omitempty"`
	Terms      []string `json:"terms,omitempty"`
	Decision   Decision `json:"decision,omitempty"` // the decision tried, for failures and expiries
	Attempts   int      `json:"attempts,omitempty"`
	Kind       ItemKind `json:"kind,omitempty"`    // of the item
	Strikes    int      `json:"strikes,omitempty"` // the sender's strikes that led to a consequence
	// The rules.
	RulesVersion    string `json:"rules_version,omitempty"`
	PreviousVersion string `json:"previous_version,omitempty"` // of a reload
	Reason          string `json:"reason,omitempty"`
	Error           string `json:"error,omitempty"`
	Cursor          string `json:"-"` // where the entry sits in its log, for paging
}

// The actions of the audit log.
const (
	AuditHeld      = "held"
	AuditApproved  = "approved"
	AuditRejected  = "rejected"
	AuditFailed    = "failed"  // a try did not reach Stream (logged at the 1st, 2nd, 4th, 8th... try, and when it fails for good)
	AuditExpired   = "expired" // the deadline passed: with no decision, or before Stream confirmed one
	AuditDeleted   = "deleted" // the sender deleted a pending message, or Stream did at its timeout
	AuditChanged   = "changed" // Stream delivered a pending message again with another text (see Reviews.Hold)
	AuditReloaded  = "rules_reloaded"
	AuditUnchanged = "rules_unchanged"
	AuditRefused   = "rules_refused"

	AuditReported      = "reported"       // a message or user was reported (or flagged in Stream) a first time
	AuditReportedAgain = "reported_again" // by another reporter
	AuditBanned        = "banned"         // consequences carried out: would_<do> in observe mode
	AuditShadowBanned  = "shadow_banned"
	AuditTimedOut      = "timed_out"
	AuditFlagged       = "flagged"
	AuditTold          = "told" // the sender of a rejected held message was told
	AuditLifted        = "lifted"
)

// AuditFilter selects audit entries; empty fields select all.
type AuditFilter struct {
	Actor      string
	Action     string
	UserID     string // the sender of the message
	ChannelCID string
	Since      time.Time // at or after
	Cursor     string    // from the previous page; "" for the newest
	Limit      int       // at most this many; 0 for the store's default
}

// Matches reports whether e is selected by f (Since, cursor and limit aside).
func (f *AuditFilter) Matches(e *AuditEntry) bool {
	return (f.Actor == "" || e.Actor == f.Actor) && (f.Action == "" || e.Action == f.Action) &&
		(f.UserID == "" || e.UserID == f.UserID) && (f.ChannelCID == "" || e.ChannelCID == f.ChannelCID)
}

// AuditLog keeps the audit log, newest first, bounded by its store.
type AuditLog interface {
	Record(ctx context.Context, e AuditEntry) error
	// List returns up to f.Limit entries older than f.Cursor that f
	// selects, and the cursor of the next page ("" at the end). A page
	// may hold fewer entries than the limit (a store reads a bounded
	// number of entries per call) while a next cursor says there is more.
	List(ctx context.Context, f AuditFilter) ([]AuditEntry, string, error)
}

// Defaults of Reviews.
const (
	DefaultLease        = time.Minute
	DefaultAnswerWithin = 5 * time.Second
	DefaultRetryMin     = 10 * time.Second
	DefaultRetryMax     = 10 * time.Minute
	DefaultKeepDone     = time.Hour
)

// Reviews is the review workflow: messages a rule held wait in Queue until
// a moderator approves or rejects them; decisions reach Stream through
// Publisher, and are written to Audit.
//
// A decision is recorded in the item with who made it, then carried out in
// tries, each under a lease on the item (Lease), on a context of its own:
// the moderator's client may hang up, the decision goes on. A try that
// fails is tried again with backoff (RetryMin doubling up to RetryMax)
// until Stream confirms, refuses for good, or the item's deadline passes;
// a try whose process died is taken over when its lease runs out. Decide
// waits AnswerWithin for the first try. Done items are kept KeepDone to be
// read, then forgotten.
type Reviews struct {
	Queue     Queue
	Publisher Publisher
	Audit     AuditLog
	Now       func() time.Time // the queue's clock; nil: time.Now
	Log       *slog.Logger     // nil: no log

	Lease        time.Duration // a try's lease; it gives up at three quarters of it
	AnswerWithin time.Duration
	RetryMin     time.Duration
	RetryMax     time.Duration
	KeepDone     time.Duration
	// After returns a channel that says when d has passed; nil:
	// time.After. Decide waits on it for the first try.
	After func(d time.Duration) <-chan time.Time

	tries sync.WaitGroup
	mu    sync.Mutex
	ctx   context.Context // tries run under it; Run cancels it when it stops
	stop  context.CancelFunc
}

func (r *Reviews) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (r *Reviews) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// base is the context of tries: not a request's, ended by Run's end.
func (r *Reviews) base() context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx == nil {
		r.ctx, r.stop = context.WithCancel(context.Background())
	}
	return r.ctx
}

func (r *Reviews) record(ctx context.Context, actor, action string, h *Held, reason, errText string) {
	if r.Audit == nil {
		return
	}
	e := AuditEntry{At: r.now(), Actor: actor, Action: action, ItemID: h.ID, MessageID: h.MessageID,
		ChannelCID: h.ChannelCID, UserID: h.UserID, Rules: h.Rules, Terms: h.Terms, RulesVersion: h.RulesVersion,
		Reason: reason, Error: errText, Kind: h.Kind}
	if h.Consequence != nil {
		e.Strikes = h.Consequence.Strikes
	}
	if action == AuditFailed || action == AuditExpired {
		e.Decision, e.Attempts = h.Decision, h.Attempts
	}
	// The audit log's own context: the entry is written even when the
	// request that led to it is gone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.Audit.Record(ctx, e); err != nil {
		r.log().Warn("writing the audit log failed", "action", action, "item_id", h.ID, "err", err)
	}
}

// Hold puts a message in the review queue and reports whether it added it:
// the same message delivered again (Stream retrying, another process, a
// restart) makes one item. A decision the rules made for it (Held.Decision)
// is then carried out in the background. ErrFull when the queue is full;
// see Unqueued for what becomes of a message the queue cannot keep.
//
// A pending message delivered again with another text while its item is
// open (its sender changed it while it was pending) revises the item:
// what a moderator or the rules decided was about the text they read, not
// about this one. If the rules reject the new text, modgate rejects the
// message; otherwise it waits for a moderator, whatever the rules say of
// the new text (an approval could commit text nobody reviewed, should the
// message change again or the deliveries come out of order). A rejection
// stands. Once the item is done the delivery changes nothing: the message
// is no longer pending, and its edits pass through the before-send hook.
// Hold returns the item as queued.
func (r *Reviews) Hold(ctx context.Context, h Held) (Held, bool, error) {
	h.State = HeldWaiting
	if h.Decision != "" {
		h.State, h.DecidedBy, h.DecidedAt = HeldDeciding, "modgate", h.HeldAt
	}
	added, err := r.Queue.Put(ctx, h)
	switch {
	case err != nil:
		return h, false, err
	case !added && h.Hook == HookPending:
		h, err := r.delivered(ctx, h)
		return h, false, err
	case !added:
		return h, false, nil
	}
	reason := ""
	if h.Unevaluated {
		reason = "the rules could not all be evaluated (out of time, or their limits counted by an earlier delivery): a moderator decides"
	}
	if h.Kind == KindMessage { // a consequence is written down once carried out
		r.record(ctx, "modgate", AuditHeld, &h, reason, "")
	}
	if h.Decision != "" {
		r.tryNow(h.ID)
	}
	return h, true, nil
}

// tryNow makes a try at the decision recorded for item id in the
// background; if modgate stops first, Pass finds it in the queue.
func (r *Reviews) tryNow(id string) {
	r.tries.Add(1)
	go func() {
		defer r.tries.Done()
		r.retry(id)
	}()
}

// delivered handles a pending message delivered again, h being what this
// delivery would queue (see Hold).
func (r *Reviews) delivered(ctx context.Context, h Held) (Held, error) {
	cur, err := r.Queue.Get(ctx, h.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		return h, nil // dropped meanwhile: Stream deleted it
	case err != nil:
		return h, fmt.Errorf("%w: %w: %w", ErrNotRevised, ErrUnavailable, err)
	case !cur.State.Open() || cur.Text == h.Text:
		return cur, nil
	}
	rev := Revision{Text: h.Text, Spans: h.Spans, Patch: h.Patch, Rules: h.Rules, Terms: h.Terms, RulesVersion: h.RulesVersion,
		Unevaluated: h.Unevaluated, Reject: h.Decision == Reject, Now: r.now()}
	why := "Stream delivered the message again with another text: a moderator decides"
	if rev.Reject {
		why = "Stream delivered the message again with another text, which the rules reject"
		rev.Reason = why
	}
	revised, err := r.Queue.Revise(ctx, h.ID, rev)
	if err != nil {
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrExpired) {
			return revised, nil // decided, or out of time, meanwhile
		}
		return cur, fmt.Errorf("%w: %w: %w", ErrNotRevised, ErrUnavailable, err)
	}
	r.record(ctx, "modgate", AuditChanged, &revised, why, "")
	if revised.State == HeldDeciding && revised.Lease == "" && revised.RetryAt.IsZero() {
		r.tryNow(revised.ID)
	}
	return revised, nil
}

// Unqueued carries out decision d about h, which the queue could not keep,
// in the background and once: nothing tries it again.
func (r *Reviews) Unqueued(h Held, d Decision, why error) {
	h.Decision = d
	r.tries.Add(1)
	go func() {
		defer r.tries.Done()
		ctx, cancel := context.WithTimeout(r.base(), r.tryTime())
		err := r.publish(ctx, &h)
		cancel()
		reason := "not queued: " + why.Error()
		if err != nil && !errors.Is(err, ErrAlreadyDone) {
			r.log().Warn("a decision about a message the queue could not keep did not reach Stream", "message_id", h.MessageID,
				"decision", string(d), "err", err)
			r.record(context.Background(), "modgate", AuditFailed, &h, reason, err.Error())
			return
		}
		r.record(context.Background(), "modgate", d.past(), &h, reason, "")
	}()
}

// Get returns an item in any state until the queue forgets it; a waiting
// item past its deadline reads as expired.
func (r *Reviews) Get(ctx context.Context, id string) (Held, error) {
	h, err := r.Queue.Get(ctx, id)
	if err == nil && h.State == HeldWaiting && !r.now().Before(h.Deadline) {
		h.State = HeldExpired
	}
	return h, err
}

// List returns a page of the open items f selects.
func (r *Reviews) List(ctx context.Context, f QueueFilter) ([]Held, string, error) {
	return r.Queue.List(ctx, f, r.now())
}

// Choice is a moderator's decision about a held message.
type Choice struct {
	Decision Decision
	Actor    string // who decides: the audit log's actor
	Reason   string
	// Force rejects a message even though an approval of it may have
	// reached Stream unconfirmed, deleting it from the channel if it did.
	Force bool
	// Revisions, when not nil, is the item's Revisions as the moderator
	// read it: if Stream delivered the message again with another text
	// since, the decision gets ErrConflict rather than deciding about a
	// text the moderator did not read.
	Revisions *int
}

// Decide records a moderator's decision about item id and carries it out:
// approved, a pending message is updated with its patch, when it has one,
// then committed, and a message held on the
// before-send hook is sent again on its sender's behalf; rejected, a
// pending message is hard-deleted and one held on the before-send hook
// (which Stream never stored) is only closed.
//
// Decide returns when the first try settled, or after AnswerWithin, or
// when ctx ends, with the item as it then is: done, or deciding (the try
// goes on, or failed and is tried again). Concurrent decisions about one
// message make one; the others get ErrConflict, as does a decision about a
// done item. An item past its deadline gets ErrExpired. A decision Stream
// refuses for good leaves the item failed and returns an error wrapping
// ErrRefused.
func (r *Reviews) Decide(ctx context.Context, id string, c Choice) (Held, error) {
	if !c.Decision.Valid() {
		return Held{}, fmt.Errorf("decision %q is not approve or reject: %w", c.Decision, ErrInvalid)
	}
	h, err := r.take(ctx, id, Take{Decision: c.Decision, Actor: c.Actor, Reason: c.Reason, Force: c.Force, Revisions: c.Revisions})
	if err != nil {
		return h, err
	}
	settled := make(chan Held, 1)
	r.tries.Add(1)
	go func() {
		defer r.tries.Done()
		settled <- r.carry(h)
	}()
	var wait <-chan time.Time
	if r.After != nil {
		wait = r.After(or(r.AnswerWithin, DefaultAnswerWithin))
	} else {
		t := time.NewTimer(or(r.AnswerWithin, DefaultAnswerWithin))
		defer t.Stop()
		wait = t.C
	}
	select {
	case s := <-settled:
		if s.State == HeldFailed {
			return s, fmt.Errorf("%s %s: %w: %s", s.Decision.past(), id, ErrRefused, s.LastError)
		}
		return s, nil
	case <-wait:
	case <-ctx.Done():
	}
	return h, nil
}

// errNotPatching: no try is applying the item's patch.
var errNotPatching = ErrorOf(ErrConflict, "no approval of this pending message is being carried out")

// Patching returns pending item id while a try carries out its approval
// (a live lease), so that the update applying its patch can be told from
// anything else that carries its marker; ErrConflict otherwise, and
// ErrNotFound for an item the queue does not know.
func (r *Reviews) Patching(ctx context.Context, id string) (Held, error) {
	h, err := r.Queue.Get(ctx, id)
	if err != nil {
		return h, err
	}
	if h.Hook != HookPending || h.Patch == nil || h.Decision != Approve || h.State != HeldDeciding || !h.LeaseUntil.After(r.now()) {
		return h, errNotPatching
	}
	return h, nil
}

// Drop forgets a pending message its sender deleted, or Stream did when
// its pending time ran out.
func (r *Reviews) Drop(ctx context.Context, id string) error {
	h, err := r.Queue.Remove(ctx, id)
	if err != nil {
		return err
	}
	r.record(ctx, "stream", AuditDeleted, &h, "", "")
	return nil
}
