package hook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/hook"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
	"github.com/modgate/modgate/storage"
)

// End to end, against the fake Stream, on memory and on Redis: the ladder
// of examples/escalation.yaml, a ban tried until it lands, observe mode,
// lifting, and telling the sender of a rejected held message.

const escalationReply = `{"message":{"type":"error","text":"Please keep it clean: your message was not sent."}}`

// withRules puts a rules file in force, counted in state of the rig's
// store: memory, or the rig's Redis.
func withRules(t *testing.T, store, src string) func(*hook.Config) {
	return func(c *hook.Config) {
		set, err := rules.Parse("rules.yaml", []byte(src), nil)
		if err != nil {
			t.Fatal(err)
		}
		var state moderation.State = storage.NewMemory(storage.MemoryOptions{})
		if store == "redis" {
			state = testRedis(t, testRedisURL(t))
		}
		c.Engine = moderation.NewEngine(set, moderation.EngineOptions{State: state})
	}
}

// escalationRules is examples/escalation.yaml, in observe mode when asked.
func escalationRules(t *testing.T, observe bool) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "examples", "escalation.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	if observe {
		src = strings.Replace(src, "    action: reject\n", "    action: reject\n    mode: observe\n", 1)
	}
	return src
}

// auditWith returns the audit entries of an action, oldest first.
func (r *rig) auditWith(action string) []moderation.AuditEntry {
	r.t.Helper()
	code, body := r.admin(context.Background(), "GET", "/admin/audit?limit=500&action="+action, "")
	var page struct{ Entries []moderation.AuditEntry }
	if code != 200 || json.Unmarshal([]byte(body), &page) != nil {
		r.t.Fatalf("GET /admin/audit: %d %s", code, body)
	}
	slices.Reverse(page.Entries)
	return page.Entries
}

// profane sends n before-send messages of u1 with profanity, each a call
// of its own, and checks each answer.
func (r *rig) profane(from, n int, want string) {
	r.t.Helper()
	for i := from; i < from+n; i++ {
		if got := r.beforeSend(r.server, fmt.Sprint("wh-", i), `{"text":"what the fuck"}`); got != want {
			r.t.Fatalf("message %d: %s", i, got)
		}
	}
	r.reviews.Wait()
}

func TestEscalationEndToEnd(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r := newRig(t, store, 0, withRules(t, store, escalationRules(t, false)))
		r.profane(0, 3, escalationReply)
		// Stream delivering the third call again counts no strike and bans
		// nobody twice.
		if got := r.beforeSend(r.server, "wh-2", `{"text":"what the fuck"}`); got != escalationReply {
			t.Fatalf("retry: %s", got)
		}
		r.reviews.Wait()
		r.profane(3, 3, escalationReply)

		if n := r.stream.count("POST /moderation/ban"); n != 2 {
			t.Fatalf("%d bans at Stream: %v", n, r.stream.got())
		}
		var bans []map[string]any
		for _, b := range r.stream.sent("POST /moderation/ban") {
			var m map[string]any
			json.Unmarshal([]byte(b), &m)
			bans = append(bans, m)
		}
		if b := bans[0]; b["target_user_id"] != "u1" || b["timeout"] != 15.0 || b["shadow"] != nil ||
			b["reason"] != "Rule profanity: a third message refused within 10 minutes" {
			t.Fatalf("the ban: %v", b)
		}
		if b := bans[1]; b["target_user_id"] != "u1" || b["timeout"] != 1440.0 || b["shadow"] != true ||
			b["reason"] != "Rule profanity: a fifth message refused within an hour" {
			t.Fatalf("the shadow ban: %v", b)
		}
		if b, ok := r.stream.ban("u1", ""); !ok || !b.Shadow || b.Timeout != 1440 {
			t.Fatalf("Stream holds %+v", b)
		}
		for _, tc := range []struct{ action, reason string }{
			{moderation.AuditBanned, "Rule profanity: a third message refused within 10 minutes; 3 strikes within 10 minutes; for 15 minutes"},
			{moderation.AuditShadowBanned, "Rule profanity: a fifth message refused within an hour; 5 strikes within 1 hour; for 1 day"},
		} {
			entries := r.auditWith(tc.action)
			if len(entries) != 1 {
				t.Fatalf("%s: %d entries", tc.action, len(entries))
			}
			e := entries[0]
			if e.UserID != "u1" || !slices.Equal(e.Rules, []string{"profanity"}) || e.Reason != tc.reason || e.Actor != "modgate" ||
				e.Kind != moderation.KindConsequence || e.Strikes == 0 {
				t.Fatalf("%s: %+v", tc.action, e)
			}
		}
		m := r.metrics()
		for _, want := range []string{`modgate_consequences_total{action="ban"} 1`, `modgate_consequences_total{action="shadow_ban"} 1`,
			`modgate_consequences_total{action="would_ban"} 0`} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		if items := r.items(""); len(items) != 0 {
			t.Fatalf("consequences carried out stay listed: %+v", items)
		}
	})
}

