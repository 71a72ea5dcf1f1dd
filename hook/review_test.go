package hook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modgate/modgate/hook"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
	"github.com/modgate/modgate/storage"
)

// End-to-end tests of the review flow: Stream's hooks and the admin API in
// front, the fake Stream behind, each against the memory and the Redis
// queue.

const (
	holdReply   = `{"message":{"type":"error","text":"Waiting for a moderator."}}`
	rejectReply = `{"message":{"type":"error","text":"Not sent."}}`
)

// failingState fails every count, as an unreachable Redis does.
type failingState struct{}

func (failingState) Count(context.Context, moderation.Claim, []byte, time.Time, time.Time, []moderation.Hit) (moderation.Replay, error) {
	return moderation.Replay{}, fmt.Errorf("redis: connection refused")
}
func (failingState) Remember(context.Context, moderation.Claim, []byte) error { return nil }

// TestAHoldTheQueueCannotKeep: a message the queue cannot keep (full, or
// its Redis down) is never answered with the hold reply: the rule's
// on_error decides (a hold rule that says nothing: reject), and the
// failure is counted and logged on a limiter of its own.
func TestAHoldTheQueueCannotKeep(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"memory", "redis", "unreachable"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, store, 1, func(c *hook.Config) {
				c.Engine = moderation.NewEngine(c.Engine.Rules(), moderation.EngineOptions{State: failingState{}})
			})
			reason := "error"
			if store != "unreachable" {
				reason = "full"
				if got := r.beforeSend(r.server, "wh-1", `{"text":"reviewme one"}`); got != holdReply {
					t.Fatalf("the first hold: %s", got)
				}
			}
			if got := r.beforeSend(r.server, "wh-2", `{"text":"reviewme two"}`); got != rejectReply {
				t.Fatalf("a hold the queue cannot keep: %s", got)
			}
			if got := r.beforeSend(r.server, "wh-3", `{"text":"reviewlight three"}`); got != `{"message":{"text":"reviewlight three"}}` {
				t.Fatalf("a hold whose rule says on_error: allow: %s", got)
			}
			if got := r.pending("wh-4", "p4", "reviewme four"); !strings.Contains(got, "rejecting") {
				t.Fatalf("a pending hold the queue cannot keep: %s", got)
			}
			if _, ok := r.stream.message("p4"); ok || r.stream.count("DELETE /messages/p4") != 1 {
				t.Fatalf("the pending message is not hard-deleted: %v", r.stream.got())
			}
			m := r.metrics()
			for _, want := range []string{
				`modgate_hold_failures_total{reason="` + reason + `"} 3`,
				`modgate_hook_requests_total{hook="before_send",outcome="reject"} 1`,
			} {
				if !strings.Contains(m, want) {
					t.Errorf("metrics lack %s", want)
				}
			}
			if store == "unreachable" {
				for _, path := range []string{"/admin/queue", "/admin/queue/p1"} {
					if code, body := r.admin(context.Background(), "GET", path, ""); code != 503 || !strings.Contains(body, `"unavailable"`) {
						t.Errorf("%s while the queue's Redis is down: %d %s", path, code, body)
					}
				}
			}
			// The state failure and the hold failure are both logged: they
			// do not share a limiter.
			logs := r.logs.String()
			if !strings.Contains(logs, "shared state failed") || !strings.Contains(logs, "a held message could not be queued") {
				t.Fatalf("logs:\n%s", logs)
			}
		})
	}
}

// TestADecisionOutlivesItsClient: Stream hangs, the moderator's client
// hangs up; the decision goes on, on its own; once its lease ran out one
// pass takes it over, and the message is decided exactly once.
func TestADecisionOutlivesItsClient(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r := newRig(t, store, 0)
		r.pending("wh-1", "p1", "reviewme")
		r.stream.fail(hang)
		ctx, hangUp := context.WithCancel(context.Background())
		answered := make(chan int)
		go func() {
			code, _ := r.admin(ctx, "POST", "/admin/queue/p1/approve", "")
			answered <- code
		}()
		<-r.stream.entered
		hangUp()
		if code := <-answered; code != 202 {
			t.Fatalf("answer to a client that hung up: %d", code)
		}
		if h := r.item("p1"); h.State != moderation.HeldDeciding || h.Decision != moderation.Approve || h.DecidedBy != "ann" {
			t.Fatalf("item while Stream hangs: %+v", h)
		}
		if code, body := r.admin(context.Background(), "POST", "/admin/queue/p1/reject", ""); code != 409 || !strings.Contains(body, "already_decided") {
			t.Fatalf("another decision meanwhile: %d %s", code, body)
		}
		r.clock.add(moderation.DefaultLease + time.Second)
		if n, err := r.reviews.Pass(context.Background()); n != 1 || err != nil {
			t.Fatalf("the pass after the lease: %d %v", n, err)
		}
		close(r.stream.release) // the first call ends now; its try has lost the lease
		r.reviews.Wait()
		if h := r.item("p1"); h.State != moderation.HeldDone || h.Attempts != 2 {
			t.Fatalf("item %+v", h)
		}
		if m, _ := r.stream.message("p1"); m.pending || r.stream.count("POST /messages/p1/commit") != 2 {
			t.Fatalf("Stream: %+v, calls %v", m, r.stream.got())
		}
		if got := fmt.Sprint(r.auditOf("p1")); got != "[held by modgate approved by ann]" {
			t.Fatalf("audit %s", got)
		}
	})
}

