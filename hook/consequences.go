package hook

import (
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

// consequenceActions are what the consequences of rules do.
var consequenceActions = []string{rules.DoBan, rules.DoShadowBan, rules.DoTimeout, rules.DoFlag}

// consequences hands what a verdict does to the sender to the review flow,
// once the hook's answer is written: Stream never waits for a ban. Each is
// counted by what it does (would_<do> in observe mode).
func (s *Server) consequences(msg *moderation.Message, v *moderation.Verdict, delivery string) {
	for _, c := range v.Consequences {
		label := c.Do
		if c.Observed {
			label = "would_" + c.Do
		}
		s.metrics.consequences.WithLabelValues(label).Inc()
	}
	if s.cfg.Reviews == nil {
		s.holdLog.Warn("the rules gave a sender consequences, but this modgate keeps no review queue: they are not carried out",
			"rule_id", v.Consequences[0].RuleID)
		return
	}
	s.cfg.Reviews.Consequences(msg, v, delivery)
}

// liftBody is the body of POST /admin/users/{id}/lift.
type liftBody struct {
	Do         string `json:"do"`          // ban, shadow_ban or timeout
	ChannelCID string `json:"channel_cid"` // a timeout's channel
	Of         string `json:"of"`          // the consequence item that banned, from the audit log
	Reason     string `json:"reason"`
}

// lift is POST /admin/users/:id/lift: 200 with the lifting item when Stream
// confirmed within the wait, 202 while it is still being carried out.
func (s *Server) lift(c echo.Context) error {
	r, err := s.reviews()
	if err != nil {
		return err
	}
	var body liftBody
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		return badRequest.err(`the body is {"do": "ban", "channel_cid": "...", "of": "...", "reason": "..."}: ` + err.Error())
	}
	if len(body.Reason) > 500 {
		return badRequest.err("reason: at most 500 bytes")
	}
	h, err := r.Lift(c.Request().Context(), moderation.LiftRequest{UserID: pathID(c), Do: body.Do, ChannelCID: body.ChannelCID,
		Of: body.Of, Actor: admin(c).Name, Reason: body.Reason})
	if err != nil {
		return err
	}
	if h.State != moderation.HeldDone {
		return c.JSON(http.StatusAccepted, decisionAnswer{Result: string(moderation.HeldDeciding), Item: h})
	}
	return c.JSON(http.StatusOK, decisionAnswer{Result: "lifted", Item: h})
}

// senderStrikes is a sender's strikes as the admin API shows them.
type senderStrikes struct {
	UserID  string        `json:"user_id"`
	Strikes []strikeCount `json:"strikes"`
}

type strikeCount struct {
	Within string `json:"within"` // 1h, 24h, 7d, 30d
	Count  int    `json:"count"`
}

// strikes is GET /admin/users/:id/strikes: the sender's strikes within the
// last hour, day, week and 30 days.
func (s *Server) strikes(c echo.Context) error {
	user := pathID(c)
	counts, err := s.cfg.Engine.SenderStrikes(c.Request().Context(), user, moderation.StrikeWindows)
	if err != nil {
		return err
	}
	out := senderStrikes{UserID: user}
	for i, w := range moderation.StrikeWindows {
		out.Strikes = append(out.Strikes, strikeCount{Within: shortDuration(w), Count: counts[i]})
	}
	return c.JSON(http.StatusOK, out)
}

// shortDuration writes a window as the rules file would: 1h, 24h, 7d, 30d.
func shortDuration(d time.Duration) string {
	if d >= 48*time.Hour && d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return strconv.Itoa(int(d/time.Hour)) + "h"
}
