package hook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// DefaultHoldTTL is how long a message held on the before-send hook waits
// for a moderator.
const DefaultHoldTTL = 72 * time.Hour

// holdBeforeSend puts a message a rule held on the before-send hook in the
// review queue. The sender has been told it waits for a moderator; an
// approval sends it again on the sender's behalf.
func (s *Server) holdBeforeSend(ctx context.Context, p *stream.Payload, v *moderation.Verdict, now time.Time) {
	if s.cfg.Reviews == nil {
		return
	}
	var id [12]byte
	rand.Read(id[:])
	h := moderation.Held{
		ID:           "bs-" + hex.EncodeToString(id[:]),
		Hook:         moderation.HookBeforeSend,
		ChannelCID:   stream.String(stream.Field(p.Channel, "cid")),
		UserID:       stream.String(stream.Field(p.User, "id")),
		Text:         strings.Clone(p.Text),
		Message:      json.RawMessage(append([]byte(nil), p.Message...)),
		RulesVersion: v.RulesVersion,
		HeldAt:       now,
		Deadline:     now.Add(s.cfg.HoldTTL),
	}
	for _, f := range v.Fired {
		if f.Observed {
			continue
		}
		h.Rules = append(h.Rules, f.RuleID)
		for _, m := range f.Matches {
			h.Terms = append(h.Terms, termName(m))
		}
	}
	if h.ChannelCID == "" || h.UserID == "" {
		s.log.Warn("held message not queued: the payload names no channel or no user", "rule_id", v.RuleID)
		return
	}
	if err := s.cfg.Reviews.Hold(ctx, h); err != nil {
		s.stateLog.Warn("queueing a held message failed: it stays refused", "rule_id", v.RuleID, "err", err)
	}
}

// termName names a matched term for moderators: "list:term", or the term
// alone when the rule wrote it inline.
func termName(m rules.Match) string {
	if m.List == "" {
		return m.Term
	}
	return m.List + ":" + m.Term
}

// errorStatus maps domain errors to HTTP, in one place.
func errorStatus(err error) (int, string) {
	switch {
	case errors.Is(err, moderation.ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, moderation.ErrConflict):
		return http.StatusConflict, "already_decided"
	case errors.Is(err, moderation.ErrExpired):
		return http.StatusGone, "expired"
	case errors.Is(err, moderation.ErrInvalid):
		return http.StatusBadRequest, "invalid"
	case errors.Is(err, moderation.ErrUnavailable):
		return http.StatusBadGateway, "stream_failed"
	}
	return http.StatusInternalServerError, "internal"
}

func (s *Server) domainError(c echo.Context, err error) error {
	status, code := errorStatus(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		s.log.Error("admin request failed", "path", c.Path(), "err", err)
		msg = "internal error"
	}
	return jsonError(c, status, code, msg)
}

func (s *Server) reviews(c echo.Context) (*moderation.Reviews, error) {
	if s.cfg.Reviews == nil {
		return nil, jsonError(c, http.StatusServiceUnavailable, "no_queue", "this modgate keeps no review queue")
	}
	return s.cfg.Reviews, nil
}

type queuePage struct {
	Items []moderation.Held `json:"items"`
	Next  string            `json:"next_cursor,omitempty"`
}

func parseTime(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		if d, derr := rules.ParseDuration(v); derr == nil {
			return time.Now().Add(-d), nil // "older than 1h" style: a time that long ago
		}
		return time.Time{}, errors.Join(moderation.ErrInvalid, errors.New(name+": not a time (RFC 3339) or an age (1h, 2d)"))
	}
	return t, nil
}

// listQueue is GET /admin/queue.
func (s *Server) listQueue(c echo.Context) error {
	r, err := s.reviews(c)
	if r == nil {
		return err
	}
	f := moderation.QueueFilter{ChannelCID: c.QueryParam("channel"), UserID: c.QueryParam("user"), Rule: c.QueryParam("rule"),
		Cursor: c.QueryParam("cursor")}
	if l := c.QueryParam("limit"); l != "" {
		if err := json.Unmarshal([]byte(l), &f.Limit); err != nil || f.Limit < 1 {
			return jsonError(c, http.StatusBadRequest, "invalid", "limit: a whole number from 1 to 500")
		}
	}
	if f.HeldAfter, err = parseTime(c, "held_after"); err != nil {
		return s.domainError(c, err)
	}
	if f.HeldBefore, err = parseTime(c, "held_before"); err != nil {
		return s.domainError(c, err)
	}
	items, next, err := r.Queue.List(c.Request().Context(), f, time.Now())
	if err != nil {
		return s.domainError(c, err)
	}
	if items == nil {
		items = []moderation.Held{}
	}
	return c.JSON(http.StatusOK, queuePage{Items: items, Next: next})
}

// getHeld is GET /admin/queue/:id.
func (s *Server) getHeld(c echo.Context) error {
	r, err := s.reviews(c)
	if r == nil {
		return err
	}
	h, err := r.Queue.Get(c.Request().Context(), c.Param("id"), time.Now())
	if err != nil {
		return s.domainError(c, err)
	}
	return c.JSON(http.StatusOK, h)
}

type decisionBody struct {
	Reason string `json:"reason"`
}

// approveHeld is POST /admin/queue/:id/approve.
func (s *Server) approveHeld(c echo.Context) error {
	r, err := s.reviews(c)
	if r == nil {
		return err
	}
	h, err := r.Approve(c.Request().Context(), c.Param("id"), admin(c).Name)
	if err != nil {
		return s.domainError(c, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"result": "approved", "item": h})
}

// rejectHeld is POST /admin/queue/:id/reject with an optional {"reason": ...}.
func (s *Server) rejectHeld(c echo.Context) error {
	r, err := s.reviews(c)
	if r == nil {
		return err
	}
	var body decisionBody
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		return jsonError(c, http.StatusBadRequest, "invalid", `the body is {"reason": "..."} or nothing: `+err.Error())
	}
	h, err := r.Reject(c.Request().Context(), c.Param("id"), admin(c).Name, body.Reason)
	if err != nil {
		return s.domainError(c, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"result": "rejected", "item": h})
}

type auditPage struct {
	Entries []moderation.AuditEntry `json:"entries"`
	Next    string                  `json:"next_cursor,omitempty"`
}

// listAudit is GET /admin/audit.
func (s *Server) listAudit(c echo.Context) error {
	r, err := s.reviews(c)
	if r == nil {
		return err
	}
	if r.Audit == nil {
		return c.JSON(http.StatusOK, auditPage{Entries: []moderation.AuditEntry{}})
	}
	limit := 0
	if l := c.QueryParam("limit"); l != "" {
		if err := json.Unmarshal([]byte(l), &limit); err != nil || limit < 1 {
			return jsonError(c, http.StatusBadRequest, "invalid", "limit: a whole number from 1 to 500")
		}
	}
	entries, next, err := r.Audit.List(c.Request().Context(), c.QueryParam("cursor"), limit)
	if err != nil {
		return s.domainError(c, err)
	}
	if entries == nil {
		entries = []moderation.AuditEntry{}
	}
	return c.JSON(http.StatusOK, auditPage{Entries: entries, Next: next})
}
