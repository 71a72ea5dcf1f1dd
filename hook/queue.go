package hook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// DefaultHoldTTL is how long a message held on the before-send hook waits
// for a moderator.
const DefaultHoldTTL = 72 * time.Hour

// holdBeforeSend puts a message a rule held on the before-send hook in the
// review queue, under an id made from the webhook id, so that Stream's
// retries of the call, on any process, find the one item. When the queue
// cannot keep it, the held rule's on_error decides instead (see
// moderation.Unheld) and v is changed to say so: a message nobody will
// review is never answered with the hold reply.
func (s *Server) holdBeforeSend(ctx context.Context, msg *moderation.Message, v *moderation.Verdict, webhookID string, now time.Time) {
	err := errNoReviews
	if s.cfg.Reviews != nil {
		var h moderation.Held
		h, err = moderation.NewHeld(msg, v, moderation.HoldOptions{Delivery: webhookID, At: now, Deadline: now.Add(s.cfg.HoldTTL)})
		if err == nil {
			_, _, err = s.cfg.Reviews.Hold(ctx, h)
		}
	}
	if err == nil {
		return
	}
	set := s.cfg.Engine.Rules()
	decision := moderation.Unheld(set, v)
	s.holdFailed(err, v.RuleID, webhookID, decision)
	if decision == moderation.Approve {
		v.Action, v.Reply = rules.ActionAllow, ""
	} else {
		v.Action, v.Reply = rules.ActionReject, set.Settings.RejectReply
	}
}

var errNoReviews = errors.New("this modgate keeps no review queue")

// holdFailed counts and logs a hold the queue could not keep, on a log
// limiter of its own.
func (s *Server) holdFailed(err error, ruleID, webhookID string, instead moderation.Decision) {
	reason := "error"
	switch {
	case errors.Is(err, moderation.ErrFull):
		reason = "full"
	case errors.Is(err, moderation.ErrInvalid):
		reason = "invalid"
	case errors.Is(err, errNoReviews):
		reason = "no_queue"
	}
	s.metrics.holdFailures.WithLabelValues(reason).Inc()
	s.holdLog.Warn("a held message could not be queued: its rule's on_error decided instead", "rule_id", ruleID,
		"webhook_id", webhookID, "instead", string(instead), "reason", reason, "err", err)
}

func (s *Server) reviews() (*moderation.Reviews, error) {
	if s.cfg.Reviews == nil {
		return nil, noQueue.wrap(errNoReviews)
	}
	return s.cfg.Reviews, nil
}

type queuePage struct {
	Items []moderation.Held `json:"items"`
	Next  string            `json:"next_cursor,omitempty"`
}

// parseTime reads a time parameter: RFC 3339, or an age (1h, 2d) for the
// time that long ago.
func parseTime(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		if d, derr := rules.ParseDuration(v); derr == nil {
			return time.Now().Add(-d), nil
		}
		return time.Time{}, badRequest.err(name + ": not a time (RFC 3339) or an age (1h, 2d)")
	}
	return t, nil
}

// itemKinds name the kinds of queue items in the admin API and the console.
var itemKinds = map[string]moderation.ItemKind{"message": moderation.KindMessage, "report": moderation.KindReport,
	"consequence": moderation.KindConsequence}

// parseKind reads a kind of item: "" for every kind.
func parseKind(v string) (*moderation.ItemKind, error) {
	if v == "" {
		return nil, nil
	}
	k, ok := itemKinds[v]
	if !ok {
		return nil, badRequest.err("kind: message, report or consequence")
	}
	return &k, nil
}

// parseLimit reads the limit parameter.
func parseLimit(c echo.Context) (int, error) {
	l := c.QueryParam("limit")
	if l == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 {
		return 0, badRequest.err("limit: a whole number from 1 to 500")
	}
	return n, nil
}

// listQueue is GET /admin/queue.
func (s *Server) listQueue(c echo.Context) error {
	r, err := s.reviews()
	if err != nil {
		return err
	}
	f := moderation.QueueFilter{ChannelCID: c.QueryParam("channel"), UserID: c.QueryParam("user"), Rule: c.QueryParam("rule"),
		Cursor: c.QueryParam("cursor")}
	if f.Limit, err = parseLimit(c); err != nil {
		return err
	}
	if f.HeldAfter, err = parseTime(c, "held_after"); err != nil {
		return err
	}
	if f.HeldBefore, err = parseTime(c, "held_before"); err != nil {
		return err
	}
	if f.Kind, err = parseKind(c.QueryParam("kind")); err != nil {
		return err
	}
	items, next, err := r.List(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if items == nil {
		items = []moderation.Held{}
	}
	return c.JSON(http.StatusOK, queuePage{Items: items, Next: next})
}

// getHeld is GET /admin/queue/:id: the item in any state, until the queue
// forgets it (an hour after it is done, a day after its deadline).
func (s *Server) getHeld(c echo.Context) error {
	r, err := s.reviews()
	if err != nil {
		return err
	}
	h, err := r.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h)
}

// decisionBody is the optional body of approve and reject.
type decisionBody struct {
	Reason string `json:"reason"`
	Force  bool   `json:"force"` // reject even if an approval may have reached Stream
	// Revisions is the item's revisions as the moderator read it: a
	// pending message changed since is not decided (409 changed).
	Revisions *int `json:"revisions"`
}

type decisionAnswer struct {
	Result string          `json:"result"` // approved, rejected, or deciding
	Item   moderation.Held `json:"item"`
}

// decide is POST /admin/queue/:id/approve and .../reject: 200 with the item
// when Stream confirmed within the wait, 202 while the decision is still
// being carried out (the item's state is deciding: GET it to follow).
func (s *Server) decide(d moderation.Decision) echo.HandlerFunc {
	return func(c echo.Context) error {
		r, err := s.reviews()
		if err != nil {
			return err
		}
		var body decisionBody
		dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, 16<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			return badRequest.err(`the body is {"reason": "...", "force": true, "revisions": 0} or nothing: ` + err.Error())
		}
		h, err := r.Decide(c.Request().Context(), c.Param("id"), moderation.Choice{Decision: d, Actor: admin(c).Name,
			Reason: body.Reason, Force: body.Force, Revisions: body.Revisions})
		if err != nil {
			return err
		}
		if h.State != moderation.HeldDone {
			return c.JSON(http.StatusAccepted, decisionAnswer{Result: string(moderation.HeldDeciding), Item: h})
		}
		result := "approved"
		if d == moderation.Reject {
			result = "rejected"
		}
		return c.JSON(http.StatusOK, decisionAnswer{Result: result, Item: h})
	}
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
	f := moderation.AuditFilter{Actor: c.QueryParam("actor"), Action: c.QueryParam("action"), Cursor: c.QueryParam("cursor")}
	if f.Limit, err = parseLimit(c); err != nil {
		return err
	}
	if f.Since, err = parseTime(c, "since"); err != nil {
		return err
	}
	entries, next, err := r.Audit.List(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []moderation.AuditEntry{}
	}
	return c.JSON(http.StatusOK, auditPage{Entries: entries, Next: next})
}
