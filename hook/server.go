// Package hook is modgate's HTTP face: the hooks Stream Chat calls
// (before-send and pending messages, custom commands, push events), the
// admin API (rules, the review queue, senders' strikes and bans, the audit
// log), the moderators' console, health and metrics. It turns wire payloads into moderation
// messages and verdicts back into the answers Stream expects, and domain
// errors into HTTP statuses, each in one place.
//
// Failure policy: Stream lets a message through when the hook answers
// anything but 200 or does not answer in time, so every moderation outcome
// (reject included) is a 200. 4xx answers mean the request itself was bad
// (400 malformed, 401 signature, 413 too large) and 5xx only a bug; in both
// cases Stream stores the message unchanged.
package hook

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rawjson"
	"github.com/modgate/modgate/rules"
)

// Defaults of Config.
const (
	DefaultMaxBody         = 1 << 20
	DefaultDeadline        = 300 * time.Millisecond
	DefaultPendingDeadline = 5 * time.Second
)

// Config is what the server needs. Keys nil turns signature checking off,
// which only local development should do.
type Config struct {
	Keys     *stream.Keys
	Engine   *moderation.Engine
	Logger   *slog.Logger
	MaxBody  int64         // bytes of a request body, before and after gunzip
	Deadline time.Duration // for evaluating one message, from the moment its whole body has been read
	// PendingDeadline is Deadline for a pending message: nobody waits for
	// its answer, so it is longer; past it the message waits for a
	// moderator (a pending message fails closed).
	PendingDeadline time.Duration

	// SharedState is the state shared with other processes (Redis), for
	// /readyz, the metrics and the log; nil: state in this process.
	SharedState SharedState

	Rules       *moderation.RulesFile // where the rules come from, for reloads; nil: not from a file
	AdminTokens []AdminToken          // bearer tokens of the admin API; none: the admin API refuses everyone

	Reviews        *moderation.Reviews // the review queue; nil: held messages are refused and not kept
	HoldTTL        time.Duration       // how long a before-send hold waits for a moderator
	PendingTimeout time.Duration       // the pending hook's timeout_ms: a pending message's deadline after its creation
	Approvals      *stream.Approvals   // signs and checks the marker of approved messages sent again
	// Messages reads a reported message from Stream when a /report's
	// payload does not carry it; nil: such a report is queued without the
	// message's text.
	Messages MessageSource
	// ReportWait is how long a report waits for a moderator (0:
	// moderation.DefaultReportWait).
	ReportWait time.Duration

	Console *ConsoleConfig // the moderators' console at /console; nil: none

	// Now is the hooks' clock: when a request arrived, when its body was
	// read (the deadline counts from there), how long it took. nil:
	// time.Now. The engine has a clock of its own (EngineOptions.Now),
	// against which it checks the deadline.
	Now func() time.Time
}

// SharedState is what the HTTP face reports of shared state.
type SharedState interface {
	// Check reports whether the servers that hold modgate's keys serve.
	Check(ctx context.Context) error
	// AnswersDropped counts the answers not stored for retries.
	AnswersDropped() (queueFull, writeFailed uint64)
}

// Server handles Stream's hooks.
type Server struct {
	cfg          Config
	echo         *echo.Echo
	log          *slog.Logger
	metrics      *metrics
	stateLog     *rateLimitedLog
	deadlineLog  *rateLimitedLog
	signatureLog *rateLimitedLog
	holdLog      *rateLimitedLog
	health       health
	console      *console
}

