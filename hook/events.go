package hook

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rawjson"
)

// Stream's push webhook (an event hook of type webhook), at /hooks/events:
// signed like every hook, retried by Stream (so deduplicated by
// X-Webhook-Id, see moderation.Engine.Once). modgate reads three events:
//
//   - message.flagged: a message flagged in Stream by a user, or by
//     Stream's own moderation, joins the review queue as a report (the same
//     item as the message's /report, if any), the flagging user as its
//     reporter ("stream" when the event names none, or names the author);
//   - user.flagged: the same for a user (target_user), without a message;
//   - message.deleted: the message's report leaves the queue.
//
// Every other event is answered 200 and ignored. A failure to queue is a
// 503, so that Stream delivers the event again.

// The answers of the events hook, and its outcomes.
const (
	eventReported  = "reported"
	eventRemoved   = "removed"
	eventIgnored   = "ignored"
	eventDuplicate = "duplicate"
)

func (s *Server) events(c echo.Context) (err error) {
	start := s.cfg.Now()
	m := &s.metrics.events
	outcome := ""
	defer func() {
		if err != nil && outcome == "" {
			outcome = outcomeError
			if cl, ok := classOf(err); ok && cl.status < 500 {
				outcome = outcomeBadRequest
			}
		}
		if r, ok := m.requests[outcome]; ok {
			r.Inc()
		}
		m.latency.Observe(s.cfg.Now().Sub(start).Seconds())
	}()
	body, buf, failed, err := s.readSigned(c, hookEvents)
	if failed != "" {
		outcome = failed
		return err
	}
	defer putBuf(buf)
	if !rawjson.Valid(body) || rawjson.Lookup(body, "type") == nil {
		return badPayload.err("an event is a JSON object with a type")
	}
	typ := rawjson.String(rawjson.Lookup(body, "type"))
	handle := s.eventHandler(typ, body)
	if handle == nil || s.cfg.Reviews == nil {
		outcome = eventIgnored
		return c.JSON(http.StatusOK, map[string]string{"result": eventIgnored})
	}
	ctx := context.WithoutCancel(c.Request().Context())
	result := ""
	ran, err := s.cfg.Engine.Once(ctx, c.Request().Header.Get("X-Webhook-Id"), func(ctx context.Context) error {
		var err error
		result, err = handle(ctx)
		return err
	})
	switch {
	case err != nil:
		s.holdLog.Warn("a push event could not be handled: Stream delivers it again", "type", typ, "err", err)
		return err
	case !ran:
		result = eventDuplicate
	}
	outcome = result
	return c.JSON(http.StatusOK, map[string]string{"result": result})
}

// eventHandler returns what handles an event of type typ, or nil.
func (s *Server) eventHandler(typ string, body []byte) func(ctx context.Context) (string, error) {
	r := s.cfg.Reviews
	switch typ {
	case "message.flagged":
		return func(ctx context.Context) (string, error) {
			msg := rawjson.Lookup(body, "message")
			t := moderation.ReportTarget{MessageID: rawjson.String(rawjson.Lookup(msg, "id")),
				UserID: rawjson.String(rawjson.Lookup(msg, "user", "id")), Text: rawjson.String(rawjson.Lookup(msg, "text")),
				ChannelCID: rawjson.String(rawjson.Lookup(body, "cid"))}
			if t.UserID == "" {
				t.UserID = rawjson.String(rawjson.Lookup(msg, "user_id"))
			}
			if t.ChannelCID == "" {
				t.ChannelCID = rawjson.String(rawjson.Lookup(msg, "cid"))
			}
			if t.MessageID == "" {
				return eventIgnored, nil
			}
			return s.flagged(ctx, t, body)
		}
	case "user.flagged":
		return func(ctx context.Context) (string, error) {
			t := moderation.ReportTarget{UserID: rawjson.String(rawjson.Lookup(body, "target_user", "id"))}
			if t.UserID == "" {
				t.UserID = rawjson.String(rawjson.Lookup(body, "target_user_id"))
			}
			if t.UserID == "" {
				return eventIgnored, nil
			}
			return s.flagged(ctx, t, body)
		}
	case "message.deleted":
		return func(ctx context.Context) (string, error) {
			gone, err := r.Forget(ctx, rawjson.String(rawjson.Lookup(body, "message", "id")))
			if err != nil || !gone {
				return eventIgnored, err
			}
			return eventRemoved, nil
		}
	}
	return nil
}

// flagged adds a flag to the report of t: by the event's user, or by
// Stream's moderation.
func (s *Server) flagged(ctx context.Context, t moderation.ReportTarget, body []byte) (string, error) {
	who := rawjson.String(rawjson.Lookup(body, "user", "id"))
	if who == "" || who == t.UserID {
		who = moderation.ReportStream
	}
	reason := rawjson.String(rawjson.Lookup(body, "reason"))
	if reason == "" {
		reason = rawjson.String(rawjson.Lookup(body, "flag", "reason"))
	}
	_, fresh, err := s.cfg.Reviews.Report(ctx, t, moderation.Reporter{UserID: who, Reason: reason, Source: moderation.ReportStream},
		s.cfg.ReportWait)
	if err != nil {
		return "", err
	}
	if fresh {
		s.metrics.reports.WithLabelValues(moderation.ReportStream).Inc()
	}
	return eventReported, nil
}
