package hook

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/moderation"
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
// after: what the rules allow is committed, what they reject is deleted,
// what they hold waits for a moderator. Every message is queued first, so a
// decision survives a restart (with Redis).
func (s *Server) pending(c echo.Context) error {
	start := time.Now()
	req := c.Request()
	outcome := "" // set on the way for a 200; named after the status otherwise
	defer func() { s.countPending(c, start, outcome) }()
	body, buf, outcome, err := s.readSigned(c, hookPending)
	if outcome != "" {
		return err
	}
	defer putBuf(buf)
	deadline := time.Now().Add(s.cfg.Deadline) // from the moment the body is read, as on the before-send hook
	var p stream.Payload
	if err := p.Parse(body); err != nil {
		return jsonError(c, http.StatusBadRequest, "bad_payload", err.Error())
	}
	method := c.Param("method")
	if method == "" {
		method = stream.String(stream.Field(body, "method"))
	}
	if method == "" {
		method = pendingPass
	}
	if p.ID == "" {
		return jsonError(c, http.StatusBadRequest, "bad_payload", "a pending message has an id")
	}
	if s.cfg.Reviews == nil {
		return jsonError(c, http.StatusServiceUnavailable, "no_queue", "this modgate keeps no review queue")
	}
	ctx := req.Context()
	switch method {
	case pendingDeleted:
		if err := s.cfg.Reviews.Drop(ctx, p.ID); err != nil && !isNotFound(err) {
			return s.domainError(c, err)
		}
		outcome = outcomeDropped
		return c.JSON(http.StatusOK, map[string]string{"result": "dropped"})
	case pendingPass:
	default:
		return jsonError(c, http.StatusNotFound, "not_found", "unknown pending-message callback "+method)
	}

	user, channel := p.User, p.Channel
	if user == nil {
		user = stream.Field(p.Message, "user")
	}
	cid := stream.String(stream.Field(channel, "cid"))
	if cid == "" {
		cid = stream.String(stream.Field(p.Message, "cid"))
	}
	msg := moderation.Message{ID: p.ID, Text: p.Text, Hook: moderation.HookPending, Object: p.Message, User: user,
		Channel: channel, RequestInfo: p.RequestInfo, Metadata: stream.Field(body, "metadata")}
	if msg.Channel == nil && cid != "" {
		msg.Channel = append(stream.AppendString([]byte(`{"cid":`), cid), '}')
	}
	v := s.cfg.Engine.Evaluate(ctx, &msg, moderation.Options{WebhookID: req.Header.Get("X-Webhook-Id"), Deadline: deadline})
	if v.StateErr != nil {
		s.metrics.stateErrors.Inc()
		s.stateLog.Warn("shared state failed: limit rules followed their on_error", "hook", hookPending, "message_id", p.ID, "err", v.StateErr)
	}
	if v.DeadlineHit {
		s.metrics.deadline.Inc()
		s.deadlineLog.Warn("deadline passed: on_error decided", "hook", hookPending, "message_id", p.ID, "deadline", s.cfg.Deadline,
			"action", v.Action.String())
	}
	if v.Replay != nil || v.Retry {
		outcome = outcomeReplay
		return c.JSON(http.StatusOK, map[string]string{"result": "seen"})
	}
	created := start
	for _, raw := range [][]byte{stream.Field(p.Message, "created_at"), stream.Field(body, "created_at")} {
		if t, err := time.Parse(time.RFC3339Nano, stream.String(raw)); err == nil {
			created = t
			break
		}
	}
	// The queue and the decision carried out after the answer outlive the
	// body, whose buffer goes back to the pool: they get copies.
	id := strings.Clone(p.ID)
	h := moderation.Held{ID: id, MessageID: id, Hook: moderation.HookPending, ChannelCID: strings.Clone(cid),
		UserID: strings.Clone(stream.String(stream.Field(user, "id"))), Text: strings.Clone(p.Text), RulesVersion: v.RulesVersion,
		HeldAt: start, Deadline: created.Add(s.cfg.PendingTimeout)}
	for _, f := range v.Fired {
		if !f.Observed {
			h.Rules = append(h.Rules, f.RuleID)
			for _, m := range f.Matches {
				h.Terms = append(h.Terms, termName(m))
			}
		}
	}
	result := "held"
	switch v.Action {
	case rules.ActionHold:
	case rules.ActionReject:
		h.Decision, result = "reject", "rejecting"
	default:
		h.Decision, result = "approve", "approving"
	}
	if err := s.cfg.Reviews.Hold(ctx, h); err != nil {
		return s.domainError(c, err)
	}
	if h.Decision != "" {
		s.carry(h.ID, h.Decision)
	}
	outcome = pendingOutcome(&v)
	s.metrics.countFired(&v)
	return c.JSON(http.StatusOK, map[string]string{"result": result})
}

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
	m.latency.Observe(time.Since(start).Seconds())
}

func isNotFound(err error) bool {
	status, _ := errorStatus(err)
	return status == http.StatusNotFound
}

// carry carries out a decision the rules made, after the answer. If
// modgate stops first, the queue still holds it and Carry does it later.
func (s *Server) carry(id, decision string) {
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var err error
		if decision == "approve" {
			_, err = s.cfg.Reviews.Approve(ctx, id, "modgate")
		} else {
			_, err = s.cfg.Reviews.Reject(ctx, id, "modgate", "rules")
		}
		if err != nil && !isNotFound(err) {
			s.stateLog.Warn("a pending message's decision did not reach Stream; it stays queued and is tried again",
				"message_id", id, "decision", decision, "err", err)
		}
	}()
}

// Wait waits for the decisions started in the background to finish.
func (s *Server) Wait() { s.background.Wait() }
