package hook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// The queue pages of the console: the held messages, one message, a
// sender's history, and deciding.

// consolePageSize is how many held messages a queue page shows.
const consolePageSize = 25

// queueFilter is the queue page's filter form.
type queueFilter struct {
	Channel, User, Rule, Age, Kind string
}

func readQueueFilter(c echo.Context) queueFilter {
	return queueFilter{Channel: strings.TrimSpace(c.QueryParam("channel")), User: strings.TrimSpace(c.QueryParam("user")),
		Rule: c.QueryParam("rule"), Age: c.QueryParam("age"), Kind: c.QueryParam("kind")}
}

// kinds are the choices of the kind filter.
var kinds = []struct{ Value, Label string }{
	{"", "Everything"},
	{"message", "Held messages"},
	{"report", "Reports"},
	{"consequence", "Bans and flags under way"},
}

// ages are the choices of the age filter: held within, or longer ago than.
var ages = []struct {
	Value, Label string
	within       bool
	d            time.Duration
}{
	{"", "at any time", false, 0},
	{"1h", "in the last hour", true, time.Hour},
	{"24h", "in the last 24 hours", true, 24 * time.Hour},
	{"older-1h", "more than an hour ago", false, time.Hour},
	{"older-24h", "more than a day ago", false, 24 * time.Hour},
}

// of turns the form into the queue's filter, newest first.
func (f queueFilter) of(now time.Time) (moderation.QueueFilter, error) {
	q := moderation.QueueFilter{ChannelCID: f.Channel, UserID: f.User, Rule: f.Rule, Newest: true, Limit: consolePageSize}
	var err error
	if q.Kind, err = parseKind(f.Kind); err != nil {
		return q, err
	}
	for _, a := range ages {
		if a.Value != f.Age {
			continue
		}
		if a.within {
			q.HeldAfter = now.Add(-a.d)
		} else if a.d > 0 {
			q.HeldBefore = now.Add(-a.d)
		}
		return q, nil
	}
	return q, badRequest.err("age: not one of the choices")
}

// query is the filter as URL parameters.
func (f queueFilter) query() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"channel": f.Channel, "user": f.User, "rule": f.Rule, "age": f.Age, "kind": f.Kind} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

func (f queueFilter) Any() bool { return f != queueFilter{} }

// queuePageView is the data of the queue page.
type queuePageView struct {
	Filter  queueFilter
	Ages    any
	Kinds   any
	RuleIDs []string
	Items   []cardView
	Next    string // the URL of the next (older) page
	First   string // the URL of the first page, when this is not it
	Fresh   string // the URL that new held messages are read from; "" past the first page
	Since   int64  // unix ms of the newest item shown
	Decided []cardView
	Return  string
}

func (s *Server) consoleQueue(c echo.Context) error {
	r, err := s.reviews()
	if err != nil {
		return err
	}
	now := s.consoleNow()
	form := readQueueFilter(c)
	f, err := form.of(now)
	if err != nil {
		return err
	}
	f.Cursor = c.QueryParam("cursor")
	ctx := c.Request().Context()
	items, next, err := r.List(ctx, f)
	if err != nil {
		return err
	}
	who := consoleWho(c)
	back := c.Request().URL.RequestURI()
	p := queuePageView{Filter: form, Ages: ages, Kinds: kinds, RuleIDs: s.ruleIDs(), Return: back}
	for i := range items {
		p.Items = append(p.Items, s.card(&items[i], who, cardOpts{back: back}))
	}
	q := form.query()
	if next != "" {
		q.Set("cursor", next)
		p.Next = "/console?" + q.Encode()
		q.Del("cursor")
	}
	if f.Cursor != "" {
		p.First = "/console?" + q.Encode()
	} else {
		p.Fresh = "/console/fresh?" + q.Encode()
		p.Since = now.UnixMilli()
		if len(items) > 0 {
			p.Since = items[0].HeldAt.UnixMilli()
		}
	}
	// After a decision made without scripts, the items it was about, as
	// they are now.
	for _, id := range strings.Split(c.QueryParam("decided"), ",") {
		if id == "" || len(p.Decided) >= consolePageSize {
			continue
		}
		if h, err := r.Get(ctx, id); err == nil {
			p.Decided = append(p.Decided, s.card(&h, who, cardOpts{back: back}))
		}
	}
	return s.render(c, http.StatusOK, "queue", view{Title: "Held messages", Nav: "queue", Page: p})
}

