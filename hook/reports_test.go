package hook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/modgate/modgate/moderation"
)

// Stream-native intake, end to end: /report through the custom command
// hook, and flags and deletions through the push webhook.

// command delivers a custom command as Stream does (signed, with the
// command's name in the URL) and returns the status and the answer's
// message.
func (r *rig) command(name, body string) (int, map[string]any) {
	r.t.Helper()
	req := signed([]byte(body), testKey, testSecret)
	req.URL.Path, req.URL.RawQuery = "/hooks/commands", "type="+name
	rec := r.do(req)
	var answer struct {
		Message map[string]any `json:"message"`
	}
	if rec.Code == 200 {
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			r.t.Fatalf("command answer: %s", rec.Body)
		}
	}
	return rec.Code, answer.Message
}

// reportBody is a /report by reporter that quotes message m1 of author.
func reportBody(reporter, args string, quote bool) string {
	msg := map[string]any{"id": "", "text": "/report " + args, "command": "report", "args": args, "type": "regular",
		"attachments": []any{}, "custom_field": map[string]bool{"kept": true}}
	if quote {
		msg["quoted_message_id"] = "m1"
		msg["quoted_message"] = map[string]any{"id": "m1", "text": "buy cheap pills", "user": map[string]string{"id": "author"}}
	}
	b, _ := json.Marshal(map[string]any{"message": msg, "user": map[string]string{"id": reporter, "role": "user"},
		"channel": map[string]string{"cid": "messaging:general"}, "form_data": map[string]any{}})
	return string(b)
}

func TestReportCommand(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r := newRig(t, store, 0)
		code, answer := r.command("report", reportBody("u2", "spam", true))
		if code != 200 || answer["type"] != "ephemeral" || answer["text"] != "Thank you: your report was sent to the moderators." ||
			answer["command"] != "report" || answer["custom_field"] == nil {
			t.Fatalf("the answer: %d %v", code, answer)
		}
		items := r.items("?kind=report")
		if len(items) != 1 {
			t.Fatalf("items %+v", items)
		}
		h := items[0]
		if h.Kind != moderation.KindReport || h.MessageID != "m1" || h.UserID != "author" || h.Text != "buy cheap pills" ||
			h.ChannelCID != "messaging:general" || h.Report.Count != 1 || h.Report.Reporters[0].UserID != "u2" ||
			h.Report.Reporters[0].Reason != "spam" || h.Report.Reporters[0].Source != moderation.ReportCommand {
			t.Fatalf("the item %+v %+v", h, h.Report)
		}
		// Three reporters of one message: one item, three reporters; a
		// reporter again is told so, and not counted twice.
		r.command("report", reportBody("u3", "", true))
		r.command("report", reportBody("u4", "scam link", true))
		if _, answer := r.command("report", reportBody("u2", "spam again", true)); answer["text"] != "You reported this already: the moderators have it." {
			t.Fatalf("a second report: %v", answer)
		}
		items = r.items("")
		if len(items) != 1 || items[0].Report.Count != 3 || len(items[0].Report.Reporters) != 3 {
			t.Fatalf("three reports: %+v", items)
		}
		var who []string
		for _, rep := range items[0].Report.Reporters {
			who = append(who, rep.UserID)
		}
		if !slices.Equal(who, []string{"u2", "u3", "u4"}) {
			t.Fatalf("reporters %v", who)
		}
		if got := r.auditOf(h.ID); !slices.Equal(got, []string{"reported by stream", "reported_again by stream", "reported_again by stream"}) {
			t.Fatalf("audit %v", got)
		}
		if !strings.Contains(r.metrics(), `modgate_reports_total{source="command"} 3`) {
			t.Error("reports not counted")
		}
		// A moderator removes it: Stream deletes the message softly.
		r.stream.put("m1", storedMessage{text: "buy cheap pills", userID: "author"})
		if code, body := r.admin(context.Background(), "POST", "/admin/queue/"+h.ID+"/reject", ""); code != 200 {
			t.Fatalf("reject: %d %s", code, body)
		}
		if _, ok := r.stream.message("m1"); ok || r.stream.count("DELETE /messages/m1") != 1 {
			t.Fatalf("the message was not removed: %v", r.stream.got())
		}
	})
}

