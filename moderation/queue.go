package moderation

import (
	"context"
	"encoding/json"
	"time"
)

// Held is a message waiting for a moderator in the review queue.
type Held struct {
	ID           string          `json:"id"`         // the queue's id: the Stream message id for pending messages
	MessageID    string          `json:"message_id"` // Stream's id; "" for a before-send hold (Stream never stored it)
	Hook         string          `json:"hook"`       // HookPending or HookBeforeSend
	ChannelCID   string          `json:"channel_cid"`
	UserID       string          `json:"user_id"`
	Text         string          `json:"text"`
	Message      json.RawMessage `json:"message"` // as received, to send again on approval of a before-send hold
	Rules        []string        `json:"rules"`   // the rules that held it
	Terms        []string        `json:"terms,omitempty"`
	RulesVersion string          `json:"rules_version"`
	HeldAt       time.Time       `json:"held_at"`
	Deadline     time.Time       `json:"deadline"` // after it the message can no longer be approved

	// Decision is set for a pending message the rules decided at once:
	// "approve" or "reject", carried out by modgate (and again after a
	// restart, from the queue) rather than by a moderator.
	Decision Decision `json:"decision,omitempty"`

	State     HeldState `json:"state"`
	LastError string    `json:"last_error,omitempty"` // why the last decision did not reach Stream
	Attempts  int       `json:"attempts,omitempty"`   // decisions tried
}

// HeldState is where a held message is in its review.
type HeldState string

// The states. A decision moves an item from waiting (or failed) to deciding,
// once: two moderators clicking at once get one decision and one conflict.
// The item leaves the queue when Stream confirmed the decision, and goes to
// failed, to be tried again, when Stream did not.
const (
	HeldWaiting  HeldState = "waiting"
	HeldDeciding HeldState = "deciding"
	HeldFailed   HeldState = "failed"
)

// QueueFilter selects held messages; empty fields select all.
type QueueFilter struct {
	ChannelCID string
	UserID     string
	Rule       string
	HeldAfter  time.Time // held at or after
	HeldBefore time.Time // held before
	Cursor     string    // from the previous page; "" for the first
	Limit      int       // at most this many; 0 for the store's default
	Decided    bool      // only items with a decision of the rules to carry out (stores keep an index of them)
}

// Queue keeps held messages, oldest first. Items past their deadline are
// gone from reads. Errors: ErrNotFound for an unknown (or expired and
// removed) id, ErrExpired for one past its deadline, ErrConflict for one
// already being decided, ErrInvalid for a bad cursor.
type Queue interface {
	// Put adds an item, or leaves the queue unchanged when its id is there.
	Put(ctx context.Context, h Held) error
	Get(ctx context.Context, id string, now time.Time) (Held, error)
	// List returns one page and the cursor of the next ("" at the end).
	List(ctx context.Context, f QueueFilter, now time.Time) ([]Held, string, error)
	// Claim moves a waiting or failed item to deciding, exactly once.
	Claim(ctx context.Context, id string, now time.Time) (Held, error)
	// Fail moves a deciding item back to failed, with why.
	Fail(ctx context.Context, id, reason string) error
	// Remove takes an item out: decided, or deleted by its sender.
	Remove(ctx context.Context, id string) error
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
	if f.Decided && h.Decision == "" {
		return false
	}
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
