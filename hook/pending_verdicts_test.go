package hook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/modgate/modgate/hook"
	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/moderation"
)

// End-to-end tests of what the rules decide for pending messages reaching
// the message Stream commits, against the fake Stream, on the memory and
// the Redis queue. Whether Stream passes a partial update through the
// before-message-send hook is not documented: each test that updates runs
// both ways.

var partialUpdates = []struct {
	name      string
	skipsHook bool
}{{"update through the hook", false}, {"update skipping the hook", true}}

func fields(kv ...string) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = json.RawMessage(kv[i+1])
	}
	return m
}

// TestPendingVerdictsReachTheMessage: a mask, rewrite or flag verdict, and
// a flag field a client set, are applied to the pending message (one
// partial update) before it is committed; a message with nothing to
// change is committed as it is.
func TestPendingVerdictsReachTheMessage(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		for _, pu := range partialUpdates {
			for _, tc := range []struct {
				name     string
				text     string
				sent     map[string]json.RawMessage
				wantText string
				want     map[string]json.RawMessage // fields of the committed message
				patched  bool
			}{
				{"mask", "well darn it", nil, "well **** it", nil, true},
				{"rewrite", "psst hello", nil, "psst hello", fields("silent", "true", "whisper", "true"), true},
				{"flag", "promo here", nil, "promo here", fields("modgate_flags", `["promo"]`), true},
				{"flags a client set, no flag rule", "hello", fields("modgate_flags", `["forged"]`), "hello",
					fields("modgate_flags", `[]`), true},
				{"flags a client set, a flag rule and a mask", "promo darn", fields("modgate_flags", `"forged"`), "promo ****",
					fields("modgate_flags", `["promo"]`), true},
				{"nothing to change", "hello", fields("modgate_flags", `[ ]`, "custom", `{"k":1}`), "hello",
					fields("modgate_flags", `[ ]`, "custom", `{"k":1}`), false},
			} {
				t.Run(pu.name+"/"+tc.name, func(t *testing.T) {
					r := newRig(t, store, 0)
					r.stream.partialSkipsHook = pu.skipsHook
					if got := r.pendingWith("wh-1", "p1", tc.text, tc.sent); !strings.Contains(got, "approving") {
						t.Fatalf("answer %s", got)
					}
					want := "[POST /messages/p1/commit]"
					if tc.patched {
						want = "[PUT /messages/p1 POST /messages/p1/commit]"
					}
					if got := fmt.Sprint(r.stream.got()); got != want {
						t.Fatalf("calls %s, want %s", got, want)
					}
					m, _ := r.stream.message("p1")
					if m.pending || m.atCommit != tc.wantText || m.text != tc.wantText {
						t.Fatalf("committed %+v, want the text %q", m, tc.wantText)
					}
					for k, v := range tc.want {
						if m.field(k) != string(v) {
							t.Errorf("field %s: %s, want %s", k, m.field(k), v)
						}
					}
					// Through the hook the marker is left out; skipping it, it stays.
					if _, ok := m.fields[stream.ApprovalField]; ok != (tc.patched && pu.skipsHook) {
						t.Errorf("the marker on the message: %v (%s)", ok, m.field(stream.ApprovalField))
					}
					h := r.item("p1")
					if h.State != moderation.HeldDone || h.Text != tc.text || (h.Patch != nil) != tc.patched ||
						(tc.patched && h.ApprovedText() != tc.wantText) {
						t.Fatalf("item %+v", h)
					}
				})
			}
		}
	})
}

