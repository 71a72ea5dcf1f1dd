package hook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// The console's other pages: the audit log, the rules in force, and trying
// a message against them.

// auditActions are the choices of the audit log's action filter.
var auditActions = []struct{ Value, Label string }{
	{"", "Any action"},
	{moderation.AuditHeld, "Held"},
	{moderation.AuditApproved, "Approved"},
	{moderation.AuditRejected, "Rejected"},
	{moderation.AuditFailed, "Failed to reach Stream"},
	{moderation.AuditExpired, "Expired"},
	{moderation.AuditDeleted, "Deleted by the sender or Stream"},
	{moderation.AuditReported, "Reported"},
	{moderation.AuditReportedAgain, "Reported again"},
	{moderation.AuditBanned, "Banned"},
	{moderation.AuditShadowBanned, "Shadow-banned"},
	{moderation.AuditTimedOut, "Timed out"},
	{moderation.AuditFlagged, "Flagged in Stream"},
	{moderation.AuditLifted, "Ban lifted"},
	{moderation.AuditTold, "Sender told of a rejection"},
	{"would_ban", "Would ban (observe mode)"},
	{moderation.AuditReloaded, "Rules reloaded"},
	{moderation.AuditUnchanged, "Rules unchanged"},
	{moderation.AuditRefused, "Rules refused"},
}

// auditSince are the choices of the audit log's time filter.
var auditSince = []struct {
	Value, Label string
	d            time.Duration
}{
	{"", "at any time", 0},
	{"1h", "in the last hour", time.Hour},
	{"24h", "in the last 24 hours", 24 * time.Hour},
	{"7d", "in the last 7 days", 7 * 24 * time.Hour},
}

type auditFilter struct {
	Actor, Action, User, Channel, Since string
}

// auditRow is one entry of the audit log as the console shows it.
type auditRow struct {
	moderation.AuditEntry
	When      string // UTC
	Ago       string
	What      string
	ItemURL   string
	SenderURL string
}

type auditView struct {
	Filter  auditFilter
	Actions any
	Since   any
	Rows    []auditRow
	Older   string
	Newest  string
}

func (s *Server) consoleAudit(c echo.Context) error {
	r, err := s.reviews()
	if err != nil {
		return err
	}
	form := auditFilter{Actor: strings.TrimSpace(c.QueryParam("actor")), Action: c.QueryParam("action"),
		User: strings.TrimSpace(c.QueryParam("user")), Channel: strings.TrimSpace(c.QueryParam("channel")), Since: c.QueryParam("since")}
	f := moderation.AuditFilter{Actor: form.Actor, Action: form.Action, UserID: form.User, ChannelCID: form.Channel,
		Cursor: c.QueryParam("cursor"), Limit: 50}
	known := false
	for _, a := range auditSince {
		if a.Value == form.Since {
			known = true
			if a.d > 0 {
				f.Since = s.consoleNow().Add(-a.d)
			}
		}
	}
	if !known {
		return badRequest.err("since: not one of the choices")
	}
	p := auditView{Filter: form, Actions: auditActions, Since: auditSince}
	if r.Audit != nil {
		entries, next, err := r.Audit.List(c.Request().Context(), f)
		if err != nil {
			return err
		}
		p.Rows = s.auditRows(entries)
		q := url.Values{}
		for k, v := range map[string]string{"actor": form.Actor, "action": form.Action, "user": form.User, "channel": form.Channel,
			"since": form.Since} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if f.Cursor != "" {
			p.Newest = "/console/audit?" + q.Encode()
		}
		if next != "" {
			q.Set("cursor", next)
			p.Older = "/console/audit?" + q.Encode()
		}
	}
	return s.render(c, http.StatusOK, "audit", view{Title: "Audit log", Nav: "audit", Page: p})
}

var auditWords = map[string]string{
	moderation.AuditHeld: "held", moderation.AuditApproved: "approved", moderation.AuditRejected: "rejected",
	moderation.AuditFailed: "failed to reach Stream", moderation.AuditExpired: "expired", moderation.AuditDeleted: "deleted",
	moderation.AuditReloaded: "reloaded the rules", moderation.AuditUnchanged: "found the rules unchanged",
	moderation.AuditRefused:  "refused a rules file",
	moderation.AuditReported: "reported", moderation.AuditReportedAgain: "reported again", moderation.AuditBanned: "banned",
	moderation.AuditShadowBanned: "shadow-banned", moderation.AuditTimedOut: "timed out in the channel",
	moderation.AuditFlagged: "flagged in Stream", moderation.AuditLifted: "lifted a ban", moderation.AuditTold: "told the sender",
	"would_ban": "would ban", "would_shadow_ban": "would shadow-ban", "would_timeout": "would time out", "would_flag": "would flag",
}