// freshOverlap is how far back before the newest item shown the page's
// script looks for new ones: processes' clocks differ a little, and the
// script skips the items it shows already.
const freshOverlap = 10 * time.Second

// consoleFresh answers the queue page's script: the held messages newer
// than since (unix ms), newest first, as list items; the count of open
// items and the newest time in headers.
func (s *Server) consoleFresh(c echo.Context) error {
	r, err := s.reviews()
	if err != nil {
		return err
	}
	form := readQueueFilter(c)
	f, err := form.of(s.consoleNow())
	if err != nil {
		return err
	}
	since, err := strconv.ParseInt(c.QueryParam("since"), 10, 64)
	if err != nil {
		return badRequest.err("since: unix milliseconds")
	}
	after := time.UnixMilli(since).Add(-freshOverlap)
	if after.After(f.HeldAfter) {
		f.HeldAfter = after
	}
	ctx := c.Request().Context()
	items, _, err := r.List(ctx, f)
	if err != nil {
		return err
	}
	who := consoleWho(c)
	cards := make([]cardView, 0, len(items))
	for i := range items {
		cards = append(cards, s.card(&items[i], who, cardOpts{back: "/console?" + form.query().Encode()}))
		since = max(since, items[i].HeldAt.UnixMilli())
	}
	h := c.Response().Header()
	h.Set("X-Modgate-Since", strconv.FormatInt(since, 10))
	if n, err := r.Queue.Len(ctx); err == nil {
		h.Set("X-Modgate-Open", strconv.Itoa(n))
	}
	return s.renderPart(c, http.StatusOK, "cards", cards)
}

// itemView is the data of an item's page.
type itemView struct {
	Card cardView
}

func (s *Server) consoleItem(c echo.Context) error {
	r, err := s.reviews()
	if err != nil {
		return err
	}
	h, err := r.Get(c.Request().Context(), pathID(c))
	if err != nil {
		return err
	}
	card := s.card(&h, consoleWho(c), cardOpts{back: c.Request().URL.RequestURI(), full: true})
	return s.render(c, http.StatusOK, "item", view{Title: card.Title + " " + h.UserID, Nav: "queue", Page: itemView{Card: card}})
}

// consoleCard answers htmx following a decision: the item's card as it is now.
func (s *Server) consoleCard(c echo.Context) error {
	r, err := s.reviews()
	if err != nil {
		return err
	}
	h, err := r.Get(c.Request().Context(), pathID(c))
	if err != nil {
		return err
	}
	card := s.card(&h, consoleWho(c), cardOpts{back: localPath(c.QueryParam("return")), full: c.QueryParam("full") == "1"})
	return s.renderPart(c, http.StatusOK, "card", card)
}

// consoleDecide approves or rejects one item. To htmx it answers the
// item's card as the decision left it (with the error, if any, and the
// error's status); to a plain form, a redirect back to the page it came
// from, which shows the item, or the error page.
func (s *Server) consoleDecide(d moderation.Decision) echo.HandlerFunc {
	return func(c echo.Context) error {
		r, err := s.reviews()
		if err != nil {
			return err
		}
		id, who := pathID(c), consoleWho(c)
		back := localPath(formValue(c, "return"))
		reason, err := readReason(c)
		if err != nil {
			return err
		}
		force := d == moderation.Reject && formValue(c, "force") == "1"
		h, derr := r.Decide(c.Request().Context(), id, moderation.Choice{Decision: d, Actor: who.Name, Reason: reason, Force: force})
		if derr != nil && !isScript(c) {
			return derr
		}
		if !isScript(c) {
			return c.Redirect(http.StatusSeeOther, withParam(back, "decided", id))
		}
		status, notice := http.StatusOK, ""
		if derr != nil {
			cl, known := classOf(derr)
			if !known {
				return derr
			}
			status, notice = cl.status, derr.Error()
			if now, err := r.Get(c.Request().Context(), id); err == nil {
				h = now // show the item as it is: decided by someone else, expired...
			}
		}
		if h.ID == "" {
			return derr // gone: nothing to show
		}
		card := s.card(&h, who, cardOpts{back: back, notice: notice, full: formValue(c, "full") == "1"})
		return s.renderPart(c, status, "card", card)
	}
}

