package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// Enforce implements moderation.Publisher: it carries out a consequence
// against its sender with Stream's moderation API.
//
//   - ban and shadow_ban: POST /moderation/ban, for the minutes left of
//     the ban (it ends when it was meant to, however late a try lands);
//     timeout: the same, limited to the message's channel;
//   - flag: POST /moderation/flag of the message; of the sender when
//     Stream never stores the message (the rules refused or held it), when
//     its id is not known (a new message on the before-send hook has none
//     unless its client chose one), or when Stream does not have it: a
//     message the before-send hook let through is waited for a minute
//     (Stream stores it after the hook answers), then its sender is flagged;
//   - tell: a system message in the channel, visible to the sender alone
//     (restricted_visibility), sent as UserID, marked so that modgate's
//     hook lets it through; its id is the item's, so it is sent once;
//   - lift: DELETE /moderation/ban, of the kind of ban it lifts.
//
// Banning, flagging or lifting twice leaves things as once; a tell tried
// again finds its message there ("already exists"): done.
func (p *Publisher) Enforce(ctx context.Context, h *moderation.Held, now time.Time) error {
	c := h.Consequence
	if c == nil || h.UserID == "" {
		return fmt.Errorf("the item names no consequence or no sender: %w", moderation.ErrRefused)
	}
	ctype, cid, _ := strings.Cut(h.ChannelCID, ":")
	switch c.Do {
	case rules.DoBan, rules.DoShadowBan, rules.DoTimeout:
		b := Ban{TargetUserID: h.UserID, Reason: c.Reason, Shadow: c.Do == rules.DoShadowBan}
		if c.Minutes > 0 {
			left := h.HeldAt.Add(time.Duration(c.Minutes) * time.Minute).Sub(now)
			if left <= 0 {
				return fmt.Errorf("the %s would have ended already: %w", c.Do, moderation.ErrRefused)
			}
			b.Timeout = int((left + time.Minute - 1) / time.Minute)
		}
		if c.Do == rules.DoTimeout {
			if cid == "" {
				return fmt.Errorf("a timeout names no channel: %w", moderation.ErrRefused)
			}
			b.Type, b.ID = ctype, cid
		}
		return classify(p.Client.BanUser(ctx, b), nil)
	case rules.DoFlag:
		f := Flag{UserID: p.UserID, Reason: c.Reason}
		if !c.FlagUser && h.MessageID != "" {
			f.TargetMessageID = h.MessageID
			err := p.Client.FlagContent(ctx, f)
			var api *APIError
			switch {
			case !errors.As(err, &api) || !api.NotFound() || api.Says("user"):
				return classify(err, flaggedAlready)
			case h.Hook == moderation.HookBeforeSend && now.Sub(h.HeldAt) < storeWait:
				// A message let through a moment ago may not be stored yet.
				return fmt.Errorf("the message is not stored yet: %w: %w", moderation.ErrUnavailable, err)
			}
			f.TargetMessageID = "" // the message is gone, or never came: its sender is flagged
		}
		f.TargetUserID = h.UserID
		return classify(p.Client.FlagContent(ctx, f), flaggedAlready)
	case moderation.DoTell:
		if cid == "" {
			return fmt.Errorf("a message to the sender names no channel: %w", moderation.ErrRefused)
		}
		return classify(p.Client.SendMessage(ctx, ctype, cid, p.tell(h)), alreadyExists)
	case moderation.DoLift:
		typ, id := "", ""
		if c.LiftsDo == rules.DoTimeout {
			typ, id = ctype, cid
		}
		return classify(p.Client.UnbanUser(ctx, h.UserID, c.LiftsDo == rules.DoShadowBan, typ, id), nil)
	}
	return fmt.Errorf("%q is not a consequence modgate knows: %w", c.Do, moderation.ErrRefused)
}

// storeWait is how long a flag waits for Stream to store a message the
// before-send hook let through, before it flags the sender instead.
const storeWait = time.Minute

// flaggedAlready reads Stream's answer to a second flag of the same thing.
func flaggedAlready(e *APIError) bool { return e.Says("already") }

// tell builds the message that tells the sender of a rejected held
// message: a system message only they see.
func (p *Publisher) tell(h *moderation.Held) json.RawMessage {
	text := h.Consequence.Notice
	msg := map[string]any{
		"id":                    h.ID,
		"text":                  text,
		"type":                  "system",
		"user_id":               p.UserID,
		"restricted_visibility": []string{h.UserID},
		ApprovalField:           p.Approvals.TellMarker(h.ID, p.UserID, text),
	}
	b, _ := json.Marshal(msg)
	return b
}

// Remove implements moderation.Publisher: a soft delete; a message Stream
// no longer has is removed already.
func (p *Publisher) Remove(ctx context.Context, id string) error {
	return classify(p.Client.RemoveMessage(ctx, id), func(e *APIError) bool { return e.NotFound() || e.Says("already deleted") })
}

// Message reads a stored message from Stream: for a report that names a
// message its payload does not carry.
func (p *Publisher) Message(ctx context.Context, id string) (json.RawMessage, error) {
	return p.Client.GetMessage(ctx, id)
}