// TestTheAdminAPIAnswersInTime: 200 with the item done when Stream answers
// within the wait, else 202 with the item deciding, readable until done.
func TestTheAdminAPIAnswersInTime(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r := newRig(t, store, 0)
		r.pending("wh-1", "p1", "reviewme")
		r.pending("wh-2", "p2", "reviewme")
		code, body := r.admin(context.Background(), "POST", "/admin/queue/p1/approve", "")
		var answer struct {
			Result string
			Item   moderation.Held
		}
		if json.Unmarshal([]byte(body), &answer); code != 200 || answer.Result != "approved" || answer.Item.State != moderation.HeldDone {
			t.Fatalf("Stream in time: %d %s", code, body)
		}
		r.stream.fail(hang)
		answered := make(chan string)
		go func() {
			code, body := r.admin(context.Background(), "POST", "/admin/queue/p2/reject", `{"reason":"spam"}`)
			answered <- fmt.Sprint(code, " ", body)
		}()
		<-r.stream.entered
		r.after <- time.Now() // the wait is over
		got := <-answered
		if !strings.HasPrefix(got, "202 ") || !strings.Contains(got, `"result":"deciding"`) || !strings.Contains(got, `"state":"deciding"`) {
			t.Fatalf("Stream too slow: %s", got)
		}
		if h := r.item("p2"); h.State != moderation.HeldDeciding || h.Reason != "spam" {
			t.Fatalf("item while deciding: %+v", h)
		}
		close(r.stream.release)
		r.reviews.Wait()
		if h := r.item("p2"); h.State != moderation.HeldDone || h.Decision != moderation.Reject {
			t.Fatalf("item once Stream answered: %+v", h)
		}
		if h := r.item("p1"); h.State != moderation.HeldDone || h.DoneAt.IsZero() {
			t.Fatalf("a done item reads as done: %+v", h)
		}
		if items := r.items(""); len(items) != 0 {
			t.Fatalf("done items are listed: %v", items)
		}
	})
}

// TestStreamAppliedButDidNotConfirm: Stream applies a decision and answers
// 500; the try again finds it done ("not pending", "does not exist",
// "already exists", or the hook's "approval used"): done, in two calls.
func TestStreamAppliedButDidNotConfirm(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		for _, tc := range []struct {
			name      string
			hookFirst bool
			hold      func(r *rig) string
			decide    string
			call      string
		}{
			{"commit", false, func(r *rig) string { r.pending("wh-1", "p1", "reviewme"); return "p1" }, "approve", "POST /messages/p1/commit"},
			{"hard delete", false, func(r *rig) string { r.pending("wh-1", "p1", "reviewme"); return "p1" }, "reject", "DELETE /messages/p1"},
			{"send, id known first", false, func(r *rig) string {
				r.beforeSend(r.server, "wh-1", `{"text":"reviewme"}`)
				return r.heldID()
			}, "approve", "POST /channels/messaging/general/message"},
			{"send, the hook first", true, func(r *rig) string {
				r.beforeSend(r.server, "wh-1", `{"text":"reviewme"}`)
				return r.heldID()
			}, "approve", "POST /channels/messaging/general/message"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := newRig(t, store, 0)
				r.stream.hookFirst = tc.hookFirst
				id := tc.hold(r)
				r.stream.fail(apply500)
				code, body := r.admin(context.Background(), "POST", "/admin/queue/"+id+"/"+tc.decide, "")
				if code != 200 || !strings.Contains(body, `"state":"done"`) {
					t.Fatalf("%d %s", code, body)
				}
				if n := r.stream.count(tc.call); n != 2 || len(r.stream.got()) != 2 {
					t.Fatalf("calls %v", r.stream.got())
				}
				if tc.decide == "approve" && !strings.HasPrefix(tc.call, "POST /messages") {
					if m, ok := r.stream.message(id); !ok || m.text != "reviewme" || m.userID != "u1" {
						t.Fatalf("sent %+v %v", m, ok)
					}
				}
				if got := r.auditOf(id); len(got) != 2 {
					t.Fatalf("audit %v", got)
				}
			})
		}
	})
}