// maxBulk is how many items one bulk decision may name.
const maxBulk = 100

// bulkTime bounds a bulk decision's wait for Stream: decisions not
// confirmed by then show as deciding and go on.
const bulkTime = 6 * time.Second

// consoleDecideMany approves or rejects the selected items at once, a few
// at a time. To htmx it answers the cards of the items, each replacing its
// own (out of band), and a summary; to a plain form, a redirect back.
func (s *Server) consoleDecideMany(c echo.Context) error {
	r, err := s.reviews()
	if err != nil {
		return err
	}
	who := consoleWho(c)
	back := localPath(formValue(c, "return"))
	d := moderation.Decision(formValue(c, "decision"))
	if !d.Valid() {
		return badRequest.err("decision: approve or reject")
	}
	reason, err := readReason(c)
	if err != nil {
		return err
	}
	ids := dedupe(c.Request().PostForm["id"])
	switch {
	case len(ids) == 0:
		return badRequest.err("select at least one message")
	case len(ids) > maxBulk:
		return badRequest.err(fmt.Sprintf("at most %d messages at once", maxBulk))
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), bulkTime)
	defer cancel()
	type outcome struct {
		h   moderation.Held
		err error
	}
	out := make([]outcome, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			h, err := r.Decide(ctx, id, moderation.Choice{Decision: d, Actor: who.Name, Reason: reason})
			if err != nil {
				if now, gerr := r.Get(context.WithoutCancel(ctx), id); gerr == nil {
					h = now
				}
			}
			out[i] = outcome{h, err}
		}()
	}
	wg.Wait()
	sum := bulkSummary{Decision: string(d)}
	var cards []cardView
	for i, o := range out {
		switch {
		case o.err != nil:
			sum.Failed = append(sum.Failed, ids[i]+": "+o.err.Error())
		case o.h.State == moderation.HeldDone:
			sum.Done++
		default:
			sum.Deciding++
		}
		if o.h.ID != "" {
			notice := ""
			if o.err != nil {
				notice = o.err.Error()
			}
			cards = append(cards, s.card(&o.h, who, cardOpts{back: back, notice: notice, oob: true}))
		}
	}
	s.log.Info("console bulk decision", "admin", who.Name, "decision", string(d), "items", len(ids), "done", sum.Done,
		"deciding", sum.Deciding, "failed", len(sum.Failed))
	if !isScript(c) {
		if len(sum.Failed) > 0 {
			return badRequest.err(sum.Text())
		}
		return c.Redirect(http.StatusSeeOther, withParam(back, "decided", strings.Join(ids, ",")))
	}
	return s.renderPart(c, http.StatusOK, "bulk", bulkView{Cards: cards, Summary: sum})
}

type bulkView struct {
	Cards   []cardView
	Summary bulkSummary
}

// bulkSummary says what a bulk decision did.
type bulkSummary struct {
	Decision string
	Done     int
	Deciding int
	Failed   []string
}

func (b bulkSummary) Text() string {
	past := map[string]string{"approve": "Approved", "reject": "Rejected"}[b.Decision]
	s := fmt.Sprintf("%s %d.", past, b.Done)
	if b.Deciding > 0 {
		s += fmt.Sprintf(" %d still being carried out.", b.Deciding)
	}
	if len(b.Failed) > 0 {
		s += fmt.Sprintf(" %d not decided: %s.", len(b.Failed), strings.Join(b.Failed, "; "))
	}
	return s
}