// New builds the server and its routes.
func New(cfg Config) *Server {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Deadline <= 0 {
		cfg.Deadline = DefaultDeadline
	}
	if cfg.PendingDeadline <= 0 {
		cfg.PendingDeadline = DefaultPendingDeadline
	}
	if cfg.HoldTTL <= 0 {
		cfg.HoldTTL = DefaultHoldTTL
	}
	if cfg.PendingTimeout <= 0 {
		cfg.PendingTimeout = DefaultPendingTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, log: cfg.Logger, stateLog: newRateLimitedLog(cfg.Logger, 10*time.Second),
		deadlineLog: newRateLimitedLog(cfg.Logger, 10*time.Second), signatureLog: newRateLimitedLog(cfg.Logger, 10*time.Second),
		holdLog: newRateLimitedLog(cfg.Logger, 10*time.Second)}
	s.metrics = newMetrics(cfg.Rules, cfg.Reviews, cfg.SharedState, &s.health)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.answerError
	e.POST(beforeSendPath, s.beforeSend)
	e.POST("/hooks/pending", s.pending)
	e.POST("/hooks/pending/:method", s.pending)
	e.POST("/hooks/commands", s.commands)
	e.POST("/hooks/events", s.events)
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})))
	adm := e.Group("/admin")
	adm.GET("/openapi.json", func(c echo.Context) error { return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPI) })
	adm.GET("/rules", s.getRules, s.requireRole(RoleRead))
	adm.POST("/rules/reload", s.reloadRules, s.requireRole(RoleModerator))
	adm.GET("/queue", s.listQueue, s.requireRole(RoleRead))
	adm.GET("/queue/:id", s.getHeld, s.requireRole(RoleRead))
	adm.POST("/queue/:id/approve", s.decide(moderation.Approve), s.requireRole(RoleModerator))
	adm.POST("/queue/:id/reject", s.decide(moderation.Reject), s.requireRole(RoleModerator))
	adm.GET("/audit", s.listAudit, s.requireRole(RoleRead))
	adm.GET("/users/:id/strikes", s.strikes, s.requireRole(RoleRead))
	adm.POST("/users/:id/lift", s.lift, s.requireRole(RoleModerator))
	if cfg.Console != nil {
		s.console = newConsole(*cfg.Console, cfg.AdminTokens)
		s.mountConsole(e)
	}
	s.echo = e
	return s
}

const beforeSendPath = "/hooks/before-message-send"

// Route is one registered route.
type Route struct{ Method, Path string }

// Routes lists the routes the server answers.
func (s *Server) Routes() []Route {
	var out []Route
	for _, r := range s.echo.Routes() {
		out = append(out, Route{Method: r.Method, Path: r.Path})
	}
	return out
}

// ServeHTTP makes the server an http.Handler. A panic becomes a 500 and a
// log line; Stream then lets the message through, and the process keeps
// serving. (Recovering here rather than in an Echo middleware spares every
// request the middleware chain Echo would build for it.)
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic while handling a request", "path", r.URL.Path, "panic", p)
			if r.URL.Path == beforeSendPath { // the pending hook counts its own
				s.metrics.beforeSend.requests[outcomeError].Inc()
			}
			w.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
			w.WriteHeader(http.StatusInternalServerError)
			w.Write(internalError)
		}
	}()
	s.echo.ServeHTTP(w, r)
}

var internalError = []byte(`{"error":{"code":"internal","message":"internal error"}}` + "\n")

// openAPI describes the admin API.
//
//go:embed openapi.json
var openAPI []byte

var (
	bufPool    = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	answerPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}
	// payloadPool keeps payloads with their buffers; nothing of a payload is
	// kept past its request (a held message is copied out).
	payloadPool = sync.Pool{New: func() any { return new(stream.Payload) }}
)

func putPayload(p *stream.Payload) {
	if p.Reset() <= 4096 {
		payloadPool.Put(p)
	}
}

func getBuf() *bytes.Buffer {
	b := bufPool.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= 4*DefaultMaxBody {
		bufPool.Put(b)
	}
}