// TestAFailedDecisionIsRetried: an approval Stream fails is recorded with
// its moderator and tried again with backoff until Stream is back; a later
// rejection does not replace it blindly; past the deadline it fails.
func TestAFailedDecisionIsRetried(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r := newRig(t, store, 0)
		r.pending("wh-1", "p1", "reviewme")
		r.stream.fail(down503, down503, down503, down503, down503) // every attempt of the client's first call
		code, body := r.admin(context.Background(), "POST", "/admin/queue/p1/approve", "")
		if code != 202 || !strings.Contains(body, `"last_error"`) {
			t.Fatalf("approve while Stream fails: %d %s", code, body)
		}
		h := r.item("p1")
		if h.State != moderation.HeldDeciding || h.Attempts != 1 || h.DecidedBy != "ann" || !strings.Contains(h.LastError, "503") ||
			h.RetryAt.IsZero() || !h.Unsure {
			t.Fatalf("item after the failure: %+v", h)
		}
		if items := r.items("?user=u1"); len(items) != 1 || items[0].LastError == "" {
			t.Fatalf("the queue shows the failure: %+v", items)
		}
		// Stream is back; the pass at the retry time carries it out.
		r.reviews.Pass(context.Background())
		if n := r.stream.count("POST"); n != 5 {
			t.Fatalf("tried again before the retry time: %v", r.stream.got())
		}
		r.clock.add(h.RetryAt.Sub(r.clock.Now()))
		if n, _ := r.reviews.Pass(context.Background()); n != 1 {
			t.Fatalf("the pass did not carry it out: %v", r.stream.got())
		}
		if h := r.item("p1"); h.State != moderation.HeldDone || h.Attempts != 2 {
			t.Fatalf("item %+v", h)
		}
		if got := fmt.Sprint(r.auditOf("p1")); got != "[held by modgate failed by ann approved by ann]" {
			t.Fatalf("audit %s", got)
		}

		// An approval that may have reached Stream: a rejection needs force.
		r.pending("wh-2", "p2", "reviewme")
		r.stream.fail(down503, down503, down503, down503, down503)
		r.admin(context.Background(), "POST", "/admin/queue/p2/approve", "")
		if code, body := r.admin(context.Background(), "POST", "/admin/queue/p2/reject", ""); code != 409 || !strings.Contains(body, "unconfirmed_approval") {
			t.Fatalf("reject an unconfirmed approval: %d %s", code, body)
		}
		if code, body := r.admin(context.Background(), "POST", "/admin/queue/p2/reject", `{"reason":"spam","force":true}`); code != 200 {
			t.Fatalf("forced: %d %s", code, body)
		}
		if _, ok := r.stream.message("p2"); ok {
			t.Fatal("the forced rejection did not delete the message")
		}

		// Stream down until the deadline: the decision fails, audited.
		r.pending("wh-3", "p3", "reviewme")
		r.stream.fail(down503, down503, down503, down503, down503)
		r.admin(context.Background(), "POST", "/admin/queue/p3/approve", "")
		r.clock.add(hook.DefaultPendingTimeout)
		r.reviews.Pass(context.Background())
		h = r.item("p3")
		if h.State != moderation.HeldFailed || h.LastError != moderation.DeadlinePassed {
			t.Fatalf("past the deadline: %+v", h)
		}
		if got := fmt.Sprint(r.auditOf("p3")); got != "[held by modgate failed by ann expired by modgate]" {
			t.Fatalf("audit %s", got)
		}
	})
}

