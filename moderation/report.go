package moderation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Reports: users report a message (or a user) with Stream's custom command
// /report, and Stream's moderation or its users flag messages and users
// (push events message.flagged, user.flagged). Each reported message, or
// user, is one queue item of kind KindReport, however often it is
// reported: every reporter is added to it once. A moderator decides it as
// any other item: approve keeps the message (the report is dismissed),
// reject removes it from the channel (Stream's soft delete). A report of
// a user alone has nothing to remove: either decision closes it.

// Report is who reported an item's message or user.
type Report struct {
	// Reporters are the first MaxReporters who reported it, first first.
	Reporters []Reporter `json:"reporters"`
	// Count is how many reported it, those beyond MaxReporters included.
	Count int `json:"count"`
}

// Reporter is one report.
type Reporter struct {
	UserID string    `json:"user_id"` // who reported; "stream" for Stream's own moderation
	Reason string    `json:"reason,omitempty"`
	Source string    `json:"source"` // ReportCommand or ReportStream
	At     time.Time `json:"at"`
}

// Where reports come from.
const (
	ReportCommand = "command" // a user's /report
	ReportStream  = "stream"  // flagged in Stream, by a user or by Stream's moderation
)

// Bounds of reports.
const (
	MaxReporters      = 100 // reporters an item lists; more are counted
	MaxReportReason   = 500 // bytes of a reason
	DefaultReportWait = 7 * 24 * time.Hour
)

// ReportTarget is what a report is about: a message (its id, and what is
// known of it), or a user alone.
type ReportTarget struct {
	MessageID  string
	UserID     string // the message's author, or the user reported
	ChannelCID string
	Text       string // the message's text, when known
}

// ErrSelfReport: a user reported their own message, or themselves.
var ErrSelfReport = ErrorOf(ErrInvalid, "you cannot report your own messages")

// ReportID is the queue id of the report item about a message, or about a
// user when there is no message.
func ReportID(t ReportTarget) string {
	key := "message\x00" + t.MessageID
	if t.MessageID == "" {
		key = "user\x00" + t.UserID
	}
	sum := sha256.Sum256([]byte("modgate report\x00" + key))
	return "rp-" + hex.EncodeToString(sum[:12])
}

// Report records that rep reported t: the first report of t makes its
// queue item (waiting for a moderator until now + wait), every later one
// adds its reporter to it, once per reporter. An item decided already (a
// moderator dismissed the report) takes the reporter but is not opened
// again. It returns the item and whether rep is a new reporter.
// ErrSelfReport for a report of one's own message; ErrFull when the queue
// is full.
func (r *Reviews) Report(ctx context.Context, t ReportTarget, rep Reporter, wait time.Duration) (Held, bool, error) {
	switch {
	case t.MessageID == "" && t.UserID == "":
		return Held{}, false, fmt.Errorf("a report names a message or a user: %w", ErrInvalid)
	case rep.UserID == "":
		return Held{}, false, fmt.Errorf("a report names its reporter: %w", ErrInvalid)
	case t.UserID != "" && rep.UserID == t.UserID && rep.Source == ReportCommand:
		return Held{}, false, ErrSelfReport
	}
	if len(rep.Reason) > MaxReportReason {
		rep.Reason = truncate(rep.Reason, MaxReportReason)
	}
	if rep.At.IsZero() {
		rep.At = r.now()
	}
	if wait <= 0 {
		wait = DefaultReportWait
	}
	h := Held{Kind: KindReport, ID: ReportID(t), MessageID: t.MessageID, UserID: t.UserID, ChannelCID: t.ChannelCID,
		Text: t.Text, HeldAt: rep.At, Deadline: rep.At.Add(wait), State: HeldWaiting}
	added, err := r.Queue.Put(ctx, h)
	if err != nil {
		return h, false, err
	}
	item, fresh, err := r.Queue.AddReporter(ctx, h.ID, rep)
	switch {
	case errors.Is(err, ErrNotFound):
		return h, false, fmt.Errorf("the report's item was removed meanwhile (its message deleted): %w", ErrConflict)
	case err != nil:
		return h, false, err
	}
	if fresh {
		action := AuditReported
		if !added {
			action = AuditReportedAgain
		}
		reason := "by " + rep.UserID
		if rep.Reason != "" {
			reason += ": " + rep.Reason
		}
		r.record(ctx, "stream", action, &item, reason, "")
	}
	return item, fresh, nil
}

// Forget removes the report item of a message Stream deleted, and tells
// whether there was one.
func (r *Reviews) Forget(ctx context.Context, messageID string) (bool, error) {
	if messageID == "" {
		return false, nil
	}
	h, err := r.Queue.Remove(ctx, ReportID(ReportTarget{MessageID: messageID}))
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	r.record(ctx, "stream", AuditDeleted, &h, "the message was deleted in Stream", "")
	return true, nil
}

// truncate cuts s to at most n bytes, at a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