// readBody reads the request body up to the limit and inflates it when it is
// gzip, whatever Content-Encoding says. The body lives in buf, which goes
// back to the pool with putBuf once the body is no longer used. Errors are
// of class tooLarge or badBody.
func (s *Server) readBody(r *http.Request) (body []byte, buf *bytes.Buffer, err error) {
	limit := s.cfg.MaxBody
	if r.ContentLength > limit {
		return nil, nil, tooLarge.wrap(stream.ErrTooLarge)
	}
	raw := getBuf()
	var n int64
	if r.ContentLength >= 0 {
		// net/http ends the body at Content-Length, which is within the limit.
		raw.Grow(int(min(r.ContentLength, 64<<10)) + bytes.MinRead)
		n, err = raw.ReadFrom(r.Body)
	} else {
		n, err = raw.ReadFrom(io.LimitReader(r.Body, limit+1))
	}
	if err != nil {
		putBuf(raw)
		return nil, nil, badBody.wrap(fmt.Errorf("reading the body: %w", err))
	}
	if n > limit {
		putBuf(raw)
		return nil, nil, tooLarge.wrap(stream.ErrTooLarge)
	}
	if !stream.IsGzip(raw.Bytes()) {
		return raw.Bytes(), raw, nil
	}
	inflated := getBuf()
	err = stream.Gunzip(inflated, raw.Bytes(), limit)
	putBuf(raw)
	if err != nil {
		putBuf(inflated)
		if errors.Is(err, stream.ErrTooLarge) {
			return nil, nil, tooLarge.wrap(err)
		}
		return nil, nil, badBody.wrap(fmt.Errorf("reading the body: %w", err))
	}
	return inflated.Bytes(), inflated, nil
}

// readSigned reads a hook's body and checks its signature. A request that
// fails gets an error of class tooLarge, badBody or badSignature (answered
// the same way on every hook: 413, 400, 401) and its outcome for the
// metrics; failed is "" when the body is ready. buf goes back to the pool
// with putBuf.
func (s *Server) readSigned(c echo.Context, hook string) (body []byte, buf *bytes.Buffer, failed string, err error) {
	req := c.Request()
	body, buf, err = s.readBody(req)
	if err != nil {
		if errors.Is(err, stream.ErrTooLarge) {
			return nil, nil, outcomeTooLarge, err
		}
		return nil, nil, outcomeBadRequest, err
	}
	if s.cfg.Keys != nil {
		apiKey := req.Header.Get("X-Api-Key")
		if err := s.cfg.Keys.Verify(apiKey, body, req.Header.Get("X-Signature")); err != nil {
			putBuf(buf)
			s.signatureFailed(req, hook, apiKey, err)
			return nil, nil, outcomeUnauth, badSignature.wrap(err)
		}
	}
	return body, buf, "", nil
}

// signatureFailed logs and counts a refused signature. Stream lets such a
// message through unmoderated, so a wrong secret must not go unseen; the
// log names a configured key, never what a caller sent otherwise, and never
// a secret or a signature.
func (s *Server) signatureFailed(req *http.Request, hook, apiKey string, err error) {
	reason := signatureMismatch
	switch {
	case errors.Is(err, stream.ErrNoSignature):
		reason = signatureMissing
	case errors.Is(err, stream.ErrMalformedSignature):
		reason = signatureMalformed
	case errors.Is(err, stream.ErrUnknownKey):
		reason = signatureUnknownKey
	}
	s.metrics.signatures.WithLabelValues(hook, reason).Inc()
	key := "unknown key"
	if s.cfg.Keys.Has(apiKey) {
		key = apiKey
	}
	s.signatureLog.Warn("hook call refused for its signature: if it came from Stream, check the API secret, "+
		"or Stream lets every message through unmoderated", "hook", hook, "reason", reason, "api_key", key,
		"remote_addr", req.RemoteAddr)
}

