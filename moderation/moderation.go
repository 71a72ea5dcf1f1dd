// Package moderation is modgate's domain: the view of a message that rules
// read, the verdict the engine reaches, and the small interfaces it needs
// from state (implemented by package storage). It never sees HTTP or Redis.
package moderation

import (
	"context"
	"errors"
	"time"

	"github.com/modgate/modgate/rules"
)

// Sentinel errors that adapters map to their own protocols.
var (
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("conflict")
	ErrExpired     = errors.New("expired")
	ErrInvalid     = errors.New("invalid")
	ErrUnavailable = errors.New("unavailable")
)

// Message is the view of one message that rules read.
type Message struct {
	ID         string // "" until Stream has stored the message; set on edits
	Text       string
	UserID     string
	ChannelCID string
}

// IsEdit reports whether the message was stored before: Stream calls the
// hook again when a message is edited, with its id set.
func (m *Message) IsEdit() bool { return m.ID != "" }

// Firing is one rule that matched a message.
type Firing struct {
	RuleID  string
	Action  rules.Action
	Matches []rules.Match // the words that made a text condition hold
}

// Verdict is what the engine decided for a message.
type Verdict struct {
	Action       rules.Action // ActionNone or ActionAllow: unchanged; ActionMask: Text replaced; ActionReject
	Text         string       // the masked text, for ActionMask
	Reply        string       // what the sender is told, for ActionReject
	Fired        []Firing     // every rule that matched, in order
	RulesVersion string
	DeadlineHit  bool // evaluation ran out of time; the message went through
}

// Changed reports whether the answer differs from the received message.
func (v *Verdict) Changed() bool {
	return v.Action == rules.ActionMask || v.Action == rules.ActionReject
}

// Replays remembers the answer given to each webhook id for a while, so a
// call Stream repeats gets the same answer without being counted twice.
type Replays interface {
	// Recall returns the answer stored for id, if any.
	Recall(ctx context.Context, id string) ([]byte, bool, error)
	// Remember stores the answer for id unless one is stored already.
	Remember(ctx context.Context, id string, answer []byte, ttl time.Duration) error
}
