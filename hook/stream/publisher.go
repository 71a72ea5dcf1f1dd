package stream

import (
	"context"
	"errors"
	"strings"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// Publisher carries review decisions to Stream's REST API: moderation's
// outbound adapter.
type Publisher struct {
	Client    *Client
	Approvals *Approvals
}

var _ moderation.Publisher = (*Publisher)(nil)

// Commit implements moderation.Publisher.
func (p *Publisher) Commit(ctx context.Context, id string) error {
	return p.Client.CommitMessage(ctx, id)
}

// Delete implements moderation.Publisher.
func (p *Publisher) Delete(ctx context.Context, id string) error {
	return p.Client.DeleteMessage(ctx, id)
}

// sendDrops are the fields of a received message that Stream sets itself and
// that a send must not carry.
var sendDrops = []string{"id", "cid", "html", "type", "user", "user_id", "created_at", "updated_at", "deleted_at",
	"latest_reactions", "own_reactions", "reaction_counts", "reaction_scores", "reaction_groups", "reply_count",
	"deleted_reply_count", "pinned", "pinned_at", "pinned_by", "pin_expires", "i18n", "mentioned_users", "silent",
	"shadowed", "command", "args", "thread_participants", ApprovalField}

// Send implements moderation.Publisher: the held message as received, less
// what Stream sets itself, with its sender, its mentions as ids and the
// approval marker.
func (p *Publisher) Send(ctx context.Context, h *moderation.Held) error {
	ctype, cid, ok := strings.Cut(h.ChannelCID, ":")
	if !ok {
		return errors.New("the held message names no channel type and id")
	}
	out := []byte{'{'}
	rules.EachMember(h.Message, 0, func(key []byte, v0, v1 int) {
		for _, d := range sendDrops {
			if string(key) == d {
				return
			}
		}
		out = AppendString(out, string(key))
		out = append(append(out, ':'), h.Message[v0:v1]...)
		out = append(out, ',')
	})
	var mentions []string
	rules.EachElement(rules.Lookup(h.Message, "mentioned_users"), func(e []byte) {
		if id := String(e); id != "" {
			mentions = append(mentions, id)
		} else if id := String(rules.Lookup(e, "id")); id != "" {
			mentions = append(mentions, id)
		}
	})
	if len(mentions) > 0 {
		out = append(out, `"mentioned_users":[`...)
		for i, id := range mentions {
			if i > 0 {
				out = append(out, ',')
			}
			out = AppendString(out, id)
		}
		out = append(out, "],"...)
	}
	out = append(out, `"user_id":`...)
	out = AppendString(out, h.UserID)
	out = append(out, `,"`+ApprovalField+`":`...)
	out = AppendString(out, p.Approvals.Marker(h))
	out = append(out, '}')
	return p.Client.SendMessage(ctx, ctype, cid, out)
}
