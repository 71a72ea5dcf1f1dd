package moderation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Publisher carries decisions to Stream.
type Publisher interface {
	// Commit makes a pending message visible.
	Commit(ctx context.Context, messageID string) error
	// Delete hard-deletes a pending message.
	Delete(ctx context.Context, messageID string) error
	// Send sends a message held on the before-send hook, on its sender's
	// behalf, marked so that the hook lets it through.
	Send(ctx context.Context, h *Held) error
}

// AuditEntry is one line of the audit log: a decision modgate or a
// moderator made about a message.
type AuditEntry struct {
	At           time.Time `json:"at"`
	Actor        string    `json:"actor"`  // "modgate", or the moderator's token name
	Action       string    `json:"action"` // held, approved, rejected, deleted, failed
	ItemID       string    `json:"item_id"`
	MessageID    string    `json:"message_id,omitempty"`
	ChannelCID   string    `json:"channel_cid,omitempty"`
	UserID       string    `json:"user_id,omitempty"`
	Rules        []string  `json:"rules,omitempty"`
	Terms        []string  `json:"terms,omitempty"`
	RulesVersion string    `json:"rules_version,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	Error        string    `json:"error,omitempty"`
	Cursor       string    `json:"-"` // where the entry sits in its log, for paging
}

// AuditLog keeps the audit log, newest first, bounded by its store.
type AuditLog interface {
	Record(ctx context.Context, e AuditEntry) error
	// List returns up to limit entries older than cursor ("" for the newest)
	// and the cursor of the next page ("" at the end).
	List(ctx context.Context, cursor string, limit int) ([]AuditEntry, string, error)
}

// Reviews is the review workflow: messages a rule held wait in Queue until
// a moderator approves or rejects them; the decision reaches Stream through
// Publisher, exactly once, and is written to Audit.
type Reviews struct {
	Queue     Queue
	Publisher Publisher
	Audit     AuditLog
	Now       func() time.Time // nil: time.Now
	Log       *slog.Logger     // nil: no log

	carried    atomic.Bool    // Pass has made its first, whole pass
	background sync.WaitGroup // decisions carried out after the answer
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

func (r *Reviews) record(ctx context.Context, actor, action string, h *Held, reason, errText string) {
	if r.Audit == nil {
		return
	}
	_ = r.Audit.Record(ctx, AuditEntry{At: r.now(), Actor: actor, Action: action, ItemID: h.ID, MessageID: h.MessageID,
		ChannelCID: h.ChannelCID, UserID: h.UserID, Rules: h.Rules, Terms: h.Terms, RulesVersion: h.RulesVersion,
		Reason: reason, Error: errText})
}

// Hold puts a message in the review queue. A decision the rules made for
// it (Held.Decision) is then carried out in the background: if modgate
// stops first, the queue keeps it and a later Pass carries it out.
func (r *Reviews) Hold(ctx context.Context, h Held) error {
	if h.State == "" {
		h.State = HeldWaiting
	}
	if err := r.Queue.Put(ctx, h); err != nil {
		return err
	}
	r.record(ctx, "modgate", "held", &h, "", "")
	if h.Decision != "" {
		r.carryLater(h.ID, h.Decision)
	}
	return nil
}

// Decide carries out a moderator's decision, or the rules' one (actor
// "modgate"): approved, a pending message is committed and a message held
// on the before-send hook is sent again on its sender's behalf; rejected, a
// pending message is hard-deleted and one held on the before-send hook
// (which Stream never stored) is only taken off the queue.
//
// Concurrent decisions about one message make one; the others get
// ErrConflict. An item past its deadline gets ErrExpired. When Stream
// fails, the item stays in the queue, marked with the error, and the
// decision can be tried again; the error wraps ErrUnavailable.
func (r *Reviews) Decide(ctx context.Context, id string, d Decision, actor, reason string) (Held, error) {
	if !d.Valid() {
		return Held{}, fmt.Errorf("decision %q is not approve or reject: %w", d, ErrInvalid)
	}
	h, err := r.Queue.Claim(ctx, id, r.now())
	if err != nil {
		return h, err
	}
	if err := r.publish(ctx, &h, d); err != nil {
		if ferr := r.Queue.Fail(ctx, id, err.Error()); ferr != nil {
			err = errors.Join(err, ferr)
		}
		h.State, h.LastError = HeldFailed, err.Error()
		r.record(ctx, actor, "failed", &h, d.past(), err.Error())
		return h, fmt.Errorf("%s %s: stream did not confirm: %w: %w", d.past(), id, ErrUnavailable, err)
	}
	if err := r.Queue.Remove(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
		// Stream has the decision; the item stays as deciding and is
		// refused to others, so the decision cannot happen twice.
		return h, fmt.Errorf("%s %s: removing it from the queue: %w", d.past(), id, err)
	}
	r.record(ctx, actor, d.past(), &h, reason, "")
	return h, nil
}

// publish carries decision d about h to Stream.
func (r *Reviews) publish(ctx context.Context, h *Held, d Decision) error {
	switch {
	case d == Approve && h.Hook == HookPending:
		return r.Publisher.Commit(ctx, h.MessageID)
	case d == Approve:
		return r.Publisher.Send(ctx, h)
	case h.Hook == HookPending:
		return r.Publisher.Delete(ctx, h.MessageID)
	}
	return nil
}

// Drop takes a message off the queue because its sender deleted it or its
// pending time ran out.
func (r *Reviews) Drop(ctx context.Context, id string) error {
	h, _ := r.Queue.Get(ctx, id, r.now())
	if err := r.Queue.Remove(ctx, id); err != nil {
		return err
	}
	if h.ID == "" {
		h.ID = id
	}
	r.record(ctx, "stream", "deleted", &h, "", "")
	return nil
}
