package hook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// DefaultHoldTTL is how long a message held on the before-send hook waits
// for a moderator.
const DefaultHoldTTL = 72 * time.Hour

// holdBeforeSend puts a message a rule held on the before-send hook in the
// review queue. The sender has been told it waits for a moderator; an
// approval sends it again on the sender's behalf.
func (s *Server) holdBeforeSend(ctx context.Context, msg *moderation.Message, v *moderation.Verdict, now time.Time) {
	if s.cfg.Reviews == nil {
		return
	}
	var id [12]byte
	rand.Read(id[:])
	h, err := moderation.NewHeld(msg, v, moderation.HoldOptions{ID: "bs-" + hex.EncodeToString(id[:]), At: now,
		Deadline: now.Add(s.cfg.HoldTTL)})
	if err == nil {
		err = s.cfg.Reviews.Hold(ctx, h)
	}
	if err != nil {
		s.stateLog.Warn("queueing a held message failed: it stays refused", "rule_id", v.RuleID, "err", err)
	}
}

func (s *Server) reviews() (*moderation.Reviews, error) {
	if s.cfg.Reviews == nil {
		return nil, noQueue.err("this modgate keeps no review queue")
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
		return time.Time{}, badRequest.err(name + ": not a time (RFC 3339) or an age (1h, 2d)")
	}
	return t, nil
}

// listQueue is GET /admin/queue.
func (s *Server) listQueue(c echo.Context) error {
	r, err := s.reviews()
	if err != nil {
		return err
	}
	f := moderation.QueueFilter{ChannelCID: c.QueryParam("channel"), UserID: c.QueryParam("user"), Rule: c.QueryParam("rule"),
		Cursor: c.QueryParam("cursor")}
	if l := c.QueryParam("limit"); l != "" {
		if err := json.Unmarshal([]byte(l), &f.Limit); err != nil || f.Limit < 1 {
			return badRequest.err("limit: a whole number from 1 to 500")
		}
	}
	if f.HeldAfter, err = parseTime(c, "held_after"); err != nil {
		return err
	}
	if f.HeldBefore, err = parseTime(c, "held_before"); err != nil {
		return err
	}
	items, next, err := r.Queue.List(c.Request().Context(), f, time.Now())
	if err != nil {
		return err
	}
	if items == nil {
		items = []moderation.Held{}
	}
	return c.JSON(http.StatusOK, queuePage{Items: items, Next: next})
}

// getHeld is GET /admin/queue/:id.
func (s *Server) getHeld(c echo.Context) error {
	r, err := s.reviews()
	if err != nil {
		return err
	}
	h, err := r.Queue.Get(c.Request().Context(), c.Param("id"), time.Now())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h)
}

type decisionBody struct {
	Reason string `json:"reason"`
}

// approveHeld is POST /admin/queue/:id/approve.
func (s *Server) approveHeld(c echo.Context) error {
	r, err := s.reviews()
	if err != nil {
		return err
	}
	h, err := r.Decide(c.Request().Context(), c.Param("id"), moderation.Approve, admin(c).Name, "")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"result": "approved", "item": h})
}

// rejectHeld is POST /admin/queue/:id/reject with an optional {"reason": ...}.
func (s *Server) rejectHeld(c echo.Context) error {
	r, err := s.reviews()
	if err != nil {
		return err
	}
	var body decisionBody
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		return badRequest.err(`the body is {"reason": "..."} or nothing: ` + err.Error())
	}
	h, err := r.Decide(c.Request().Context(), c.Param("id"), moderation.Reject, admin(c).Name, body.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"result": "rejected", "item": h})
}

type auditPage struct {
	Entries []moderation.AuditEntry `json:"entries"`
	Next    string                  `json:"next_cursor,omitempty"`
}

// listAudit is GET /admin/audit.
func (s *Server) listAudit(c echo.Context) error {
	r, err := s.reviews()
	if err != nil {
		return err
	}
	if r.Audit == nil {
		return c.JSON(http.StatusOK, auditPage{Entries: []moderation.AuditEntry{}})
	}
	limit := 0
	if l := c.QueryParam("limit"); l != "" {
		if err := json.Unmarshal([]byte(l), &limit); err != nil || limit < 1 {
			return badRequest.err("limit: a whole number from 1 to 500")
		}
	}
	entries, next, err := r.Audit.List(c.Request().Context(), c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []moderation.AuditEntry{}
	}
	return c.JSON(http.StatusOK, auditPage{Entries: entries, Next: next})
}