// TestAnApprovedEditUpdatesTheMessage: a held edit approved is one update
// of the message, as its sender, through the hook; a message whose id the
// client chose (Stream has no such message) is sent as new with that id.
func TestAnApprovedEditUpdatesTheMessage(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r := newRig(t, store, 0)
		r.stream.put("m-old", storedMessage{text: "hello", userID: "u1"})
		r.beforeSend(r.server, "wh-1", `{"id":"m-old","text":"reviewme edited","created_at":"2026-01-01T00:00:00Z","custom":{"k":1}}`)
		id := r.heldID()
		if h := r.item(id); h.MessageID != "m-old" {
			t.Fatalf("the edit names its message: %+v", h)
		}
		if code, body := r.admin(context.Background(), "POST", "/admin/queue/"+id+"/approve", ""); code != 200 {
			t.Fatalf("approve: %d %s", code, body)
		}
		if calls := fmt.Sprint(r.stream.got()); calls != "[POST /messages/m-old]" {
			t.Fatalf("calls %s", calls)
		}
		if m, _ := r.stream.message("m-old"); m.text != "reviewme edited" {
			t.Fatalf("message %+v", m)
		}

		r.beforeSend(r.server, "wh-2", `{"id":"client-chosen","text":"reviewme new"}`)
		id = r.heldID()
		if code, body := r.admin(context.Background(), "POST", "/admin/queue/"+id+"/approve", ""); code != 200 {
			t.Fatalf("approve: %d %s", code, body)
		}
		if r.stream.count("POST /channels/messaging/general/message") != 1 {
			t.Fatalf("calls %v", r.stream.got())
		}
		if m, ok := r.stream.message("client-chosen"); !ok || m.text != "reviewme new" {
			t.Fatalf("message %+v %v", m, ok)
		}
	})
}

// TestOneMessageOneItem: the same held message delivered again (a retry
// on another process, a retry racing the first delivery, the same pending
// message again) makes one queue item, and one decision.
func TestOneMessageOneItem(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r := newRig(t, store, 0)
		other := r.twin()
		if a, b := r.beforeSend(r.server, "wh-1", `{"text":"reviewme"}`), r.beforeSend(other, "wh-1", `{"text":"reviewme"}`); a != holdReply || b != holdReply {
			t.Fatalf("answers %s %s", a, b)
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if got := r.beforeSend(other, "wh-2", `{"text":"reviewme too"}`); got != holdReply {
					t.Errorf("racing retries: %s", got)
				}
			}()
		}
		wg.Wait()
		r.pending("wh-3", "p1", "reviewme")
		r.pending("wh-4", "p1", "reviewme")
		items := r.items("")
		if len(items) != 3 {
			t.Fatalf("%d items: %+v", len(items), items)
		}
		for _, h := range items {
			if got := r.auditOf(h.ID); len(got) != 1 {
				t.Fatalf("audit of %s: %v", h.ID, got)
			}
			if code, body := r.admin(context.Background(), "POST", "/admin/queue/"+h.ID+"/approve", ""); code != 200 {
				t.Fatalf("approve %s: %d %s", h.ID, code, body)
			}
		}
		if n := len(r.stream.got()); n != 3 {
			t.Fatalf("calls %v", r.stream.got())
		}
		// Delivered again once decided, to a third process: still one item,
		// nothing more to do.
		r.beforeSend(r.twin(), "wh-1", `{"text":"reviewme"}`)
		r.pending("wh-5", "p1", "reviewme")
		if n := len(r.stream.got()); n != 3 || len(r.items("")) != 0 {
			t.Fatalf("calls %v", r.stream.got())
		}
	})
}

// TestTheQueueIsBounded: past MODGATE_QUEUE_MAX open items, holds follow
// on_error; the queue's size is a metric; lists filter by sender.
func TestTheQueueIsBounded(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r := newRig(t, store, 3)
		for i := range 3 {
			if got := r.beforeSend(r.server, fmt.Sprint("wh-", i), `{"text":"reviewme `+fmt.Sprint(i)+`"}`); got != holdReply {
				t.Fatalf("hold %d: %s", i, got)
			}
		}
		if got := r.beforeSend(r.server, "wh-full", `{"text":"reviewme again"}`); got != rejectReply {
			t.Fatalf("a hold past the cap: %s", got)
		}
		m := r.metrics()
		for _, want := range []string{"modgate_review_queue_items 3", `modgate_hold_failures_total{reason="full"} 1`} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		if items := r.items("?user=u1&limit=2"); len(items) != 2 {
			t.Fatalf("by sender: %d", len(items))
		}
		if items := r.items("?user=nobody"); len(items) != 0 {
			t.Fatalf("nobody's: %d", len(items))
		}
		if items := r.items("?rule=review&channel=messaging:general"); len(items) != 3 {
			t.Fatalf("by rule and channel: %d", len(items))
		}
	})
}

