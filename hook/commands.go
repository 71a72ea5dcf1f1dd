package hook

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rawjson"
)

// Stream's custom commands (custom_action_handler_url, which may name the
// command: https://modgate.example/hooks/commands?type={type}). modgate
// implements /report: a user reports a message by replying to it or
// quoting it (`/report why`), or a user by naming them (`/report @user
// why`). The report goes to the review queue as an item of kind report
// (see moderation.Reviews.Report), and the reporter is told so in a
// private (ephemeral) answer; a report modgate refuses is answered with a
// message of type error, which Stream shows the reporter alone and does
// not store. Stream waits 3 s for the answer; modgate answers within
// commandWithin.

// MessageSource reads a stored message from Stream, for a report that names
// a message its payload does not carry.
type MessageSource interface {
	Message(ctx context.Context, id string) (json.RawMessage, error)
}

// commandWithin is how long a command may take: well inside Stream's 3 s.
const commandWithin = 2 * time.Second

// maxReports is how many reports one user makes an hour.
const maxReports = 30

// messageWithin is how long a report waits for Stream to read the reported
// message: what is left of commandWithin goes to the queue.
const messageWithin = time.Second

// The words of the answers to /report.
const (
	reportThanks   = "Thank you: your report was sent to the moderators."
	reportAgain    = "You reported this already: the moderators have it."
	reportUsage    = "To report a message, reply to it or quote it with /report and why. To report someone, write /report @name and why."
	reportOwn      = "You cannot report your own messages."
	reportNoQueue  = "Reports are not taken here."
	reportNotNow   = "Your report could not be recorded: please try again in a moment."
	reportWho      = "Your report could not be recorded: it does not say who sent it."
	reportTooMany  = "You have sent many reports in the last hour: please wait before reporting again."
	unknownCommand = "modgate does not know this command."
)

// commands is Stream's custom command hook. Every answer it gives about a
// command is a 200: a refusal is a message of type error.
func (s *Server) commands(c echo.Context) error {
	start := s.cfg.Now()
	m := &s.metrics.commands
	defer func() { m.latency.Observe(s.cfg.Now().Sub(start).Seconds()) }()
	body, buf, failed, err := s.readSigned(c, hookCommands)
	if failed != "" {
		m.requests[failed].Inc()
		return err
	}
	defer putBuf(buf)
	var p stream.Payload
	if err := p.Parse(body); err != nil {
		m.requests[outcomeBadRequest].Inc()
		return badPayload.wrap(err)
	}
	name := c.QueryParam("type")
	if name == "" {
		name = rawjson.String(rawjson.Lookup(p.Message, "command"))
	}
	// The report is recorded even if Stream hangs up, within the time
	// Stream gives.
	ctx, cancel := context.WithDeadline(context.WithoutCancel(c.Request().Context()), start.Add(commandWithin))
	defer cancel()
	var answer string
	var ok bool
	switch strings.TrimPrefix(strings.ToLower(name), "/") {
	case "report":
		answer, ok = s.reportCommand(ctx, &p)
	default:
		answer = unknownCommand
	}
	if !ok {
		m.requests[outcomeRefused].Inc()
		return writeAnswer(c, stream.AppendReject(nil, answer))
	}
	m.requests[outcomeReported].Inc()
	return writeAnswer(c, p.AppendEphemeral(nil, answer))
}

// reportCommand records a /report and says what to answer, and whether
// the report was taken.
func (s *Server) reportCommand(ctx context.Context, p *stream.Payload) (string, bool) {
	reviews := s.cfg.Reviews
	if reviews == nil {
		return reportNoQueue, false
	}
	reporter := rawjson.String(rawjson.Lookup(p.User, "id"))
	if reporter == "" {
		reporter = rawjson.String(rawjson.Lookup(p.Message, "user", "id"))
	}
	if reporter == "" {
		return reportWho, false
	}
	target, reason := s.reportTarget(ctx, p)
	if target.MessageID == "" && target.UserID == "" {
		return reportUsage, false
	}
	// A user who reports everything cannot fill the queue.
	if ok, err := s.cfg.Engine.Throttle(ctx, reporter, "!reports", maxReports, time.Hour); !ok {
		return reportTooMany, false
	} else if err != nil {
		s.stateLog.Warn("counting a reporter's reports failed: the report is taken", "reporter", reporter, "err", err)
	}
	_, fresh, err := reviews.Report(ctx, target, moderation.Reporter{UserID: reporter, Reason: reason, Source: moderation.ReportCommand},
		s.cfg.ReportWait)
	switch {
	case errors.Is(err, moderation.ErrSelfReport):
		return reportOwn, false
	case err != nil:
		s.holdLog.Warn("a report could not be queued", "reporter", reporter, "message_id", target.MessageID, "err", err)
		return reportNotNow, false
	case !fresh:
		return reportAgain, true
	}
	s.metrics.reports.WithLabelValues(moderation.ReportCommand).Inc()
	return reportThanks, true
}