// kindWords say what a decision did to a report or a consequence.
var kindWords = map[moderation.ItemKind]map[string]string{
	moderation.KindReport:      {moderation.AuditApproved: "dismissed a report", moderation.AuditRejected: "removed a reported message"},
	moderation.KindConsequence: {moderation.AuditRejected: "cancelled a consequence"},
}

func (s *Server) auditRows(entries []moderation.AuditEntry) []auditRow {
	now := s.consoleNow()
	rows := make([]auditRow, 0, len(entries))
	for _, e := range entries {
		row := auditRow{AuditEntry: e, When: e.At.UTC().Format("2006-01-02 15:04:05 UTC"), Ago: ago(now.Sub(e.At)), What: e.Action}
		if w, ok := auditWords[e.Action]; ok {
			row.What = w
		}
		if w, ok := kindWords[e.Kind][e.Action]; ok {
			row.What = w
		}
		if e.Strikes > 0 {
			row.What += fmt.Sprintf(" (%d strikes)", e.Strikes)
		}
		if e.ItemID != "" {
			row.ItemURL = "/console/items/" + url.PathEscape(e.ItemID)
		}
		if e.UserID != "" {
			row.SenderURL = "/console/sender?" + url.Values{"user": {e.UserID}}.Encode()
		}
		rows = append(rows, row)
	}
	return rows
}

// rulesView is the data of the rules page.
type rulesView struct {
	Version   string
	Source    string
	LoadedAt  string
	Status    *moderation.ReloadStatus
	LastError string
	Rules     []ruleRow
	Gone      []ruleRow // rules that fired since the start and are no longer in force
}

type ruleRow struct {
	ID, Description, Action, Mode, Limit string
	Counts                               []ruleCount
}

func (s *Server) consoleRules(c echo.Context) error {
	set := s.cfg.Engine.Rules()
	p := rulesView{Version: set.Version, Source: set.Source}
	if s.cfg.Rules != nil {
		st := s.cfg.Rules.Status()
		p.Status, p.LastError = &st, st.LastError
		p.LoadedAt = st.LoadedAt.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	counts := s.metrics.decisions.byRule()
	for _, r := range set.Rules {
		row := ruleRow{ID: r.ID, Description: r.Description, Action: r.Action.String(), Mode: "enforce", Counts: counts[r.ID]}
		if r.Mode == rules.ModeObserve {
			row.Mode = "observe"
		}
		if r.Limit != nil {
			row.Limit = fmt.Sprintf("past %d per %s by %s", r.Limit.Count, r.Limit.Per, strings.Join(r.Limit.By, ", "))
		}
		delete(counts, r.ID)
		p.Rules = append(p.Rules, row)
	}
	for id, cs := range counts {
		p.Gone = append(p.Gone, ruleRow{ID: id, Counts: cs})
	}
	slices.SortFunc(p.Gone, func(a, b ruleRow) int { return strings.Compare(a.ID, b.ID) })
	return s.render(c, http.StatusOK, "rules", view{Title: "Rules", Nav: "rules", Page: p})
}

// tryForm is the form of the try page.
type tryForm struct {
	Text, Role, AccountAge, Channel, Hook string
}

// tryView is the data of the try page.
type tryView struct {
	Form     tryForm
	Error    string
	Done     bool
	Verdict  string
	Reply    string
	NewText  string
	Changed  bool
	Segments []segment
	Rules    []tryRule
	Version  string
}

type tryRule struct {
	moderation.RuleResult
	ActionText string
	Status     string
	Limit      string
	Matches    []matchView
}

func (s *Server) consoleTryPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "try", view{Title: "Try a message", Nav: "try",
		Page: tryView{Form: tryForm{Role: "user", Channel: "messaging:general", Hook: moderation.HookBeforeSend}}})
}