// TestExpiriesAndReloadsAreAudited: an item past its deadline, and every
// reload of the rules, are in the audit log, which filters by actor,
// action and time.
func TestExpiriesAndReloadsAreAudited(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		path := filepath.Join(t.TempDir(), "rules.yaml")
		writeRules(t, path, reviewRules)
		set, err := rules.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		r := newRig(t, store, 0, func(c *hook.Config) {
			c.Engine = moderation.NewEngine(set, moderation.EngineOptions{State: storage.NewMemory(storage.MemoryOptions{})})
			c.Rules = moderation.NewRulesFile(path, c.Engine, nil)
			c.Rules.Audit = c.Reviews.Audit
		})
		r.beforeSend(r.server, "wh-1", `{"text":"reviewme"}`)
		id := r.heldID()
		r.clock.add(hook.DefaultHoldTTL + time.Minute)
		r.reviews.Pass(context.Background())
		if got := fmt.Sprint(r.auditOf(id)); got != "[held by modgate expired by modgate]" {
			t.Fatalf("audit %s", got)
		}
		if code, body := r.admin(context.Background(), "POST", "/admin/queue/"+id+"/approve", ""); code != 410 {
			t.Fatalf("approve past the deadline: %d %s", code, body)
		}
		writeRules(t, path, reviewRules+"  - {id: extra, when: {text: {contains: [extra]}}, action: reject}\n")
		if code, _ := r.admin(context.Background(), "POST", "/admin/rules/reload", ""); code != 200 {
			t.Fatal("reload")
		}
		writeRules(t, path, "version: 1\nrules: [broken\n")
		r.admin(context.Background(), "POST", "/admin/rules/reload", "")
		for _, tc := range []struct {
			query string
			want  string
		}{
			{"?actor=ann", "rules_refused rules_reloaded"},
			{"?action=expired", "expired"},
			{"?action=rules_reloaded&since=1h", "rules_reloaded"},
			{"?actor=modgate&since=" + r.clock.Now().Add(time.Hour).Format(time.RFC3339), ""},
			{"?actor=modgate&limit=1", "expired"},
		} {
			code, body := r.admin(context.Background(), "GET", "/admin/audit"+tc.query, "")
			var page struct{ Entries []moderation.AuditEntry }
			json.Unmarshal([]byte(body), &page)
			var got []string
			for _, e := range page.Entries {
				got = append(got, e.Action)
			}
			if code != 200 || strings.Join(got, " ") != tc.want {
				t.Errorf("%s: %d %v, want %s", tc.query, code, got, tc.want)
			}
		}
		if code, _ := r.admin(context.Background(), "GET", "/admin/audit?since=yesterday", ""); code != 400 {
			t.Errorf("a bad since: %d", code)
		}
	})
}

func writeRules(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTheRulesDecisionsReachStream: what the rules allow of pending
// messages is committed, what they reject hard-deleted, after the answer;
// one that Stream failed is tried again by a pass.
func TestTheRulesDecisionsReachStream(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r := newRig(t, store, 0)
		r.clock.add(-time.Minute) // the queue's clock may be behind the hook's
		if got := r.pending("wh-1", "p1", "hello"); !strings.Contains(got, "approving") {
			t.Fatalf("allowed: %s", got)
		}
		if got := r.pending("wh-2", "p2", "a badword"); !strings.Contains(got, "rejecting") {
			t.Fatalf("rejected: %s", got)
		}
		r.stream.fail(down503, down503, down503, down503, down503)
		r.pending("wh-3", "p3", "hello again")
		if m, _ := r.stream.message("p1"); m.pending {
			t.Fatal("the allowed message is not committed")
		}
		if _, ok := r.stream.message("p2"); ok {
			t.Fatal("the rejected message is not deleted")
		}
		h := r.item("p3")
		if h.State != moderation.HeldDeciding || h.DecidedBy != "modgate" || h.LastError == "" {
			t.Fatalf("a decision Stream failed: %+v", h)
		}
		r.clock.add(h.RetryAt.Sub(r.clock.Now()))
		r.reviews.Pass(context.Background())
		if m, _ := r.stream.message("p3"); m.pending || r.item("p3").State != moderation.HeldDone {
			t.Fatalf("not committed by the pass: %v", r.stream.got())
		}
		if got := fmt.Sprint(r.auditOf("p3")); got != "[held by modgate failed by modgate approved by modgate]" {
			t.Fatalf("audit %s", got)
		}
	})
}