// readReason reads the reason field of a decision.
func readReason(c echo.Context) (string, error) {
	reason := strings.TrimSpace(formValue(c, "reason"))
	if len(reason) > 500 {
		return "", badRequest.err("reason: at most 500 bytes")
	}
	return reason, nil
}

func dedupe(ids []string) []string {
	seen := map[string]bool{}
	out := ids[:0:0]
	for _, id := range ids {
		if id = strings.TrimSpace(id); id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// withParam sets a query parameter of a local URL.
func withParam(p, key, value string) string {
	u, err := url.Parse(p)
	if err != nil {
		return "/console"
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.RequestURI()
}

// senderView is the data of a sender's page.
type senderView struct {
	UserID     string
	Items      []cardView
	More       string // the queue filtered by the sender, when there are more
	Entries    []auditRow
	Older      string
	Strikes    []strikeRow
	StrikesErr string   // why the strikes could not be counted
	Bans       []banRow // the bans, shadow bans and timeouts modgate gave them, and lifts, newest first
	CanLift    bool     // a moderator signed in
	CSRF       string
	Return     string
}

// strikeRow is a count of a sender's strikes.
type strikeRow struct {
	Within string
	Count  int
}

// banRow is a consequence the audit log recorded for a sender.
type banRow struct {
	auditRow
	Do       string // ban, shadow_ban, timeout; "" for a lift
	Liftable bool
}

// consoleSender shows a sender's other held messages and their recent
// decisions from the audit log.
func (s *Server) consoleSender(c echo.Context) error {
	r, err := s.reviews()
	if err != nil {
		return err
	}
	user := strings.TrimSpace(c.QueryParam("user"))
	if user == "" {
		return badRequest.err("user: which sender")
	}
	ctx := c.Request().Context()
	items, next, err := r.List(ctx, moderation.QueueFilter{UserID: user, Newest: true, Limit: consolePageSize})
	if err != nil {
		return err
	}
	who := consoleWho(c)
	back := c.Request().URL.RequestURI()
	p := senderView{UserID: user}
	for i := range items {
		p.Items = append(p.Items, s.card(&items[i], who, cardOpts{back: back}))
	}
	if next != "" {
		p.More = "/console?" + url.Values{"user": {user}}.Encode()
	}
	if r.Audit != nil {
		entries, older, err := r.Audit.List(ctx, moderation.AuditFilter{UserID: user, Limit: consolePageSize})
		if err != nil {
			return err
		}
		p.Entries = s.auditRows(entries)
		if older != "" {
			p.Older = "/console/audit?" + url.Values{"user": {user}, "cursor": {older}}.Encode()
		}
		if p.Bans, err = s.bansOf(ctx, r, user); err != nil {
			return err
		}
	}
	counts, err := s.cfg.Engine.SenderStrikes(ctx, user, moderation.StrikeWindows)
	if err != nil {
		p.StrikesErr = err.Error()
	}
	for i, w := range moderation.StrikeWindows {
		if err == nil {
			p.Strikes = append(p.Strikes, strikeRow{Within: rules.HumanDuration(w), Count: counts[i]})
		}
	}
	if who != nil && who.Role == RoleModerator {
		p.CanLift, p.CSRF, p.Return = true, s.console.csrfToken(who.session.ID), back
	}
	return s.render(c, http.StatusOK, "sender", view{Title: "Sender " + user, Nav: "queue", Page: p})
}

// bansDone maps the audit log's consequences to what a lift lifts.
var bansDone = map[string]string{moderation.AuditBanned: rules.DoBan, moderation.AuditShadowBanned: rules.DoShadowBan,
	moderation.AuditTimedOut: rules.DoTimeout, moderation.AuditLifted: ""}

// bansOf reads the bans, shadow bans and timeouts of a sender, and their
// lifts, from the audit log: the queue forgets its items an hour after they
// are carried out; the audit log keeps them.
func (s *Server) bansOf(ctx context.Context, r *moderation.Reviews, user string) ([]banRow, error) {
	var rows []banRow
	for action := range bansDone {
		entries, _, err := r.Audit.List(ctx, moderation.AuditFilter{UserID: user, Action: action, Limit: consolePageSize})
		if err != nil {
			return nil, err
		}
		for i, row := range s.auditRows(entries) {
			do := bansDone[action]
			rows = append(rows, banRow{auditRow: row, Do: do, Liftable: do != "" && entries[i].ItemID != ""})
		}
	}
	slices.SortFunc(rows, func(a, b banRow) int { return b.At.Compare(a.At) })
	return rows, nil
}

// consoleLift lifts a ban, shadow ban or timeout from a sender's page.
func (s *Server) consoleLift(c echo.Context) error {
	r, err := s.reviews()
	if err != nil {
		return err
	}
	user := strings.TrimSpace(formValue(c, "user"))
	reason, err := readReason(c)
	if err != nil {
		return err
	}
	_, err = r.Lift(c.Request().Context(), moderation.LiftRequest{UserID: user, Do: formValue(c, "do"),
		ChannelCID: formValue(c, "channel"), Of: formValue(c, "of"), Actor: consoleWho(c).Name, Reason: reason})
	if err != nil {
		return err
	}
	back := localPath(formValue(c, "return"))
	if back == "/console" {
		back = "/console/sender?" + url.Values{"user": {user}}.Encode()
	}
	return c.Redirect(http.StatusSeeOther, back)
}

// cardView is one held message as the console shows it.
type cardView struct {
	moderation.Held
	DomID     string
	URL       string // the item's page
	SenderURL string
	FollowURL string // where htmx reads the card again while a decision is under way
	Return    string // where a plain form goes back to
	CSRF      string
	HeldAgo   string // how long ago, in words
	TimeLeft  string // how long until the deadline, in words
	Segments  []segment
	Matches   []matchView
	StateText string
	Open      bool // a moderator may still decide
	CanDecide bool
	Following bool          // a decision is under way: htmx reads the card again
	FollowIn  time.Duration // ... after this
	Notice    string        // what went wrong with the last decision asked
	Full      bool          // the item's own page: every detail
	OOB       bool          // an answer to a bulk decision: the card replaces its own
	Expired   bool
	Title     string // what the item is, in words: Held message, Report, Ban...
	Approve   string // the words of the two decisions for its kind; "" when it has none
	Reject    string
}

// matchView explains one span of a held message.
type matchView struct {
	moderation.Span
	Original  string
	Disguised string // the foldings, in words; "" when there were none
}

// cardOpts say how a card is shown.
type cardOpts struct {
	back   string // the page a plain form goes back to
	notice string // what went wrong with the last decision asked
	full   bool   // on the item's own page
	oob    bool   // in the answer to a bulk decision
}

func (s *Server) card(h *moderation.Held, who *signedIn, o cardOpts) cardView {
	now := s.consoleNow()
	sum := sha256.Sum256([]byte(h.ID))
	cv := cardView{Held: *h, DomID: "item-" + hex.EncodeToString(sum[:6]), URL: "/console/items/" + url.PathEscape(h.ID),
		Return: o.back, HeldAgo: ago(now.Sub(h.HeldAt)), Segments: highlight(h.Text, h.Spans), Notice: o.notice, Full: o.full, OOB: o.oob}
	cv.SenderURL = "/console/sender?" + url.Values{"user": {h.UserID}}.Encode()
	if who != nil {
		cv.CSRF = s.console.csrfToken(who.session.ID)
		cv.CanDecide = who.Role == RoleModerator
	}
	if left := h.Deadline.Sub(now); left > 0 {
		cv.TimeLeft = ago(left)
	} else {
		cv.Expired = true
	}
	for _, sp := range h.Spans {
		m := matchView{Span: sp}
		if validSpan(h.Text, sp) {
			m.Original = h.Text[sp.Start:sp.End]
		}
		if sp.Steps != "" && sp.Steps != "none" {
			m.Disguised = strings.ReplaceAll(sp.Steps, ",", ", ")
		}
		cv.Matches = append(cv.Matches, m)
	}
	cv.Title, cv.Approve, cv.Reject = "Held message", "Approve", "Reject"
	switch h.Kind {
	case moderation.KindReport:
		cv.Title, cv.Approve, cv.Reject = "Report", "Dismiss", "Remove the message"
		if h.MessageID == "" {
			cv.Title, cv.Reject = "Report of a user", ""
		}
	case moderation.KindConsequence:
		cv.Title, cv.Approve, cv.Reject = consequenceTitle(h.Consequence), "Try again", "Cancel"
	}
	switch h.State {
	case moderation.HeldWaiting:
		cv.StateText, cv.Open = "Waiting for a moderator", !cv.Expired
		if cv.Expired {
			cv.StateText = "Expired: the deadline passed with no decision"
		}
	case moderation.HeldDeciding:
		cv.StateText = fmt.Sprintf("Deciding: %s by %s, being carried out", h.Decision, h.DecidedBy)
		if h.LastError != "" {
			cv.StateText += fmt.Sprintf(" (try %d failed: %s; trying again)", h.Attempts, h.LastError)
			cv.Open = !cv.Expired // a moderator may change their mind between tries
		}
		cv.Following, cv.FollowIn = true, time.Second
		if h.LastError != "" {
			cv.FollowIn = 5 * time.Second
		}
	case moderation.HeldDone:
		cv.StateText = fmt.Sprintf("Done: %s by %s", pastOf(h), h.DecidedBy)
	case moderation.HeldFailed:
		cv.StateText = fmt.Sprintf("Failed: %s by %s did not reach Stream: %s", h.Decision, h.DecidedBy, h.LastError)
		cv.Open = !cv.Expired
	case moderation.HeldExpired:
		cv.StateText = "Expired: the deadline passed with no decision"
	}
	if cv.Following {
		q := url.Values{"return": {o.back}}
		if o.full {
			q.Set("full", "1")
		}
		cv.FollowURL = cv.URL + "/card?" + q.Encode()
	}
	return cv
}

// pastOf says what the decision about h did, in the words of its kind.
func pastOf(h *moderation.Held) string {
	switch {
	case h.Kind == moderation.KindReport && h.Decision == moderation.Approve:
		return "dismissed"
	case h.Kind == moderation.KindReport && h.MessageID != "":
		return "message removed"
	case h.Kind == moderation.KindReport:
		return "closed"
	case h.Kind == moderation.KindConsequence && h.Decision == moderation.Approve:
		return "carried out"
	case h.Kind == moderation.KindConsequence:
		return "cancelled"
	case h.Decision == moderation.Approve:
		return "approved"
	}
	return "rejected"
}

// consequenceTitle says what a consequence does: "Ban for 15 minutes".
func consequenceTitle(c *moderation.Consequence) string {
	if c == nil {
		return "Consequence"
	}
	what := map[string]string{rules.DoBan: "Ban", rules.DoShadowBan: "Shadow ban", rules.DoTimeout: "Timeout in the channel",
		rules.DoFlag: "Flag in Stream", moderation.DoTell: "Telling the sender", moderation.DoLift: "Lifting a " +
			strings.ReplaceAll(c.LiftsDo, "_", " ")}[c.Do]
	if what == "" {
		what = c.Do
	}
	switch {
	case c.Minutes > 0:
		what += " for " + rules.HumanDuration(time.Duration(c.Minutes)*time.Minute)
	case c.Do == rules.DoBan || c.Do == rules.DoShadowBan:
		what += " until lifted"
	}
	return what
}

// ago says a duration in words, roughly: "just now", "5 min", "3 h", "2 d".
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "under a minute"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	}
	return fmt.Sprintf("%d d", int(d/(24*time.Hour)))
}

// ruleIDs are the ids of the rules in force, for the rule filter.
func (s *Server) ruleIDs() []string {
	set := s.cfg.Engine.Rules()
	ids := make([]string, 0, len(set.Rules))
	for _, r := range set.Rules {
		ids = append(ids, r.ID)
	}
	return ids
}