func TestReportCommandRefusals(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r := newRig(t, store, 0)
		r.stream.put("m9", storedMessage{text: "stored text", userID: "carol"})
		reply := func(name, body string) (string, string) {
			code, answer := r.command(name, body)
			if code != 200 {
				t.Fatalf("%s: %d", body, code)
			}
			s, _ := answer["text"].(string)
			return answer["type"].(string), s
		}
		parent := strings.Replace(reportBody("u2", "rude", false), `"type":"regular"`, `"type":"regular","parent_id":"m9"`, 1)
		gone := strings.Replace(reportBody("u2", "@erin rude", false), `"type":"regular"`, `"type":"regular","parent_id":"m-gone"`, 1)
		for _, tc := range []struct {
			name, command, body, typ, text string
		}{
			{"nothing named", "report", reportBody("u2", "just because", false), "error", "To report a message"},
			{"one's own message", "report", reportBody("author", "me", true), "error", "You cannot report your own messages."},
			{"no reporter", "report", strings.Replace(reportBody("", "x", true), `"id":""`, `"id":null`, 1), "error", "it does not say who sent it"},
			{"a command modgate does not know", "ticket", reportBody("u2", "x", true), "error", "modgate does not know this command."},
			{"a user named", "report", reportBody("u2", "@dave keeps spamming", false), "ephemeral", "Thank you"},
			{"a reply, read from Stream", "report", parent, "ephemeral", "Thank you"},
			{"a reply Stream does not have, its author named", "report", gone, "ephemeral", "Thank you"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				typ, text := reply(tc.command, tc.body)
				if typ != tc.typ || !strings.Contains(text, tc.text) {
					t.Fatalf("%s %q", typ, text)
				}
			})
		}
		byUser := r.items("?user=dave")
		if len(byUser) != 1 || byUser[0].MessageID != "" || byUser[0].Report.Reporters[0].Reason != "keeps spamming" {
			t.Fatalf("a report of a user: %+v", byUser)
		}
		if byName := r.items("?user=erin"); len(byName) != 1 || byName[0].MessageID != "m-gone" || byName[0].Text != "" {
			t.Fatalf("a report of a reply Stream does not have: %+v", byName)
		}
		byReply := r.items("?user=carol")
		if len(byReply) != 1 || byReply[0].MessageID != "m9" || byReply[0].Text != "stored text" {
			t.Fatalf("a report of a reply: %+v", byReply)
		}
		// Signed like every hook; a body that is no command payload is a 400.
		for _, tc := range []struct {
			name, body, secret string
			code               int
		}{
			{"a bad signature", reportBody("u2", "x", true), "wrong-secret", 401},
			{"not JSON", `{"message":`, testSecret, 400},
			{"no message", `{"user":{"id":"u2"}}`, testSecret, 400},
		} {
			req := signed([]byte(tc.body), testKey, tc.secret)
			req.URL.Path = "/hooks/commands"
			if rec := r.do(req); rec.Code != tc.code {
				t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
			}
		}
		if items := r.items("?kind=report"); len(items) != 3 {
			t.Fatalf("refused commands queued something: %+v", items)
		}
	})
}

// event delivers a push event as Stream does, with a webhook id.
func (r *rig) event(id, body string) (int, string) {
	r.t.Helper()
	req := signed([]byte(body), testKey, testSecret)
	req.URL.Path = "/hooks/events"
	req.Header.Set("X-Webhook-Id", id)
	rec := r.do(req)
	return rec.Code, rec.Body.String()
}