// reportTarget reads what a /report is about, and why: the message it
// replies to or quotes (its text and author from the quoted message in the
// payload, else read from Stream), or else the user it names first, and
// the rest of the arguments as the reason.
func (s *Server) reportTarget(ctx context.Context, p *stream.Payload) (moderation.ReportTarget, string) {
	msg := p.Message
	args := rawjson.String(rawjson.Lookup(msg, "args"))
	if args == "" {
		args = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(p.Text), "/report"))
	}
	named, reason := "", strings.TrimSpace(args)
	if first, rest, _ := strings.Cut(reason, " "); strings.HasPrefix(first, "@") && len(first) > 1 {
		named, reason = first[1:], strings.TrimSpace(rest)
	}
	t := moderation.ReportTarget{ChannelCID: rawjson.String(rawjson.Lookup(p.Channel, "cid"))}
	if t.ChannelCID == "" {
		t.ChannelCID = rawjson.String(rawjson.Lookup(msg, "cid"))
	}
	t.MessageID = rawjson.String(rawjson.Lookup(msg, "quoted_message_id"))
	if t.MessageID == "" {
		t.MessageID = rawjson.String(rawjson.Lookup(msg, "parent_id"))
	}
	if t.MessageID != "" {
		reported := rawjson.Lookup(msg, "quoted_message")
		if rawjson.String(rawjson.Lookup(reported, "id")) != t.MessageID {
			reported = s.storedMessage(ctx, t.MessageID)
		}
		t.Text = rawjson.String(rawjson.Lookup(reported, "text"))
		t.UserID = rawjson.String(rawjson.Lookup(reported, "user", "id"))
		if t.UserID == "" {
			t.UserID = rawjson.String(rawjson.Lookup(reported, "user_id"))
		}
		if t.UserID == "" && named != "" {
			t.UserID = mentioned(msg, named) // the message could not be read: its author, as the reporter names them
		}
		return t, reason
	}
	if named != "" {
		t.UserID = mentioned(msg, named)
	}
	return t, reason
}

// storedMessage reads a message from Stream, or nil when it cannot.
func (s *Server) storedMessage(ctx context.Context, id string) []byte {
	if s.cfg.Messages == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, messageWithin)
	defer cancel()
	raw, err := s.cfg.Messages.Message(ctx, id)
	if err != nil {
		s.holdLog.Warn("the reported message could not be read from Stream: it is queued without its text", "message_id", id, "err", err)
		return nil
	}
	return raw
}

// mentioned finds the user a report names (@name): the mentioned user whose
// id or name it is, the only one mentioned, or, when the payload lists no
// mentions, the name itself taken for an id.
func mentioned(msg []byte, name string) string {
	var ids []string
	found := ""
	rawjson.EachElement(rawjson.Lookup(msg, "mentioned_users"), func(e []byte) {
		id := rawjson.String(e)
		if id == "" {
			id = rawjson.String(rawjson.Lookup(e, "id"))
		}
		if id == "" {
			return
		}
		ids = append(ids, id)
		if found == "" && (strings.EqualFold(id, name) || strings.EqualFold(rawjson.String(rawjson.Lookup(e, "name")), name)) {
			found = id
		}
	})
	switch {
	case found != "":
		return found
	case len(ids) == 1:
		return ids[0]
	case len(ids) == 0:
		return name
	}
	return ""
}