// TestABanIsTriedUntilItLands: Stream fails the ban (503, every attempt of
// the client's); the item waits and a later pass tries again, until the
// ban lands, once.
func TestABanIsTriedUntilItLands(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r := newRig(t, store, 0, withRules(t, store, escalationRules(t, false)))
		r.profane(0, 2, escalationReply)
		r.stream.fail(slices.Repeat([]string{down503}, 8)...) // the first try's five attempts, three of the second's
		r.profane(2, 1, escalationReply)
		items := r.items("?kind=consequence")
		if len(items) != 1 || items[0].State != moderation.HeldDeciding || items[0].LastError == "" || items[0].Consequence.Do != rules.DoBan {
			t.Fatalf("after a failed try: %+v", items)
		}
		if _, ok := r.stream.ban("u1", ""); ok {
			t.Fatal("banned though Stream failed")
		}
		r.clock.add(time.Minute) // past the backoff, within the ban's 15 minutes
		if n, err := r.reviews.Pass(context.Background()); n != 1 || err != nil {
			t.Fatalf("pass: %d %v", n, err)
		}
		r.reviews.Wait()
		b, ok := r.stream.ban("u1", "")
		if !ok || b.Timeout != 14 {
			// One minute of the 15 went by: the ban ends when it was meant to.
			t.Fatalf("Stream holds %+v, %v", b, ok)
		}
		if n := r.stream.count("POST /moderation/ban"); n != 9 {
			t.Fatalf("%d calls: 8 failed, 1 landed", n)
		}
		h := r.item(items[0].ID)
		if h.State != moderation.HeldDone || h.Attempts != 2 {
			t.Fatalf("item %+v", h)
		}
		if got := r.auditOf(h.ID); !slices.Equal(got, []string{"failed by modgate", "banned by modgate"}) {
			t.Fatalf("audit %v", got)
		}
		// Passes after it landed call Stream no more.
		r.clock.add(time.Minute)
		r.reviews.Pass(context.Background())
		if n := r.stream.count("POST /moderation/ban"); n != 9 {
			t.Fatalf("%d calls after the ban landed", n)
		}
	})
}

func TestObserveModeBansNobody(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r := newRig(t, store, 0, withRules(t, store, escalationRules(t, true)))
		r.profane(0, 6, `{"message":{"text":"what the fuck"}}`)
		for _, call := range r.stream.got() {
			if strings.Contains(call, "/moderation/") {
				t.Fatalf("observe mode called Stream: %v", r.stream.got())
			}
		}
		m := r.metrics()
		for _, want := range []string{`modgate_consequences_total{action="would_ban"} 1`, `modgate_consequences_total{action="would_shadow_ban"} 1`,
			`modgate_consequences_total{action="ban"} 0`, `modgate_rule_decisions_total{action="would_reject",rule="profanity"} 6`} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		if e := r.auditWith("would_ban"); len(e) != 1 || e[0].Strikes != 3 || e[0].UserID != "u1" {
			t.Fatalf("would_ban in the audit log: %+v", e)
		}
		if e := r.auditWith("would_shadow_ban"); len(e) != 1 || e[0].Strikes != 5 {
			t.Fatalf("would_shadow_ban in the audit log: %+v", e)
		}
		if items := r.items(""); len(items) != 0 {
			t.Fatalf("observe mode queued %+v", items)
		}
	})
}