// consoleTry runs a message through the rules in force, as a dry run:
// limits are shown, never counted, and nothing is held or changed.
func (s *Server) consoleTry(c echo.Context) error {
	f := tryForm{Text: formValue(c, "text"), Role: strings.TrimSpace(formValue(c, "role")),
		AccountAge: strings.TrimSpace(formValue(c, "account_age")), Channel: strings.TrimSpace(formValue(c, "channel")),
		Hook: formValue(c, "hook")}
	p := tryView{Form: f}
	msg, err := s.tryMessage(f)
	if err != nil {
		p.Error = err.Error()
		return s.render(c, http.StatusBadRequest, "try", view{Title: "Try a message", Nav: "try", Page: p})
	}
	v, results := s.cfg.Engine.Explain(&msg)
	p.Done, p.Version, p.Reply = true, v.RulesVersion, v.Reply
	p.Verdict = verdictWords(&v)
	if v.TextChanged && !v.Refused() {
		p.NewText, p.Changed = v.Text, true
	}
	var spans []moderation.Span
	for _, res := range results {
		tr := tryRule{RuleResult: res, ActionText: res.Action.String(), Status: tryStatus(&res)}
		if res.Observed {
			tr.ActionText = "would " + tr.ActionText + " (observe)"
		}
		if res.Limit != nil {
			tr.Limit = fmt.Sprintf("acts only past %d per %s by %s, which a try does not count", res.Limit.Count, res.Limit.Per,
				strings.Join(res.Limit.By, ", "))
		}
		for _, m := range res.Matches {
			sp := moderation.Span{Rule: res.RuleID, Start: m.Start, End: m.End, Term: m.Term, List: m.List, Folded: m.Folded,
				Steps: m.Steps.String()}
			mv := matchView{Span: sp, Original: m.Original}
			if m.Steps != 0 {
				mv.Disguised = strings.ReplaceAll(sp.Steps, ",", ", ")
			}
			tr.Matches = append(tr.Matches, mv)
			if res.Reached && res.Skipped == "" && res.Matched {
				spans = append(spans, sp)
			}
		}
		p.Rules = append(p.Rules, tr)
	}
	p.Segments = highlight(f.Text, spans)
	return s.render(c, http.StatusOK, "try", view{Title: "Try a message", Nav: "try", Page: p})
}

// tryMessage builds the message a try evaluates: the text, from a sender
// with the role and account age given, in the channel given.
func (s *Server) tryMessage(f tryForm) (moderation.Message, error) {
	if f.Text == "" {
		return moderation.Message{}, fmt.Errorf("write a message to try")
	}
	if len(f.Text) > 20_000 {
		return moderation.Message{}, fmt.Errorf("the message is longer than 20,000 bytes")
	}
	user := map[string]any{"id": "console-try"}
	if f.Role != "" {
		user["role"] = f.Role
	}
	if f.AccountAge != "" {
		d, err := rules.ParseDuration(f.AccountAge)
		if err != nil || d < 0 {
			return moderation.Message{}, fmt.Errorf("account age: a duration such as 30m, 2h or 7d")
		}
		user["created_at"] = s.consoleNow().Add(-d).UTC().Format(time.RFC3339)
	}
	channel := map[string]any{}
	if f.Channel != "" {
		typ, id, ok := strings.Cut(f.Channel, ":")
		if !ok || typ == "" || id == "" {
			return moderation.Message{}, fmt.Errorf("channel: type:id, such as messaging:general")
		}
		channel = map[string]any{"cid": f.Channel, "type": typ, "id": id}
	}
	hook := moderation.HookBeforeSend
	if f.Hook == moderation.HookPending {
		hook = moderation.HookPending
	}
	obj := map[string]any{"text": f.Text, "user": user}
	if f.Channel != "" {
		obj["cid"] = f.Channel
	}
	ob, _ := json.Marshal(obj)
	ub, _ := json.Marshal(user)
	cb, _ := json.Marshal(channel)
	return moderation.Message{Text: f.Text, Hook: hook, Object: ob, User: ub, Channel: cb}, nil
}

// verdictWords says what the rules would do with a message.
func verdictWords(v *moderation.Verdict) string {
	switch {
	case v.Action == rules.ActionReject:
		return "Rejected by rule " + v.RuleID
	case v.Action == rules.ActionHold:
		return "Held for a moderator by rule " + v.RuleID
	case v.Changed() && v.Action == rules.ActionMask:
		return "Let through, masked"
	case v.Changed() && v.Action == rules.ActionRewrite:
		return "Let through, rewritten"
	case v.Changed() && v.Action == rules.ActionFlag:
		return "Let through, flagged"
	}
	return "Let through unchanged"
}

// tryStatus says what one rule made of a tried message.
func tryStatus(r *moderation.RuleResult) string {
	switch {
	case !r.Reached:
		return "not reached: an earlier rule ended the check"
	case r.Skipped == "exempt":
		return "skipped: the sender is exempt"
	case r.Skipped == "inactive":
		return "skipped: not active now"
	case r.Skipped != "":
		return "skipped: " + r.Skipped
	case r.Matched && r.Observed:
		return "matched (observe mode: it would act)"
	case r.Matched:
		return "matched"
	}
	return "no match"
}
