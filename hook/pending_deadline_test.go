package hook_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modgate/modgate/hook"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
	"github.com/modgate/modgate/storage"
)

// withEngine gives the rig an engine over rules src (reviewRules when
// empty) with memory state, on clock now (nil: time.Now).
func withEngine(t *testing.T, src string, now func() time.Time, state moderation.State) func(*hook.Config) {
	return func(c *hook.Config) {
		if src == "" {
			src = reviewRules
		}
		set, err := rules.Parse("rules.yaml", []byte(src), nil)
		if err != nil {
			t.Fatal(err)
		}
		if state == nil {
			state = storage.NewMemory(storage.MemoryOptions{})
		}
		c.Engine = moderation.NewEngine(set, moderation.EngineOptions{Now: now, State: state})
	}
}

// TestAPendingMessageTheRulesCouldNotFinish: a pending message whose rules
// ran out of time is never committed: a rule's on_error that refuses
// decides, otherwise it waits for a moderator. Pending messages get a
// deadline of their own, not the before-send hook's.
func TestAPendingMessageTheRulesCouldNotFinish(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		late := func() time.Time { return time.Now().Add(time.Hour) } // every look at the clock is past any deadline
		t.Run("held for a moderator", func(t *testing.T) {
			r := newRig(t, store, 0, withEngine(t, "", late, nil))
			if got := r.pending("wh-1", "p1", "well darn it"); !strings.Contains(got, `"held"`) {
				t.Fatalf("answer %s", got)
			}
			h := r.item("p1")
			if h.State != moderation.HeldWaiting || !h.Unevaluated || h.Decision != "" || len(r.stream.got()) != 0 {
				t.Fatalf("item %+v, calls %v", h, r.stream.got())
			}
			if m := r.metrics(); !strings.Contains(m, `modgate_hook_requests_total{hook="pending",outcome="deadline"} 1`) ||
				!strings.Contains(m, "modgate_deadline_exceeded_total 1") {
				t.Fatalf("metrics:\n%s", m)
			}
			code, body := r.admin(context.Background(), "GET", "/admin/audit?action=held", "")
			if code != 200 || !strings.Contains(body, "could not all be evaluated") {
				t.Fatalf("audit: %d %s", code, body)
			}
			if code, body := r.admin(context.Background(), "POST", "/admin/queue/p1/approve", ""); code != 200 {
				t.Fatalf("approve: %d %s", code, body)
			}
			if got := fmt.Sprint(r.stream.got()); got != "[POST /messages/p1/commit]" {
				t.Fatalf("calls %s", got)
			}
		})
		t.Run("a rule's on_error rejects", func(t *testing.T) {
			src := reviewRules + "  - {id: strict, when: {text: {contains: [zzz]}}, action: hold, on_error: reject}\n"
			r := newRig(t, store, 0, withEngine(t, src, late, nil))
			if got := r.pending("wh-1", "p1", "well darn it"); !strings.Contains(got, "rejecting") {
				t.Fatalf("answer %s", got)
			}
			if _, ok := r.stream.message("p1"); ok || fmt.Sprint(r.stream.got()) != "[DELETE /messages/p1]" {
				t.Fatalf("calls %v", r.stream.got())
			}
		})
		t.Run("not the before-send hook's deadline", func(t *testing.T) {
			var reads atomic.Int64
			start := time.Now()
			slow := func() time.Time { return start.Add(time.Duration(reads.Add(1)) * time.Second) } // a second a look
			r := newRig(t, store, 0, withEngine(t, "", slow, nil))
			if got := r.beforeSend(r.server, "wh-0", `{"text":"well darn it"}`); got != `{"message":{"text":"well darn it"}}` {
				t.Fatalf("before-send, past its deadline: %s", got)
			}
			reads.Store(0)
			r.pending("wh-1", "p1", "well darn it")
			if m, _ := r.stream.message("p1"); m.pending || m.atCommit != "well **** it" {
				t.Fatalf("committed %+v, calls %v", m, r.stream.got())
			}
		})
	})
}