func TestLiftingABanThroughTheAdminAPI(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r := newRig(t, store, 0, withRules(t, store, escalationRules(t, false)))
		r.profane(0, 3, escalationReply)
		banned := r.auditWith(moderation.AuditBanned)
		if len(banned) != 1 {
			t.Fatalf("banned %+v", banned)
		}
		body := `{"of":"` + banned[0].ItemID + `","reason":"appeal granted"}`
		req := func(token string) (int, string) {
			return r.adminAs(token, "POST", "/admin/users/u1/lift", body)
		}
		if code, got := req(readToken); code != 403 {
			t.Fatalf("a read token lifts: %d %s", code, got)
		}
		code, got := req(modToken)
		if code != 200 || !strings.Contains(got, `"result":"lifted"`) {
			t.Fatalf("lift: %d %s", code, got)
		}
		if _, ok := r.stream.ban("u1", ""); ok {
			t.Fatal("still banned at Stream")
		}
		if code, _ := req(modToken); code != 200 || r.stream.count("DELETE /moderation/ban") != 1 {
			t.Fatalf("a second lift: %d, calls %v", code, r.stream.got())
		}
		lifted := r.auditWith(moderation.AuditLifted)
		if len(lifted) != 1 || lifted[0].Actor != "ann" || !strings.Contains(lifted[0].Reason, "appeal granted") {
			t.Fatalf("audit %+v", lifted)
		}
		for _, tc := range []struct{ body, code string }{
			{`{"do":"flag"}`, "invalid"},
			{`{"do":"timeout"}`, "invalid"},
			{`{"do":"ban","extra":1}`, "invalid"},
		} {
			if code, got := r.adminAs(modToken, "POST", "/admin/users/u1/lift", tc.body); code != 400 || !strings.Contains(got, tc.code) {
				t.Errorf("%s: %d %s", tc.body, code, got)
			}
		}
		// The sender's strikes, as moderators read them.
		code, got = r.adminAs(readToken, "GET", "/admin/users/u1/strikes", "")
		if code != 200 || !strings.Contains(got, `{"within":"1h","count":3}`) {
			t.Fatalf("strikes: %d %s", code, got)
		}
	})
}

// adminAs calls the admin API with a token.
func (r *rig) adminAs(token, method, path, body string) (int, string) {
	r.t.Helper()
	req := httpRequest(method, path, body)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := r.do(req)
	return rec.Code, rec.Body.String()
}

const tellRules = `
version: 1
settings: {hold_reply: "Waiting for a moderator."}
rules:
  - id: review
    when: {text: {contains: [reviewme]}}
    action: hold
    rejected_reply: "A moderator did not let your message through, {{user.name}}."
`