// beforeSend is Stream's before-message-send hook.
func (s *Server) beforeSend(c echo.Context) error {
	start := s.cfg.Now()
	req := c.Request()
	m := &s.metrics.beforeSend
	defer func() { m.latency.Observe(s.cfg.Now().Sub(start).Seconds()) }()

	body, buf, failed, err := s.readSigned(c, hookBeforeSend)
	if failed != "" {
		m.requests[failed].Inc()
		return err
	}
	defer putBuf(buf)
	// The deadline counts from here: how long a body took to arrive (a
	// congested network, a proxy) is not time the rules may lose.
	deadline := s.cfg.Now().Add(s.cfg.Deadline)

	ctx := req.Context()
	webhookID := req.Header.Get("X-Webhook-Id")
	p := payloadPool.Get().(*stream.Payload)
	defer putPayload(p)
	// The flag field is modgate's: whatever a client put there is not
	// passed on (see stream.Payload.ParseOwning).
	if err := p.ParseOwning(body, s.cfg.Engine.Rules().Settings.FlagField); err != nil {
		m.requests[outcomeBadRequest].Inc()
		return badPayload.wrap(err)
	}
	if p.Approval != nil && s.cfg.Approvals != nil {
		return s.approvedAgain(c, p, p.Approval)
	}
	msg := moderation.Message{ID: p.ID, Text: p.Text, Hook: moderation.HookBeforeSend,
		Object: p.Message, User: p.User, Channel: p.Channel, RequestInfo: p.RequestInfo, Members: &p.Members}
	v, res := s.cfg.Engine.Evaluate(ctx, &msg, moderation.Options{WebhookID: webhookID, Deadline: deadline})
	if res.StateErr != nil {
		s.metrics.stateErrors.Inc()
		s.stateLog.Warn("shared state failed: limit rules followed their on_error", "webhook_id", webhookID, "err", res.StateErr)
	}
	ap := answerPool.Get().(*[]byte)
	answer := (*ap)[:0]
	defer func() {
		if cap(answer) <= 4*DefaultMaxBody {
			*ap = answer[:0]
			answerPool.Put(ap)
		}
	}()
	if res.Replayed {
		m.requests[outcomeReplay].Inc()
		return writeAnswer(c, appendAnswer(answer, p, &v))
	}
	if v.Action == rules.ActionHold {
		// Retries too: the item's id comes from the webhook id, so a retry
		// finds the item an earlier call made, or makes it if that failed.
		s.holdBeforeSend(ctx, &msg, &v, webhookID, start)
	}
	outcome := outcomeOf(&v)
	if v.DeadlineHit {
		s.metrics.deadline.Inc()
		s.deadlineLog.Warn("deadline passed: on_error decided", "webhook_id", webhookID, "deadline", s.cfg.Deadline.String(),
			"action", v.Action.String())
	}
	answer = appendAnswer(answer, p, &v)
	m.requests[outcome].Inc()
	s.metrics.countFired(&v)
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.logDecision(ctx, hookBeforeSend, webhookID, &msg, &v)
	}
	if err := writeAnswer(c, answer); err != nil {
		return err
	}
	// Keep the answer for a retry of the same call. Both stores return at
	// once (Redis writes in the background), so Stream does not wait for it.
	if err := s.cfg.Engine.Remember(ctx, &msg, webhookID, &v, &res); err != nil {
		s.stateLog.Warn("storing a webhook answer failed", "webhook_id", webhookID, "err", err)
	}
	if len(v.Consequences) > 0 {
		s.consequences(&msg, &v, webhookID)
	}
	return nil
}

// appendAnswer appends the before-send answer to p that says v: the
// message refused with the reply, patched, or let through as it came.
func appendAnswer(dst []byte, p *stream.Payload, v *moderation.Verdict) []byte {
	switch {
	case v.Refused():
		return stream.AppendReject(dst, v.Reply)
	case v.Changed():
		return p.AppendPatched(dst, v.Text, v.TextChanged, v.Fields)
	}
	return p.AppendAllow(dst)
}

// jsonType is the Content-Type of answers, shared: net/http copies header
// values before writing them, and nothing appends to this one.
var jsonType = []string{echo.MIMEApplicationJSON}

// writeAnswer writes a 200 with a JSON body: c.Blob without looking the
// header name up and allocating its value on every request.
func writeAnswer(c echo.Context, body []byte) error {
	r := c.Response()
	r.Header()[echo.HeaderContentType] = jsonType
	r.WriteHeader(http.StatusOK)
	_, err := r.Write(body)
	return err
}