// cancellableState fails a count whose context has ended, as Redis does.
type cancellableState struct{ moderation.State }

func (s cancellableState) Count(ctx context.Context, c moderation.Claim, ifAllowed []byte, now, deadline time.Time,
	hits []moderation.Hit) (moderation.Replay, error) {
	if err := ctx.Err(); err != nil {
		return moderation.Replay{}, err
	}
	return s.State.Count(ctx, c, ifAllowed, now, deadline, hits)
}

// TestStreamHangingUpOnAPendingCall: Stream giving up on a pending call
// does not let the limits pass (their on_error is allow) nor lose the
// message: it is evaluated and decided as if Stream had waited.
func TestStreamHangingUpOnAPendingCall(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		src := reviewRules + "  - {id: flood, limit: {count: 1, per: 1m, by: user}, action: reject}\n"
		r := newRig(t, store, 0, withEngine(t, src, nil, cancellableState{storage.NewMemory(storage.MemoryOptions{})}))
		gone, hangUp := context.WithCancel(context.Background())
		hangUp()
		for i, want := range []string{"approving", "rejecting"} {
			id := fmt.Sprint("p", i)
			r.stream.put(id, storedMessage{text: "hello", userID: "u1", pending: true})
			req := signed([]byte(r.pendingBody(id, "hello", nil)), testKey, testSecret).WithContext(gone)
			req.URL.Path = "/hooks/pending/PassOnPendingMessage"
			req.Header.Set("X-Webhook-Id", "wh-"+id)
			if rec := r.do(req); rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
				t.Fatalf("%s: %d %s, want %s", id, rec.Code, rec.Body, want)
			}
		}
		r.reviews.Wait()
		if got := r.stream.got(); len(got) != 2 || r.stream.count("POST /messages/p0/commit") != 1 || r.stream.count("DELETE /messages/p1") != 1 {
			t.Fatalf("calls %s", got)
		}
	})
}

// TestAPendingCallDeliveredAgainBeforeItWasQueued: Stream delivering a
// call again whose first delivery counted the limits and died before
// queueing the message: the message is queued from the second, not left
// pending until Stream deletes it; the limits did not count it again, so
// it waits for a moderator, unless no rule counts messages. A delivery
// again once it is queued changes nothing.
func TestAPendingCallDeliveredAgainBeforeItWasQueued(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		for _, tc := range []struct {
			name, rules, answer, calls string
		}{
			{"with limits", reviewRules + "  - {id: flood, limit: {count: 1, per: 1m, by: user}, action: reject}\n", `"held"`, "[]"},
			{"without", reviewRules, "approving", "[POST /messages/p1/commit]"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := newRig(t, store, 0, withEngine(t, tc.rules, nil, nil))
				first := moderation.Message{ID: "p1", Text: "hello", Hook: moderation.HookPending, User: []byte(`{"id":"u1"}`)}
				r.cfg.Engine.Evaluate(context.Background(), &first, moderation.Options{WebhookID: "wh-1"}) // and died
				r.stream.put("p1", storedMessage{text: "hello", userID: "u1", pending: true})
				if got := r.deliverPending("wh-1", r.pendingBody("p1", "hello", nil)); !strings.Contains(got, tc.answer) {
					t.Fatalf("answer %s", got)
				}
				r.reviews.Wait()
				if h := r.item("p1"); h.Unevaluated != (tc.answer == `"held"`) || fmt.Sprint(r.stream.got()) != tc.calls {
					t.Fatalf("item %+v, calls %v", h, r.stream.got())
				}
				if got := r.deliverPending("wh-1", r.pendingBody("p1", "hello", nil)); !strings.Contains(got, "seen") {
					t.Fatalf("delivered again once queued: %s", got)
				}
			})
		}
	})
}