// TestAPendingPatchIsAppliedBeforeEveryCommit: the update and the commit
// are one try. An update that landed before a failed commit is made again,
// the same, by the next try; an update that failed is followed by no
// commit and leaves no unconfirmed approval; a try that dies between the
// two is taken over by one that updates, then commits. The message is
// never committed with the text its sender wrote.
func TestAPendingPatchIsAppliedBeforeEveryCommit(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		for _, pu := range partialUpdates {
			t.Run(pu.name+"/the commit fails", func(t *testing.T) {
				r := newRig(t, store, 0)
				r.stream.partialSkipsHook = pu.skipsHook
				r.stream.fail(ok, down503, down503, down503, down503, down503)
				r.pending("wh-1", "p1", "well darn it")
				h := r.item("p1")
				if m, _ := r.stream.message("p1"); h.State != moderation.HeldDeciding || !m.pending || m.text != "well **** it" {
					t.Fatalf("after the first try: %+v, %+v", h, m)
				}
				r.clock.add(h.RetryAt.Sub(r.clock.Now()))
				if n, _ := r.reviews.Pass(context.Background()); n != 1 {
					t.Fatalf("the pass: calls %v", r.stream.got())
				}
				puts := r.stream.sent("PUT /messages/p1")
				if len(puts) != 2 || puts[0] != puts[1] || !strings.Contains(puts[0], `"text":"well **** it"`) {
					t.Fatalf("updates %q", puts)
				}
				if m, _ := r.stream.message("p1"); m.pending || m.atCommit != "well **** it" {
					t.Fatalf("committed %+v", m)
				}
				if got := fmt.Sprint(r.auditOf("p1")); got != "[held by modgate failed by modgate approved by modgate]" {
					t.Fatalf("audit %s", got)
				}
			})
			t.Run(pu.name+"/the commit lands unconfirmed", func(t *testing.T) {
				r := newRig(t, store, 0)
				r.stream.partialSkipsHook = pu.skipsHook
				r.stream.fail(ok, apply500)
				r.pending("wh-1", "p1", "well darn it")
				if got := fmt.Sprint(r.stream.got()); got != "[PUT /messages/p1 POST /messages/p1/commit POST /messages/p1/commit]" {
					t.Fatalf("calls %s", got)
				}
				if m, _ := r.stream.message("p1"); m.pending || m.atCommit != "well **** it" || r.item("p1").State != moderation.HeldDone {
					t.Fatalf("committed %+v", m)
				}
			})
			t.Run(pu.name+"/the update fails", func(t *testing.T) {
				r := newRig(t, store, 0)
				r.stream.partialSkipsHook = pu.skipsHook
				r.stream.fail(down503, down503, down503, down503, down503)
				r.pending("wh-1", "p1", "well darn it")
				h := r.item("p1")
				if h.State != moderation.HeldDeciding || h.Unsure || r.stream.count("POST") != 0 {
					t.Fatalf("after the first try: %+v, calls %v", h, r.stream.got())
				}
				r.clock.add(h.RetryAt.Sub(r.clock.Now()))
				r.reviews.Pass(context.Background())
				if m, _ := r.stream.message("p1"); m.pending || m.atCommit != "well **** it" || r.item("p1").State != moderation.HeldDone {
					t.Fatalf("committed %+v, calls %v", m, r.stream.got())
				}
			})
			t.Run(pu.name+"/the try dies between them", func(t *testing.T) {
				r := newRig(t, store, 0)
				r.stream.partialSkipsHook = pu.skipsHook
				r.stream.fail(ok, hang)
				r.stream.put("p1", storedMessage{text: "well darn it", userID: "u1", pending: true})
				r.deliverPending("wh-1", r.pendingBody("p1", "well darn it", nil))
				<-r.stream.entered // the commit hangs: as good as a process gone
				r.clock.add(moderation.DefaultLease)
				if n, _ := r.reviews.Pass(context.Background()); n != 1 {
					t.Fatalf("the pass: calls %v", r.stream.got())
				}
				close(r.stream.release)
				r.reviews.Wait()
				if got := fmt.Sprint(r.stream.got()); got != "[PUT /messages/p1 POST /messages/p1/commit PUT /messages/p1 POST /messages/p1/commit]" {
					t.Fatalf("calls %s", got)
				}
				if m, _ := r.stream.message("p1"); m.pending || m.atCommit != "well **** it" {
					t.Fatalf("committed %+v", m)
				}
				if h := r.item("p1"); h.State != moderation.HeldDone || h.Attempts != 2 {
					t.Fatalf("item %+v", h)
				}
			})
		}
	})
}

// TestAHeldPendingMessageIsApprovedAsTheRulesChangedIt: a moderator's
// approval of a held pending message applies what the mask and flag rules
// above the hold changed, and takes back the flags a client set.
func TestAHeldPendingMessageIsApprovedAsTheRulesChangedIt(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		for _, pu := range partialUpdates {
			t.Run(pu.name, func(t *testing.T) {
				r := newRig(t, store, 0)
				r.stream.partialSkipsHook = pu.skipsHook
				r.pendingWith("wh-1", "p1", "reviewme darn", fields("modgate_flags", `["forged"]`))
				h := r.item("p1")
				if h.State != moderation.HeldWaiting || h.Text != "reviewme darn" || h.ApprovedText() != "reviewme ****" ||
					string(h.Patch.Set["modgate_flags"]) != "[]" || len(r.stream.got()) != 0 {
					t.Fatalf("held %+v, calls %v", h, r.stream.got())
				}
				if code, body := r.admin(context.Background(), "POST", "/admin/queue/p1/approve", ""); code != 200 {
					t.Fatalf("approve: %d %s", code, body)
				}
				m, _ := r.stream.message("p1")
				if m.pending || m.atCommit != "reviewme ****" || m.field("modgate_flags") != "[]" {
					t.Fatalf("committed %+v, calls %v", m, r.stream.got())
				}
			})
		}
	})
}