// outcomeOf names a verdict for the requests metric.
func outcomeOf(v *moderation.Verdict) string {
	switch {
	case v.DeadlineHit && !v.Refused():
		return outcomeDeadline
	case v.Action == rules.ActionReject:
		return outcomeReject
	case v.Action == rules.ActionHold:
		return outcomeHold
	case v.Changed() && v.Action == rules.ActionMask:
		return outcomeMask
	case v.Changed() && v.Action == rules.ActionRewrite:
		return outcomeRewrite
	case v.Changed() && v.Action == rules.ActionFlag:
		return outcomeFlag
	}
	return outcomeAllow
}

// logDecision writes the debug line of a decision: who sent what where,
// which rules fired with which terms; never the text.
func (s *Server) logDecision(ctx context.Context, hook, webhookID string, msg *moderation.Message, v *moderation.Verdict) {
	ids := make([]string, len(v.Fired))
	for i, f := range v.Fired {
		ids[i] = f.RuleID
	}
	terms := []string{}
	for _, f := range v.Fired {
		for _, mt := range f.Matches {
			terms = append(terms, mt.List+":"+mt.Term)
		}
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "decision",
		slog.String("hook", hook),
		slog.String("webhook_id", webhookID),
		slog.String("message_id", msg.ID),
		slog.String("user_id", rawjson.String(rawjson.Lookup(msg.User, "id"))),
		slog.String("channel_cid", rawjson.String(rawjson.Lookup(msg.Channel, "cid"))),
		slog.String("action", v.Action.String()),
		slog.Any("rules", ids),
		slog.Any("terms", terms),
		slog.String("rules_version", v.RulesVersion))
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "alive"})
}

type readiness struct {
	Status   string       `json:"status"`                // ready, draining, not_ready
	State    string       `json:"state,omitempty"`       // of shared state: ok, degraded, unknown (not checked yet)
	Since    *time.Time   `json:"state_since,omitempty"` // when the state last changed
	Rules    *rulesStatus `json:"rules,omitempty"`
	Warnings []string     `json:"warnings,omitempty"`
}

// rulesStatus says that a reload failed and when, not why: /readyz answers
// anyone, and the why (which may quote the file) is in the log and in the
// admin API's GET /admin/rules.
type rulesStatus struct {
	Version      string     `json:"version"`
	Source       string     `json:"source"`
	Rules        int        `json:"rules"`
	ReloadFailed *time.Time `json:"last_reload_failed_at,omitempty"`
}

// readyz says whether this process can moderate: a rule set is loaded and
// the process is not shutting down. Shared state that fails does not make
// it unready (word rules need none; limit rules follow their on_error): it
// is reported as degraded. It asks nothing of Redis itself; WatchState does.
func (s *Server) readyz(c echo.Context) error {
	r := readiness{Status: "ready"}
	set := s.cfg.Engine.Rules()
	if set != nil {
		r.Rules = &rulesStatus{Version: set.Version, Source: set.Source, Rules: len(set.Rules)}
		if s.cfg.Rules != nil {
			if st := s.cfg.Rules.Status(); st.LastError != "" {
				at := st.LastAttempt
				r.Rules.ReloadFailed = &at
				r.Warnings = append(r.Warnings, "the last change to the rules file was refused; the rules in force keep serving")
			}
		}
	}
	if s.cfg.Keys == nil {
		r.Warnings = append(r.Warnings, "signature checking is OFF (MODGATE_INSECURE_SKIP_SIGNATURE=1): anyone can call the hooks")
	}
	if s.cfg.SharedState != nil {
		state, since := s.health.get()
		r.State = state
		if !since.IsZero() {
			r.Since = &since
		}
		if state == stateDegraded {
			r.Warnings = append(r.Warnings, "shared state (Redis) is degraded: limit rules follow their on_error")
		}
	}
	switch {
	case set == nil:
		r.Status = "not_ready"
	case s.health.draining.Load():
		r.Status = "draining"
	default:
		return c.JSON(http.StatusOK, r)
	}
	return c.JSON(http.StatusServiceUnavailable, r)
}
