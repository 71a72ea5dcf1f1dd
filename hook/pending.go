package hook

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rawjson"
	"github.com/modgate/modgate/rules"
)

// DefaultPendingTimeout is Stream's default for pending messages: after it
// Stream deletes a message nobody committed.
const DefaultPendingTimeout = 72 * time.Hour

// The callbacks of Stream's pending-message hook.
const (
	pendingPass    = "PassOnPendingMessage"
	pendingDeleted = "DeletedPendingMessage"
)

// pending is Stream's pending-message hook: the bare URL, and the URL with
// the callback's name appended, in the old envelope ({message, metadata,
// request_info}) and the newer one ({type: message.pending, method, message,
// user, channel, created_at, ...}). modgate answers at once and decides
// after: what the rules allow is committed (updated first with what mask,
// rewrite and flag rules changed, and with the flag field modgate owns),
// what they reject is deleted, what they hold waits for a moderator. Every
// message is queued first, so a decision survives a restart (with Redis).
func (s *Server) pending(c echo.Context) (err error) {
	start := s.cfg.Now()
	req := c.Request()
	outcome := "" // set on the way for a 200; named after the status otherwise
	defer func() {
		if err != nil {
			s.answerError(err, c) // now, so that the count sees the status
			err = nil
		}
		s.countPending(c, start, outcome)
	}()
	body, buf, outcome, err := s.readSigned(c, hookPending)
	if outcome != "" {
		return err
	}
	defer putBuf(buf)
	// Stream fails closed on pending messages and nobody waits for this
	// answer: the rules get the pending deadline, counted from the moment
	// the body is read, and a message they could not finish waits for a
	// moderator (see moderation.NewHeld), never committed unmoderated.
	deadline := s.cfg.Now().Add(s.cfg.PendingDeadline)
	var p stream.Payload
	if err := p.Parse(body); err != nil {
		return badPayload.wrap(err)
	}
	method := c.Param("method")
	if method == "" {
		method = rawjson.String(rawjson.Lookup(body, "method"))
	}
	if method == "" {
		method = pendingPass
	}
	if p.ID == "" {
		return badPayload.err("a pending message has an id")
	}
	reviews, err := s.reviews()
	if err != nil {
		return err
	}
	// What modgate does with the message goes on if Stream hangs up: a
	// cancelled request must not turn into state errors that let limit
	// rules pass, nor into a queue that cannot keep the item.
	ctx := context.WithoutCancel(req.Context())
	switch method {
	case pendingDeleted:
		if err := reviews.Drop(ctx, p.ID); err != nil && !errors.Is(err, moderation.ErrNotFound) {
			return err
		}
		outcome = outcomeDropped
		return c.JSON(http.StatusOK, map[string]string{"result": "dropped"})
	case pendingPass:
	default:
		return notFound.err("unknown pending-message callback " + method)
	}

	user, channel := p.User, p.Channel
	if user == nil {
		user = rawjson.Lookup(p.Message, "user")
	}
	cid := rawjson.String(rawjson.Lookup(channel, "cid"))
	if cid == "" {
		cid = rawjson.String(rawjson.Lookup(p.Message, "cid"))
	}
	msg := moderation.Message{ID: p.ID, Text: p.Text, Hook: moderation.HookPending, Object: p.Message, User: user,
		Channel: channel, RequestInfo: p.RequestInfo, Metadata: rawjson.Lookup(body, "metadata")}
	if msg.Channel == nil && cid != "" {
		msg.Channel = append(stream.AppendString([]byte(`{"cid":`), cid), '}')
	}
	v, res := s.cfg.Engine.Evaluate(ctx, &msg, moderation.Options{WebhookID: req.Header.Get("X-Webhook-Id"), Deadline: deadline})
	if res.StateErr != nil {
		s.metrics.stateErrors.Inc()
		s.stateLog.Warn("shared state failed: limit rules followed their on_error", "hook", hookPending, "message_id", p.ID, "err", res.StateErr)
	}
	if v.DeadlineHit {
		s.metrics.deadline.Inc()
		s.deadlineLog.Warn("deadline passed: on_error decided, or a moderator does", "hook", hookPending, "message_id", p.ID,
			"deadline", s.cfg.PendingDeadline.String(), "action", v.Action.String())
	}
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.logDecision(ctx, hookPending, req.Header.Get("X-Webhook-Id"), &msg, &v)
	}
	uncounted := false
	if res.Retry {
		// Stream delivering a call again: nothing more to do once its
		// message is queued. If the first delivery left no item (it died
		// between counting and queueing, or is still under way), this one
		// queues it, lest it stay pending until Stream deletes it; the
		// limits, counted by the first delivery and not again, decide
		// nothing here, so a moderator does unless a rule rejects it.
		_, err := reviews.Get(ctx, p.ID)
		switch {
		case err == nil:
			outcome = outcomeReplay
			return c.JSON(http.StatusOK, map[string]string{"result": "seen"})
		case !errors.Is(err, moderation.ErrNotFound):
			return err
		}
		uncounted = hasLimits(s.cfg.Engine.Rules())
	}
	created := start
	for _, raw := range [][]byte{rawjson.Lookup(p.Message, "created_at"), rawjson.Lookup(body, "created_at")} {
		if t, err := time.Parse(time.RFC3339Nano, rawjson.String(raw)); err == nil {
			created = t
			break
		}
	}
	h, err := moderation.NewHeld(&msg, &v, moderation.HoldOptions{At: start, Deadline: created.Add(s.cfg.PendingTimeout),
		FlagField: s.cfg.Engine.Rules().Settings.FlagField, Uncounted: uncounted})
	if err != nil {
		return badPayload.wrap(err)
	}
	decision := h.Decision
	outcome = outcomeOf(&v) // a mask, rewrite or flag is applied before the commit
	queued, added, err := reviews.Hold(ctx, h)
	switch {
	case errors.Is(err, moderation.ErrNotRevised):
		// Queued before, with another text: answer 503 so that Stream
		// delivers it again; the item's decision stands meanwhile.
		outcome = ""
		return err
	case err != nil:
		// Not queued: what the rules decided is carried out now, once; a
		// hold follows its rule's on_error.
		if decision == "" {
			decision = moderation.Unheld(s.cfg.Engine.Rules(), &v)
			s.holdFailed(err, v.RuleID, req.Header.Get("X-Webhook-Id"), decision)
			outcome = outcomeReject
			if decision == moderation.Approve {
				outcome = outcomeAllow
			}
		} else {
			s.holdLog.Warn("a pending message could not be queued: its decision is carried out once, now", "message_id", h.ID,
				"decision", string(decision), "err", err)
		}
		reviews.Unqueued(h, decision, err)
	case !added:
		decision = queued.Decision // delivered before: the item's decision, revised or not
	}
	s.metrics.countFired(&v)
	if len(v.Consequences) > 0 {
		delivery := req.Header.Get("X-Webhook-Id")
		if delivery == "" {
			delivery = "pending:" + p.ID
		}
		s.consequences(&msg, &v, delivery)
	}
	return c.JSON(http.StatusOK, map[string]string{"result": pendingResults[decision]})
}

// hasLimits reports whether a rule of set counts messages.
func hasLimits(set *rules.Set) bool {
	for _, r := range set.Rules {
		if r.Limit != nil && r.Mode == rules.ModeEnforce {
			return true
		}
	}
	return false
}

// pendingResults answer the pending hook: what modgate does with the message.
var pendingResults = map[moderation.Decision]string{"": "held", moderation.Approve: "approving", moderation.Reject: "rejecting"}

// countPending counts a pending call and how long it took.
func (s *Server) countPending(c echo.Context, start time.Time, outcome string) {
	m := &s.metrics.pending
	if outcome == "" {
		outcome = outcomeError // a panic, or a handler that did not answer
		if c.Response().Committed {
			outcome = outcomeOfStatus(c.Response().Status)
		}
	}
	m.requests[outcome].Inc()
	m.latency.Observe(s.cfg.Now().Sub(start).Seconds())
}