// TestAPendingMessageGoneBeforeItsDecision: a message the sender deleted
// before modgate's update or commit is never committed: Stream refuses the
// call for good, the item fails once; a DeletedPendingMessage that arrives
// while the decision is under way drops the item, and the try ends
// without committing or deciding again.
func TestAPendingMessageGoneBeforeItsDecision(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		for _, tc := range []struct {
			name, text, calls string
		}{
			{"the commit", "reviewme", "[POST /messages/p1/commit]"},
			{"the update", "reviewme darn", "[PUT /messages/p1]"},
		} {
			t.Run(tc.name+" of a message deleted meanwhile", func(t *testing.T) {
				r := newRig(t, store, 0)
				r.pending("wh-1", "p1", tc.text)
				r.stream.remove("p1")
				if code, body := r.admin(context.Background(), "POST", "/admin/queue/p1/approve", ""); code != 502 || !strings.Contains(body, "stream_refused") {
					t.Fatalf("approve: %d %s", code, body)
				}
				r.clock.add(moderation.DefaultRetryMax)
				r.reviews.Pass(context.Background())
				if got := fmt.Sprint(r.stream.got()); got != tc.calls {
					t.Fatalf("calls %s", got)
				}
				if h := r.item("p1"); h.State != moderation.HeldFailed || h.Unsure {
					t.Fatalf("item %+v", h)
				}
				if got := fmt.Sprint(r.auditOf("p1")); got != "[held by modgate failed by ann]" {
					t.Fatalf("audit %s", got)
				}
			})
		}
		t.Run("deleted while the update is under way", func(t *testing.T) {
			r := newRig(t, store, 0)
			r.pending("wh-1", "p1", "reviewme darn")
			r.stream.fail(hang)
			answered := make(chan int)
			go func() {
				code, _ := r.admin(context.Background(), "POST", "/admin/queue/p1/approve", "")
				answered <- code
			}()
			<-r.stream.entered
			r.stream.remove("p1")
			req := signed([]byte(r.pendingBody("p1", "reviewme darn", nil)), testKey, testSecret)
			req.URL.Path = "/hooks/pending/DeletedPendingMessage"
			if rec := r.do(req); rec.Code != 200 || !strings.Contains(rec.Body.String(), "dropped") {
				t.Fatalf("deleted: %d %s", rec.Code, rec.Body)
			}
			close(r.stream.release)
			<-answered
			r.reviews.Wait()
			r.clock.add(moderation.DefaultRetryMax)
			r.reviews.Pass(context.Background())
			if got := fmt.Sprint(r.stream.got()); got != "[PUT /messages/p1]" {
				t.Fatalf("calls %s", got)
			}
			if code, _ := r.admin(context.Background(), "GET", "/admin/queue/p1", ""); code != 404 {
				t.Fatalf("the item once deleted: %d", code)
			}
			if got := fmt.Sprint(r.auditOf("p1")); got != "[held by modgate deleted by stream]" {
				t.Fatalf("audit %s", got)
			}
		})
	})
}

// TestAPatchMarkerIsOfNoUseToAClient: the marker of an update is accepted
// only for its pending message while a try carries out its approval. One
// left on the message (Stream not passing partial updates through the
// hook) once it is committed or between two tries, on another message, a
// forged one, and one for an item not approved are refused.
func TestAPatchMarkerIsOfNoUseToAClient(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r := newRig(t, store, 0)
		r.stream.partialSkipsHook = true
		r.pending("wh-1", "p1", "well darn it")
		m, _ := r.stream.message("p1")
		marker := m.field(stream.ApprovalField)
		if !strings.HasPrefix(marker, `"patch.p1.`) {
			t.Fatalf("the marker left on the message: %s", marker)
		}
		r.pending("wh-2", "p2", "reviewme darn")
		waiting := r.item("p2")
		r.stream.fail(ok, down503, down503, down503, down503, down503) // updated, then not committed
		r.pending("wh-3", "p3", "well darn it")
		m3, _ := r.stream.message("p3")
		if h := r.item("p3"); h.State != moderation.HeldDeciding || h.RetryAt.IsZero() || m3.field(stream.ApprovalField) == "" {
			t.Fatalf("between two tries: %+v, %+v", h, m3)
		}
		for _, tc := range []struct{ name, message string }{
			{"left on a committed message", `{"id":"p1","text":"well **** it","attachments":[{"type":"image","image_url":"https://x.example/a.png"}],"modgate_approval":` + marker + `}`},
			{"forged", `{"id":"p1","text":"well **** it","modgate_approval":"patch.p1.00ff"}`},
			{"an approval's marker as a patch's", `{"id":"p1","text":"well **** it","modgate_approval":"patch.p1.` +
				strings.TrimPrefix(stream.NewApprovals("secret").Marker(&moderation.Held{ID: "p1", UserID: "u1", Text: "well **** it"}), "p1.") + `"}`},
			{"for an item waiting for a moderator", `{"id":"p2","text":"reviewme ****","modgate_approval":"` +
				stream.NewApprovals("secret").PatchMarker(&waiting) + `"}`},
			{"between two tries of an approval", `{"id":"p3","text":"well **** it","attachments":[{"type":"image"}],"modgate_approval":` +
				m3.field(stream.ApprovalField) + `}`},
			{"on another message", `{"id":"p2","text":"well **** it","modgate_approval":` + m3.field(stream.ApprovalField) + `}`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := r.beforeSend(r.server, "wh-"+tc.name, tc.message); got != rejectReply {
					t.Fatalf("answer %s", got)
				}
			})
		}
	})
}