// TestARejectedHoldTellsItsSender: a moderator rejects a held message; its
// sender is told, once, by a system message only they see, which passes
// modgate's own hook.
func TestARejectedHoldTellsItsSender(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r := newRig(t, store, 0, withRules(t, store, tellRules))
		r.beforeSend(r.server, "wh-1", `{"text":"reviewme"}`)
		id := r.heldID()
		if h := r.item(id); h.Notice != "A moderator did not let your message through, Ann." {
			t.Fatalf("notice %q", h.Notice)
		}
		if code, body := r.admin(context.Background(), "POST", "/admin/queue/"+id+"/reject", `{"reason":"spam"}`); code != 200 {
			t.Fatalf("reject: %d %s", code, body)
		}
		r.reviews.Wait()
		sent := r.stream.sent("POST /channels/messaging/general/message")
		if len(sent) != 1 {
			t.Fatalf("sent %v", sent)
		}
		var b struct {
			Message map[string]any `json:"message"`
		}
		json.Unmarshal([]byte(sent[0]), &b)
		m := b.Message
		if m["type"] != "system" || m["user_id"] != "modgate" || m["text"] != "A moderator did not let your message through, Ann." ||
			fmt.Sprint(m["restricted_visibility"]) != "[u1]" {
			t.Fatalf("the message: %v", m)
		}
		stored, ok := r.stream.message(m["id"].(string))
		if !ok || stored.text != m["text"] {
			t.Fatalf("the hook refused modgate's own message: %+v %v", stored, ok)
		}
		if got := r.auditWith(moderation.AuditTold); len(got) != 1 || got[0].UserID != "u1" {
			t.Fatalf("audit %+v", got)
		}
	})
}

func httpRequest(method, path, body string) *http.Request {
	return httptest.NewRequest(method, path, strings.NewReader(body))
}

const flagConsequenceRules = `
version: 1
rules:
  - id: spam
    when: {text: {contains: [spamword]}}
    action: reject
    consequences:
      - do: flag
      - do: timeout
        for: 30m
        reason: "spam in {{rule.id}}"
  - id: watch
    when: {text: {contains: [watchword]}}
    action: flag
    consequences:
      - do: flag
`

// TestFlagsAndTimeouts: a flag names the message when Stream stores it
// (waiting a moment for one just let through), else the sender; a timeout
// bans from the message's channel only.
func TestFlagsAndTimeouts(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r := newRig(t, store, 0, withRules(t, store, flagConsequenceRules))
		// Refused: never stored, so the sender is flagged; and timed out
		// in the channel.
		r.beforeSend(r.server, "wh-1", `{"text":"spamword"}`)
		r.reviews.Wait()
		if got := r.stream.flagged(); !slices.Equal(got, []string{"user u1"}) {
			t.Fatalf("flags %v", got)
		}
		if b, ok := r.stream.ban("u1", "messaging:general"); !ok || b.Timeout != 30 || b.Type != "messaging" || b.ID != "general" {
			t.Fatalf("timeout %+v %v", b, ok)
		}
		if _, ok := r.stream.ban("u1", ""); ok {
			t.Fatal("a timeout banned from the app")
		}
		// Let through with an id its client chose: Stream stores it after
		// the answer; the flag waits for it.
		r.beforeSend(r.server, "wh-2", `{"id":"c-1","text":"watchword"}`)
		r.reviews.Wait()
		if got := r.stream.flagged(); len(got) != 1 {
			t.Fatalf("flagged before the message was stored: %v", got)
		}
		r.stream.put("c-1", storedMessage{text: "watchword", userID: "u1"})
		r.clock.add(30 * time.Second)
		r.reviews.Pass(context.Background())
		if got := r.stream.flagged(); !slices.Equal(got, []string{"user u1", "message c-1"}) {
			t.Fatalf("flags %v", got)
		}
		// One that never comes: after a minute, its sender is flagged.
		r.beforeSend(r.server, "wh-3", `{"id":"c-2","text":"watchword from u1 again"}`)
		r.reviews.Wait()
		r.clock.add(2 * time.Minute)
		r.reviews.Pass(context.Background())
		// Calls: the refused message's sender; c-1 not stored, then
		// stored; c-2 not stored, then still not: its sender, flagged
		// already (Stream's "already" is done).
		if got := r.stream.flagged(); len(got) != 2 || r.stream.count("POST /moderation/flag") != 6 {
			t.Fatalf("flags %v, calls %v", got, r.stream.got())
		}
		if items := r.items("?kind=consequence"); len(items) != 0 {
			t.Fatalf("flags left open: %+v", items)
		}
	})
}
