package hook

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/moderation"
)

// approvedAgain answers for a message that carries an approval marker (a
// held message a moderator approved, sent again by modgate): a valid marker
// seen for the first time lets it through (without the marker); a forged or
// replayed one refuses it.
func (s *Server) approvedAgain(c echo.Context, p *stream.Payload, raw []byte) error {
	m := &s.metrics.beforeSend
	userID := stream.String(stream.Field(p.User, "id"))
	id, err := s.cfg.Approvals.Check(stream.String(raw), userID, p.Text)
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