// TestAPendingMessageDeliveredAgainWithAnotherText: Stream delivering a
// pending message again with another text (its sender changed it while it
// was pending) revises its item: whatever was decided about the earlier
// text, a moderator decides about the new one, unless the rules reject it;
// a rejection stands; a decision carried out already is not revisited.
// Nothing is committed that neither the rules nor a moderator read.
func TestAPendingMessageDeliveredAgainWithAnotherText(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		t.Run("held, then a clean text", func(t *testing.T) {
			r := newRig(t, store, 0)
			r.pending("wh-1", "p1", "reviewme")
			if got := r.pending("wh-2", "p1", "hello"); !strings.Contains(got, `"held"`) {
				t.Fatalf("answer %s", got)
			}
			if h := r.item("p1"); h.State != moderation.HeldWaiting || h.Text != "hello" || h.Revisions != 1 || len(r.stream.got()) != 0 {
				t.Fatalf("item %+v, calls %v", h, r.stream.got())
			}
			if got := fmt.Sprint(r.auditOf("p1")); got != "[held by modgate changed by modgate]" {
				t.Fatalf("audit %s", got)
			}
			// A moderator who read the earlier text is told it changed.
			if code, body := r.admin(context.Background(), "POST", "/admin/queue/p1/approve", `{"revisions":0}`); code != 409 || !strings.Contains(body, `"changed"`) {
				t.Fatalf("approve the earlier text: %d %s", code, body)
			}
			if code, body := r.admin(context.Background(), "POST", "/admin/queue/p1/approve", `{"revisions":1}`); code != 200 {
				t.Fatalf("approve the text read: %d %s", code, body)
			}
			if m, _ := r.stream.message("p1"); m.pending || m.atCommit != "hello" {
				t.Fatalf("committed %+v", m)
			}
		})
		t.Run("approved, then a text the rules mask, before the commit", func(t *testing.T) {
			r := newRig(t, store, 0)
			r.stream.fail(down503, down503, down503, down503, down503)
			r.pending("wh-1", "p1", "hello")
			if got := r.pending("wh-2", "p1", "well darn it"); !strings.Contains(got, `"held"`) {
				t.Fatalf("answer %s", got)
			}
			h := r.item("p1")
			if h.State != moderation.HeldWaiting || h.Decision != "" || h.ApprovedText() != "well **** it" {
				t.Fatalf("item %+v", h)
			}
			r.clock.add(moderation.DefaultRetryMax)
			r.reviews.Pass(context.Background())
			if n := r.stream.count("POST /messages/p1/commit"); n != 5 {
				t.Fatalf("the earlier approval tried again: %v", r.stream.got())
			}
			if code, body := r.admin(context.Background(), "POST", "/admin/queue/p1/approve", ""); code != 200 {
				t.Fatalf("approve: %d %s", code, body)
			}
			if m, _ := r.stream.message("p1"); m.pending || m.atCommit != "well **** it" {
				t.Fatalf("committed %+v", m)
			}
		})
		t.Run("approved, then a text the rules reject, while the commit is under way", func(t *testing.T) {
			r := newRig(t, store, 0)
			r.stream.fail(hang)
			r.stream.answered = make(chan string, 4)
			r.stream.put("p1", storedMessage{text: "hello", userID: "u1", pending: true})
			r.deliverPending("wh-1", r.pendingBody("p1", "hello", nil))
			<-r.stream.entered
			r.stream.put("p1", storedMessage{text: "a badword", userID: "u1", pending: true})
			if got := r.deliverPending("wh-2", r.pendingBody("p1", "a badword", nil)); !strings.Contains(got, "rejecting") {
				t.Fatalf("answer %s", got)
			}
			if call := <-r.stream.answered; call != "DELETE /messages/p1" {
				t.Fatalf("answered %s", call)
			}
			close(r.stream.release) // the earlier try's commit now finds nothing to commit
			r.reviews.Wait()
			if got := fmt.Sprint(r.stream.got()); got != "[POST /messages/p1/commit DELETE /messages/p1]" {
				t.Fatalf("calls %s", got)
			}
			if h := r.item("p1"); h.State != moderation.HeldDone || h.Decision != moderation.Reject || !h.Unsure {
				t.Fatalf("item %+v", h)
			}
			if got := fmt.Sprint(r.auditOf("p1")); got != "[held by modgate changed by modgate rejected by modgate]" {
				t.Fatalf("audit %s", got)
			}
		})
		t.Run("rejected, then a clean text", func(t *testing.T) {
			r := newRig(t, store, 0)
			r.stream.fail(down503, down503, down503, down503, down503)
			r.pending("wh-1", "p1", "a badword")
			if got := r.pending("wh-2", "p1", "hello"); !strings.Contains(got, "rejecting") {
				t.Fatalf("answer %s", got)
			}
			r.clock.add(moderation.DefaultRetryMax)
			r.reviews.Pass(context.Background())
			if _, ok := r.stream.message("p1"); ok || r.stream.count("POST") != 0 {
				t.Fatalf("calls %v", r.stream.got())
			}
		})
		t.Run("after the decision was carried out", func(t *testing.T) {
			r := newRig(t, store, 0)
			r.pending("wh-1", "p1", "hello")
			if got := r.pending("wh-2", "p1", "a badword"); !strings.Contains(got, "approving") {
				t.Fatalf("answer %s", got)
			}
			if got := fmt.Sprint(r.stream.got()); got != "[POST /messages/p1/commit]" {
				t.Fatalf("calls %s", got)
			}
			if h := r.item("p1"); h.Text != "hello" || h.Revisions != 0 {
				t.Fatalf("item %+v", h)
			}
		})
	})
}

