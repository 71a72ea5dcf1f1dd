package hook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// ApprovalField is the custom field that marks a message a moderator
// approved, when modgate sends it again on its sender's behalf.
const ApprovalField = stream.ApprovalField

// Approvals signs and checks approval markers: the queue id of the held
// message and an HMAC over it, the sender and the text, so a marker cannot
// be forged or moved to another message.
type Approvals struct {
	key []byte
}

// NewApprovals derives the marker key from a secret (the Stream API secret,
// or one of its own).
func NewApprovals(secret string) *Approvals {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("modgate approval marker"))
	return &Approvals{key: mac.Sum(nil)}
}

func (a *Approvals) mac(id, userID, text string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(id + "\x00" + userID + "\x00" + text))
	return hex.EncodeToString(m.Sum(nil))
}

// Marker returns the marker of an approved held message.
func (a *Approvals) Marker(h *moderation.Held) string {
	return h.ID + "." + a.mac(h.ID, h.UserID, h.Text)
}

var errBadMarker = errors.New("approval marker does not match the message")

// check returns the queue id a valid marker names.
func (a *Approvals) check(marker, userID, text string) (string, error) {
	id, mac, ok := strings.Cut(marker, ".")
	if !ok || id == "" || !hmac.Equal([]byte(mac), []byte(a.mac(id, userID, text))) {
		return "", errBadMarker
	}
	return id, nil
}

// approvedAgain answers for a message that carries an approval marker: a
// valid marker seen for the first time lets it through (without the marker);
// a forged or replayed one refuses it.
func (s *Server) approvedAgain(c echo.Context, p *stream.Payload, raw []byte) error {
	m := &s.metrics.beforeSend
	userID := stream.String(stream.Field(p.User, "id"))
	id, err := s.cfg.Approvals.check(stream.String(raw), userID, p.Text)
	if err == nil {
		err = s.cfg.Engine.ClaimOnce(c.Request().Context(), "approval:"+id)
	}
	set := s.cfg.Engine.Rules()
	if err != nil {
		s.log.Warn("approval marker refused", "err", err, "user_id", userID)
		m.requests[outcomeReject].Inc()
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, stream.AppendReject(nil, set.Settings.RejectReply))
	}
	m.requests[outcomeAllow].Inc()
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, p.AppendWithout(nil, ApprovalField))
}

// StreamPublisher carries review decisions to Stream's REST API.
type StreamPublisher struct {
	Client    *stream.Client
	Approvals *Approvals
}

var _ moderation.Publisher = (*StreamPublisher)(nil)

// Commit implements moderation.Publisher.
func (sp *StreamPublisher) Commit(ctx context.Context, id string) error {
	return sp.Client.CommitMessage(ctx, id)
}

// Delete implements moderation.Publisher.
func (sp *StreamPublisher) Delete(ctx context.Context, id string) error {
	return sp.Client.DeleteMessage(ctx, id)
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
func (sp *StreamPublisher) Send(ctx context.Context, h *moderation.Held) error {
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
		out = stream.AppendString(out, string(key))
		out = append(append(out, ':'), h.Message[v0:v1]...)
		out = append(out, ',')
	})
	var mentions []string
	rules.EachElement(rules.Lookup(h.Message, "mentioned_users"), func(e []byte) {
		if id := stream.String(e); id != "" {
			mentions = append(mentions, id)
		} else if id := stream.String(rules.Lookup(e, "id")); id != "" {
			mentions = append(mentions, id)
		}
	})
	if len(mentions) > 0 {
		out = append(out, `"mentioned_users":[`...)
		for i, id := range mentions {
			if i > 0 {
				out = append(out, ',')
			}
			out = stream.AppendString(out, id)
		}
		out = append(out, "],"...)
	}
	out = append(out, `"user_id":`...)
	out = stream.AppendString(out, h.UserID)
	out = append(out, `,"`+ApprovalField+`":`...)
	out = stream.AppendString(out, sp.Approvals.Marker(h))
	out = append(out, '}')
	return sp.Client.SendMessage(ctx, ctype, cid, out)
}