func TestPushEvents(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r := newRig(t, store, 0)
		flagged := `{"type":"message.flagged","cid":"messaging:general","message":{"id":"m1","text":"buy cheap pills","user":{"id":"author"}},` +
			`"user":{"id":"u7"},"total_flags":1,"created_at":"2026-11-30T10:00:00Z"}`
		for _, tc := range []struct{ id, body, want string }{
			{"ev-1", flagged, `"reported"`},
			{"ev-1", flagged, `"duplicate"`},                                               // Stream's retry
			{"ev-2", strings.Replace(flagged, `"user":{"id":"u7"},`, ``, 1), `"reported"`}, // Stream's own moderation
			{"ev-3", `{"type":"user.flagged","user":{"id":"u7"},"target_user":{"id":"troll"},"reason":"harassment"}`, `"reported"`},
			{"ev-4", `{"type":"message.new","message":{"id":"m2","text":"hi"}}`, `"ignored"`},
		} {
			if code, body := r.event(tc.id, tc.body); code != 200 || !strings.Contains(body, tc.want) {
				t.Fatalf("%s: %d %s, want %s", tc.id, code, body, tc.want)
			}
		}
		// The /report of the same message joins the same item.
		r.command("report", reportBody("u2", "spam", true))
		items := r.items("?kind=report&user=author")
		if len(items) != 1 || items[0].Report.Count != 3 {
			t.Fatalf("reports of m1: %+v", items)
		}
		var who []string
		for _, rep := range items[0].Report.Reporters {
			who = append(who, rep.UserID+"/"+rep.Source)
		}
		if !slices.Equal(who, []string{"u7/stream", "stream/stream", "u2/command"}) {
			t.Fatalf("reporters %v", who)
		}
		if troll := r.items("?user=troll"); len(troll) != 1 || troll[0].Report.Reporters[0].Reason != "harassment" {
			t.Fatalf("user.flagged: %+v", troll)
		}
		// Deleted in Stream: the report leaves the queue.
		if code, body := r.event("ev-5", `{"type":"message.deleted","message":{"id":"m1"}}`); code != 200 || !strings.Contains(body, `"removed"`) {
			t.Fatalf("message.deleted: %d %s", code, body)
		}
		if items := r.items("?user=author"); len(items) != 0 {
			t.Fatalf("a deleted message stays: %+v", items)
		}
		if got := r.auditOf(reportOf("m1")); !slices.Contains(got, "deleted by stream") {
			t.Fatalf("audit %v", got)
		}
		for _, tc := range []struct {
			name string
			body string
			sign string
			code int
		}{
			{"bad signature", flagged, "wrong-secret", 401},
			{"not JSON", `{"type":`, testSecret, 400},
			{"no type", `{"message":{}}`, testSecret, 400},
		} {
			req := signed([]byte(tc.body), testKey, tc.sign)
			req.URL.Path = "/hooks/events"
			if rec := r.do(req); rec.Code != tc.code {
				t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
			}
		}
		m := r.metrics()
		for _, want := range []string{`modgate_hook_requests_total{hook="events",outcome="duplicate"} 1`,
			`modgate_hook_requests_total{hook="events",outcome="ignored"} 1`, `modgate_reports_total{source="stream"} 3`} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}

// reportOf is the queue id of the report of message id.
func reportOf(id string) string {
	return moderation.ReportID(moderation.ReportTarget{MessageID: id})
}

// flakyQueue fails its first Puts, as a Redis that is failing over does.
type flakyQueue struct {
	moderation.Queue
	mu    sync.Mutex
	fails int
}

func (q *flakyQueue) Put(ctx context.Context, h moderation.Held) (bool, error) {
	q.mu.Lock()
	fail := q.fails > 0
	q.fails--
	q.mu.Unlock()
	if fail {
		return false, fmt.Errorf("redis: connection reset: %w", moderation.ErrUnavailable)
	}
	return q.Queue.Put(ctx, h)
}

// TestAnEventTheQueueCannotTakeIsDeliveredAgain: a report the queue cannot
// keep is answered 503, so that Stream delivers the event again; that
// delivery is taken, and a third is a duplicate.
func TestAnEventTheQueueCannotTakeIsDeliveredAgain(t *testing.T) {
	t.Parallel()
	r := newRig(t, "memory", 0)
	r.reviews.Queue = &flakyQueue{Queue: r.queue, fails: 1}
	flagged := `{"type":"message.flagged","message":{"id":"m1","user":{"id":"author"}},"user":{"id":"u7"}}`
	for i, want := range []struct {
		code int
		body string
	}{{503, `"unavailable"`}, {200, `{"result":"reported"}`}, {200, `{"result":"duplicate"}`}} {
		if code, body := r.event("ev-1", flagged); code != want.code || !strings.Contains(body, want.body) {
			t.Fatalf("delivery %d: %d %s, want %d %s", i+1, code, body, want.code, want.body)
		}
	}
	if items := r.items(""); len(items) != 1 || items[0].Report.Count != 1 {
		t.Fatalf("items %+v", items)
	}
}

// TestReportsAreThrottled: a user who reports everything cannot fill the
// queue: past 30 reports an hour they are asked to wait.
func TestReportsAreThrottled(t *testing.T) {
	t.Parallel()
	r := newRig(t, "memory", 0)
	for i := range 30 {
		body := strings.ReplaceAll(reportBody("u2", "spam", true), `"m1"`, fmt.Sprintf(`"m%d"`, i))
		if _, answer := r.command("report", body); answer["type"] != "ephemeral" {
			t.Fatalf("report %d: %v", i, answer)
		}
	}
	_, answer := r.command("report", strings.ReplaceAll(reportBody("u2", "spam", true), `"m1"`, `"m99"`))
	if answer["type"] != "error" || !strings.Contains(answer["text"].(string), "please wait") {
		t.Fatalf("the 31st report: %v", answer)
	}
	if _, answer := r.command("report", strings.ReplaceAll(reportBody("u3", "spam", true), `"m1"`, `"m99"`)); answer["type"] != "ephemeral" {
		t.Fatalf("another reporter: %v", answer)
	}
	if n := len(r.items("?kind=report&limit=500")); n != 31 {
		t.Fatalf("%d items", n)
	}
}
