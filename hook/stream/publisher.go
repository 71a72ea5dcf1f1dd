package stream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rawjson"
)

// Publisher carries review decisions to Stream's REST API: moderation's
// outbound adapter. It reads Stream's answers into what moderation needs
// to know (see moderation.Publisher):
//
//   - Done already (moderation.ErrAlreadyDone), when a decision tried again
//     after Stream applied it without confirming finds its work done: a
//     commit answered that the message is no longer pending (only the first
//     commit succeeds, Stream documents); a hard delete answered that the
//     message does not exist (404, code 16); a send answered that a message
//     with its id already exists (400, code 4, "... already exists": sends
//     carry the held item's id for this); a send or an update that the
//     hook refused as a used approval marker (ApprovalUsedReply).
//   - Refused (moderation.ErrRefused): any other 4xx but 408 and 429, such
//     as a commit or an update of a message that no longer exists.
//   - Not sent (moderation.ErrUnavailable): 429 after the client's retries,
//     and a send or an update the hook refused for another reason (its
//     state may be back later).
//   - Anything else (5xx, time-outs, connections lost) may or may not have
//     reached Stream, and is tried again.
type Publisher struct {
	Client    *Client
	Approvals *Approvals
	// UserID is the app's user modgate flags messages as and tells senders
	// of rejections as (Stream needs a user for both; it must exist).
	UserID string
}

var _ moderation.Publisher = (*Publisher)(nil)

// Commit implements moderation.Publisher.
func (p *Publisher) Commit(ctx context.Context, id string) error {
	return classify(p.Client.CommitMessage(ctx, id), func(e *APIError) bool {
		return !e.NotFound() && (e.Says("not pending") || e.Says("no longer pending") || e.Says("already committed"))
	})
}

// Patch implements moderation.Publisher with Stream's partial update,
// PUT /messages/{id} {"set": {...}, "user_id": sender}, rather than the
// update of the whole message (POST /messages/{id}):
//
//   - it sets what the rules decided and nothing else: every other field
//     of the message stays as Stream holds it (html, mentions and
//     attachments as Stream stored and enriched them, custom fields), where
//     a whole update would send back, and might lose, what Stream set
//     itself; and modgate need not keep the whole message in the queue;
//   - it is idempotent: the same values set again leave the message as
//     once, so a try repeated after an update that landed, or may have,
//     cannot apply anything else.
//
// The set carries a patch marker (ApprovalField). Whether Stream passes a
// partial update through the before-message-send hook is not documented:
// if it does, modgate's hook recognises the marker and answers with the
// patch applied and the marker left out, without evaluating the message
// again (which would count it in rate limits and take the flag field
// back); if it does not, the marker stays on the message, and is of no use
// once the item is decided (the hook accepts it only from a pending item
// whose approval is being carried out).
func (p *Publisher) Patch(ctx context.Context, h *moderation.Held) error {
	if h.Patch == nil {
		return nil
	}
	set := []byte{'{'}
	if h.Patch.Text != nil {
		set = AppendString(append(set, `"text":`...), *h.Patch.Text)
		set = append(set, ',')
	}
	keys := make([]string, 0, len(h.Patch.Set))
	for k := range h.Patch.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		set = append(AppendString(set, k), ':')
		set = append(append(set, h.Patch.Set[k]...), ',')
	}
	set = AppendString(append(AppendString(set, ApprovalField), ':'), p.Approvals.PatchMarker(h))
	set = append(set, '}')
	return classify(p.Client.PartialUpdateMessage(ctx, h.MessageID, h.UserID, set), nil)
}

// Delete implements moderation.Publisher.
func (p *Publisher) Delete(ctx context.Context, id string) error {
	return classify(p.Client.DeleteMessage(ctx, id), func(e *APIError) bool { return e.NotFound() || e.Says("already deleted") })
}

// alreadyExists reads Stream's answer to a send of an id it has.
func alreadyExists(e *APIError) bool { return e.Says("already exists") }

