// Package moderation is modgate's domain: the view of a message that rules
// read, the verdict the engine reaches (with the strikes and consequences
// it gives the sender), the review flow that carries decisions,
// consequences and reports to Stream, and the small interfaces it needs
// from state and Stream (implemented by packages storage and hook/stream).
// It never sees HTTP or Redis.
package moderation

import (
	"errors"

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

// ErrorOf returns an error that says msg and is kind (one of the sentinels)
// for errors.Is.
func ErrorOf(kind error, msg string) error { return &kindError{msg, kind} }

type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// Message is the view of one message that rules read: its text, and the
// raw JSON objects of the payload that conditions look into by path.
type Message struct {
	ID   string // "" until Stream has stored the message; set on edits
	Text string
	Hook string // HookBeforeSend or HookPending

	Object      []byte // the message object
	User        []byte
	Channel     []byte
	RequestInfo []byte
	Metadata    []byte // pending messages' metadata

	// Members, when the payload's reader found them, spares the rules a
	// second scan of the objects above. Optional.
	Members *rules.Members
}

// The hooks a message can come from, as the `hook` field reads them.
const (
	HookBeforeSend = "before_send"
	HookPending    = "pending"
)

// IsEdit reports whether the message was stored before: Stream calls the
// hook again when a message is edited, with its id set.
func (m *Message) IsEdit() bool { return m.ID != "" }

// Firing is one rule that matched a message.
type Firing struct {
	RuleID   string
	Action   rules.Action
	Observed bool          // the rule is in observe mode: it would have acted, and did not
	OnError  bool          // the rule's limit could not be counted: its on_error decided
	Matches  []rules.Match // the words that made a text condition hold
}

// Verdict is what the engine decided for a message.
//
// Action is the deciding action: ActionReject and ActionHold refuse the
// message with Reply; ActionMask, ActionRewrite and ActionFlag (the most
// far-reaching one that applied) let it through with Text and Fields
// changed; ActionNone and ActionAllow let it through unchanged. A hold
// also carries in Text and Fields what the mask, rewrite and flag rules
// above the holding rule changed: what a moderator's approval of a pending
// message applies.
type Verdict struct {
	Action       rules.Action
	Text         string             // the new text, when TextChanged
	TextChanged  bool               // set by mask and rewrite rules (on a hold: by those above it)
	Fields       []rules.FieldValue // fields of the message to set: silent, show_in_channel, custom, flags
	Reply        string             // what the sender is told, for ActionReject and ActionHold
	RuleID       string             // the rule that decided a reject or hold
	Fired        []Firing           // every rule that matched, in order, observed ones included
	RulesVersion string
	DeadlineHit  bool // evaluation ran out of time; on_error decided
	// Notice is what the sender of a held message is told should a
	// moderator reject it (the holding rule's rejected_reply).
	Notice string
	// Consequences are what the rules that acted give the sender through
	// Stream (those in observe mode included, marked Observed).
	Consequences []Consequence
}

// Refused reports whether the message is kept from the channel.
func (v *Verdict) Refused() bool {
	return v.Action == rules.ActionReject || v.Action == rules.ActionHold
}

// Changed reports whether the message goes through with changes.
func (v *Verdict) Changed() bool { return !v.Refused() && (v.TextChanged || len(v.Fields) > 0) }
