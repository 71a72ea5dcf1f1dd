package moderation

import (
	"context"
	"errors"
	"fmt"
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

	carried atomic.Bool // Carry has made its first, whole pass
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

// Hold puts a message in the review queue.
func (r *Reviews) Hold(ctx context.Context, h Held) error {
	if h.State == "" {
		h.State = HeldWaiting
	}
	if err := r.Queue.Put(ctx, h); err != nil {
		return err
	}
	r.record(ctx, "modgate", "held", &h, "", "")
	return nil
}

// Approve lets a held message through: a pending message is committed, a
// message held on the before-send hook is sent again on its sender's behalf.
// Concurrent approvals and rejections of one message make one decision; the
// others get ErrConflict. An item past its deadline gets ErrExpired. When
// Stream fails, the item stays in the queue, marked with the error, and the
// decision can be tried again; the error wraps ErrUnavailable.
func (r *Reviews) Approve(ctx context.Context, id, actor string) (Held, error) {
	return r.decide(ctx, id, actor, "approved", "", func(h *Held) error {
		if h.Hook == HookPending {
			return r.Publisher.Commit(ctx, h.MessageID)
		}
		return r.Publisher.Send(ctx, h)
	})
}

// Reject refuses a held message: a pending message is hard-deleted; one held
// on the before-send hook was never stored, and is only taken off the queue.
func (r *Reviews) Reject(ctx context.Context, id, actor, reason string) (Held, error) {
	return r.decide(ctx, id, actor, "rejected", reason, func(h *Held) error {
		if h.Hook == HookPending {
			return r.Publisher.Delete(ctx, h.MessageID)
		}
		return nil
	})
}

func (r *Reviews) decide(ctx context.Context, id, actor, action, reason string, publish func(h *Held) error) (Held, error) {
	h, err := r.Queue.Claim(ctx, id, r.now())
	if err != nil {
		return h, err
	}
	if err := publish(&h); err != nil {
		if ferr := r.Queue.Fail(ctx, id, err.Error()); ferr != nil {
			err = errors.Join(err, ferr)
		}
		h.State, h.LastError = HeldFailed, err.Error()
		r.record(ctx, actor, "failed", &h, action, err.Error())
		return h, fmt.Errorf("%s %s: stream did not confirm: %w: %w", action, id, ErrUnavailable, err)
	}
	if err := r.Queue.Remove(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
		// Stream has the decision; the item stays as deciding and is
		// refused to others, so the decision cannot happen twice.
		return h, fmt.Errorf("%s %s: removing it from the queue: %w", action, id, err)
	}
	r.record(ctx, actor, action, &h, reason, "")
	return h, nil
}

// Carry carries out the decisions the rules made for pending messages
// that are still queued (waiting, or failed when Stream did not confirm):
// after a restart, and now and then to retry. It returns how many it
// carried out and the last error. Until a pass of this process has gone
// through cleanly, passes read the whole queue (items queued by an older
// modgate may be in no index of decisions); later ones only the items with
// a decision.
func (r *Reviews) Carry(ctx context.Context) (int, error) {
	var lastErr error
	done := 0
	f := QueueFilter{Limit: MaxQueuePage, Decided: r.carried.Load()}
	for {
		page, next, err := r.Queue.List(ctx, f, r.now())
		if err != nil {
			return done, err
		}
		for _, h := range page {
			if h.Decision == "" || h.State == HeldDeciding {
				continue
			}
			var err error
			if h.Decision == "approve" {
				_, err = r.Approve(ctx, h.ID, "modgate")
			} else {
				_, err = r.Reject(ctx, h.ID, "modgate", "rules")
			}
			if err != nil && !errors.Is(err, ErrConflict) && !errors.Is(err, ErrNotFound) {
				lastErr = err
				continue
			}
			done++
		}
		if next == "" {
			if lastErr == nil {
				r.carried.Store(true) // whole passes until one went through cleanly
			}
			return done, lastErr
		}
		f.Cursor = next
	}
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