// classify reads err, the error of a call to Stream, for moderation; done
// says which API errors mean the work is done already.
func classify(err error, done func(*APIError) bool) error {
	if err == nil {
		return nil
	}
	var refusal *HookRefusal
	if errors.As(err, &refusal) {
		if refusal.Text == ApprovalUsedReply {
			return fmt.Errorf("%w: %w", moderation.ErrAlreadyDone, err)
		}
		return fmt.Errorf("%w: %w", moderation.ErrUnavailable, err)
	}
	var api *APIError
	if !errors.As(err, &api) {
		return err
	}
	switch {
	case done != nil && done(api):
		return fmt.Errorf("%w: %w", moderation.ErrAlreadyDone, err)
	case api.HTTPStatus == http.StatusTooManyRequests:
		return fmt.Errorf("%w: %w", moderation.ErrUnavailable, err)
	case api.Temporary():
		return err
	}
	return fmt.Errorf("%w: %w", moderation.ErrRefused, err)
}

// sendDrops are the fields of a received message that Stream sets itself and
// that a send must not carry.
var sendDrops = []string{"id", "cid", "html", "type", "user", "user_id", "created_at", "updated_at", "deleted_at",
	"latest_reactions", "own_reactions", "reaction_counts", "reaction_scores", "reaction_groups", "reply_count",
	"deleted_reply_count", "pinned", "pinned_at", "pinned_by", "pin_expires", "i18n", "mentioned_users", "silent",
	"shadowed", "command", "args", "thread_participants", ApprovalField}

// updateDrops are those an update must not carry: an update replaces the
// whole message, so what its sender may set stays.
var updateDrops = []string{"id", "cid", "html", "type", "user", "user_id", "created_at", "updated_at", "deleted_at",
	"latest_reactions", "own_reactions", "reaction_counts", "reaction_scores", "reaction_groups", "reply_count",
	"deleted_reply_count", "pinned_at", "pinned_by", "i18n", "mentioned_users", "shadowed", "command", "args",
	"thread_participants", ApprovalField}

// Send implements moderation.Publisher: the held message as received, less
// what Stream sets itself, with its id, its sender, its mentions as ids and
// the approval marker. An edit is an update of the message it changes, as
// its sender (POST /messages/{id}); when Stream has no message of that id
// (the id was one a client chose for a new message), it is sent as a new
// message with that id.
func (p *Publisher) Send(ctx context.Context, h *moderation.Held) error {
	ctype, cid, ok := strings.Cut(h.ChannelCID, ":")
	if !ok {
		return fmt.Errorf("the held message names no channel type and id: %w", moderation.ErrRefused)
	}
	if h.MessageID != "" {
		err := p.Client.UpdateMessage(ctx, h.MessageID, p.message(h, updateDrops))
		var api *APIError
		if !errors.As(err, &api) || !api.NotFound() {
			return classify(err, nil)
		}
	}
	return classify(p.Client.SendMessage(ctx, ctype, cid, p.message(h, sendDrops)), alreadyExists)
}

// message builds the message object of a send or an update of h.
func (p *Publisher) message(h *moderation.Held, drops []string) []byte {
	out := []byte(`{"id":`)
	out = AppendString(out, h.SendID())
	out = append(out, ',')
	rawjson.EachMember(h.Message, 0, func(key []byte, v0, v1 int) {
		for _, d := range drops {
			if string(key) == d {
				return
			}
		}
		out = AppendString(out, string(key))
		out = append(append(out, ':'), h.Message[v0:v1]...)
		out = append(out, ',')
	})
	var mentions []string
	rawjson.EachElement(rawjson.Lookup(h.Message, "mentioned_users"), func(e []byte) {
		if id := rawjson.String(e); id != "" {
			mentions = append(mentions, id)
		} else if id := rawjson.String(rawjson.Lookup(e, "id")); id != "" {
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
	return out
}
