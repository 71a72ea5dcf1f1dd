package hook

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rawjson"
	"github.com/modgate/modgate/rules"
)

// approvedAgain answers for a message that carries an approval marker (a
// held message a moderator approved, sent again by modgate): a valid marker
// seen for the first time lets it through (without the marker); a forged or
// replayed one refuses it.
func (s *Server) approvedAgain(c echo.Context, p *stream.Payload, raw []byte) error {
	m := &s.metrics.beforeSend
	marker := rawjson.String(raw)
	if stream.IsPatch(marker) {
		return s.patchedPending(c, p, marker)
	}
	if stream.IsTell(marker) {
		return s.toldSender(c, p, marker)
	}
	userID := rawjson.String(rawjson.Lookup(p.User, "id"))
	id, err := s.cfg.Approvals.Check(marker, userID, p.Text)
	if err == nil {
		err = s.cfg.Engine.ClaimOnce(c.Request().Context(), "approval:"+id)
	}
	if err != nil {
		s.log.Warn("approval marker refused", "err", err, "user_id", userID)
		m.requests[outcomeReject].Inc()
		reply := s.cfg.Engine.Rules().Settings.RejectReply
		if errors.Is(err, moderation.ErrUsed) {
			// modgate sending an approved message again: it reads this in
			// Stream's answer as "done already".
			reply = stream.ApprovalUsedReply
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, stream.AppendReject(nil, reply))
	}
	m.requests[outcomeAllow].Inc()
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, p.AppendWithout(nil, stream.ApprovalField))
}

var errPatchNotDue = errors.New("the patch marker names another message or sender")

// patchedPending answers for the update that applies the rules' changes to
// a pending message before its commit, should Stream pass it through the
// hook (see stream.Publisher.Patch): a valid patch marker naming the
// message's queue item, whose approval a try is carrying out, lets the
// message through with the item's patch applied and without the marker,
// as often as the update is tried, and without evaluating it again (a
// second evaluation would count it in rate limits and take the flag field
// back). Any other marker refuses it: one left on a message is of no use
// between tries nor once its item is decided.
func (s *Server) patchedPending(c echo.Context, p *stream.Payload, marker string) error {
	m := &s.metrics.beforeSend
	ctx := c.Request().Context()
	userID := rawjson.String(rawjson.Lookup(p.User, "id"))
	id, err := s.cfg.Approvals.CheckPatch(marker, userID, p.Text)
	var h moderation.Held
	if err == nil {
		var reviews *moderation.Reviews
		if reviews, err = s.reviews(); err == nil {
			h, err = reviews.Patching(ctx, id)
		}
	}
	if err == nil && (h.MessageID != p.ID || h.UserID != userID) {
		err = errPatchNotDue
	}
	if err != nil {
		s.log.Warn("patch marker refused", "err", err, "user_id", userID, "message_id", p.ID)
		m.requests[outcomeReject].Inc()
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, stream.AppendReject(nil, s.cfg.Engine.Rules().Settings.RejectReply))
	}
	fields := make([]rules.FieldValue, 0, len(h.Patch.Set))
	for k, v := range h.Patch.Set {
		fields = append(fields, rules.FieldValue{Key: k, JSON: v})
	}
	slices.SortFunc(fields, func(a, b rules.FieldValue) int { return strings.Compare(a.Key, b.Key) })
	m.requests[outcomeAllow].Inc()
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON,
		p.AppendPatchedWithout(nil, h.ApprovedText(), h.Patch.Text != nil, fields, stream.ApprovalField))
}

// toldSender answers for the message that tells a sender their held
// message was rejected, which modgate sends itself (see
// stream.Publisher.Enforce): a valid tell marker lets it through without
// the marker and without evaluating it (it is modgate's own words, as its
// user); any other refuses it. Its id makes it once: no claim is needed.
func (s *Server) toldSender(c echo.Context, p *stream.Payload, marker string) error {
	m := &s.metrics.beforeSend
	userID := rawjson.String(rawjson.Lookup(p.User, "id"))
	if _, err := s.cfg.Approvals.CheckTell(marker, userID, p.Text); err != nil {
		s.log.Warn("tell marker refused", "err", err, "user_id", userID)
		m.requests[outcomeReject].Inc()
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, stream.AppendReject(nil, s.cfg.Engine.Rules().Settings.RejectReply))
	}
	m.requests[outcomeAllow].Inc()
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, p.AppendWithout(nil, stream.ApprovalField))
}