// reviseFails is a queue whose revisions fail, as a Redis dying between
// two calls does.
type reviseFails struct{ moderation.Queue }

func (reviseFails) Revise(context.Context, string, moderation.Revision) (moderation.Held, error) {
	return moderation.Held{}, fmt.Errorf("revising: %w: connection reset", moderation.ErrUnavailable)
}

// TestADeliveryThatCannotReviseItsItem: when the queue fails to revise the
// item of a message delivered again with another text, Stream is answered
// 503 (so that it delivers it again), and nothing is carried out for the
// new text meanwhile.
func TestADeliveryThatCannotReviseItsItem(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r := newRig(t, store, 0, func(c *hook.Config) { c.Reviews.Queue = reviseFails{c.Reviews.Queue} })
		r.pending("wh-1", "p1", "reviewme")
		req := signed([]byte(r.pendingBody("p1", "hello", nil)), testKey, testSecret)
		req.URL.Path = "/hooks/pending/PassOnPendingMessage"
		req.Header.Set("X-Webhook-Id", "wh-2")
		if rec := r.do(req); rec.Code != 503 || !strings.Contains(rec.Body.String(), `"unavailable"`) {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		r.reviews.Wait()
		if h := r.item("p1"); h.Text != "reviewme" || h.State != moderation.HeldWaiting || len(r.stream.got()) != 0 {
			t.Fatalf("item %+v, calls %v", h, r.stream.got())
		}
		if !strings.Contains(r.metrics(), `modgate_hook_requests_total{hook="pending",outcome="error"} 1`) {
			t.Fatal("not counted")
		}
	})
}

// TestPendingVerdictsAreCountedByWhatTheyDo: on the pending hook, a
// message the rules mask, rewrite or flag is counted as such, now that
// what they change reaches the message.
func TestPendingVerdictsAreCountedByWhatTheyDo(t *testing.T) {
	t.Parallel()
	r := newRig(t, "memory", 0)
	r.pending("wh-1", "p1", "well darn it")
	r.pending("wh-2", "p2", "psst hello")
	r.pending("wh-3", "p3", "promo")
	r.pending("wh-4", "p4", "hello")
	m := r.metrics()
	for _, outcome := range []string{"mask", "rewrite", "flag", "allow"} {
		if want := `modgate_hook_requests_total{hook="pending",outcome="` + outcome + `"} 1`; !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
