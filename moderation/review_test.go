package moderation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
	"github.com/modgate/modgate/storage"
)

// fakePublisher records what would reach Stream. Each call takes the next
// of errs (none left: success); a call finding hang set blocks until hang
// is closed or its context ends, after saying so on entered.
type fakePublisher struct {
	mu      sync.Mutex
	calls   []string
	errs    []error
	hang    chan struct{}
	entered chan string
}

func (p *fakePublisher) call(ctx context.Context, s string) error {
	if err := ctx.Err(); err != nil {
		return err // as a real client does
	}
	p.mu.Lock()
	p.calls = append(p.calls, s)
	hang := p.hang
	p.hang = nil
	var err error
	if len(p.errs) > 0 {
		err, p.errs = p.errs[0], p.errs[1:]
	}
	p.mu.Unlock()
	if hang != nil {
		if p.entered != nil {
			p.entered <- s
		}
		select {
		case <-hang:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (p *fakePublisher) Patch(ctx context.Context, h *moderation.Held) error {
	return p.call(ctx, "patch "+h.MessageID+" "+h.ApprovedText())
}
func (p *fakePublisher) Commit(ctx context.Context, id string) error {
	return p.call(ctx, "commit "+id)
}
func (p *fakePublisher) Delete(ctx context.Context, id string) error {
	return p.call(ctx, "delete "+id)
}
func (p *fakePublisher) Send(ctx context.Context, h *moderation.Held) error {
	return p.call(ctx, "send "+h.SendID()+" "+h.Text)
}
func (p *fakePublisher) Remove(ctx context.Context, id string) error {
	return p.call(ctx, "remove "+id)
}
func (p *fakePublisher) Enforce(ctx context.Context, h *moderation.Held, now time.Time) error {
	return p.call(ctx, fmt.Sprintf("%s %s %d", h.Consequence.Do, h.UserID, h.Consequence.Minutes))
}

func (p *fakePublisher) got() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}

// clock is a clock the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// never is an After whose time never comes: Decide waits for the try or
// the request.
func never(time.Duration) <-chan time.Time { return nil }

func newReviews(t *testing.T) (*moderation.Reviews, *fakePublisher, *clock) {
	t.Helper()
	c := &clock{now: time.Now().UTC().Truncate(time.Second)}
	pub := &fakePublisher{}
	r := &moderation.Reviews{Queue: storage.NewMemoryQueue(0), Publisher: pub, Audit: storage.NewMemoryAudit(0),
		Now: c.Now, After: never}
	t.Cleanup(r.Wait)
	return r, pub, c
}

func pendingHeld(id string, now time.Time) moderation.Held {
	return moderation.Held{ID: id, MessageID: id, Hook: moderation.HookPending, ChannelCID: "messaging:a", UserID: "u",
		Text: "hi " + id, Rules: []string{"new-accounts-with-links"}, RulesVersion: "v1", HeldAt: now, Deadline: now.Add(time.Hour)}
}

func hold(t *testing.T, r *moderation.Reviews, h moderation.Held) {
	t.Helper()
	if _, added, err := r.Hold(context.Background(), h); err != nil || !added {
		t.Fatalf("hold %s: %v %v", h.ID, added, err)
	}
}

func approve(actor string) moderation.Choice {
	return moderation.Choice{Decision: moderation.Approve, Actor: actor}
}

func reject(actor, reason string) moderation.Choice {
	return moderation.Choice{Decision: moderation.Reject, Actor: actor, Reason: reason}
}

// audit returns the actions of the audit log about item id, oldest first.
func audit(t *testing.T, r *moderation.Reviews, id string) []string {
	t.Helper()
	entries, _, err := r.Audit.List(context.Background(), moderation.AuditFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(entries) - 1; i >= 0; i-- {
		if e := entries[i]; e.ItemID == id {
			out = append(out, e.Action+" by "+e.Actor)
		}
	}
	return out
}

func TestReviewDecisionsReachStreamOnce(t *testing.T) {
	t.Parallel()
	r, pub, c := newReviews(t)
	ctx := context.Background()
	for i := range 10 {
		hold(t, r, pendingHeld(fmt.Sprint("p", i), c.Now()))
	}
	var wg sync.WaitGroup
	for i := range 10 {
		for j := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				choice := approve("ann")
				if j%2 == 1 {
					choice = reject("bob", "spam")
				}
				if _, err := r.Decide(ctx, fmt.Sprint("p", i), choice); err != nil && !errors.Is(err, moderation.ErrConflict) {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	r.Wait()
	calls := pub.got()
	if len(calls) != 10 {
		t.Fatalf("%d calls to Stream for 10 messages: %v", len(calls), calls)
	}
	seen := map[string]bool{}
	for _, call := range calls {
		id := call[len(call)-2:]
		if seen[id] {
			t.Fatalf("two decisions for %s: %v", id, calls)
		}
		seen[id] = true
	}
	for i := range 10 {
		if got := audit(t, r, fmt.Sprint("p", i)); len(got) != 2 || got[0] != "held by modgate" {
			t.Fatalf("audit of p%d: %v", i, got)
		}
	}
}

// TestReviewATryThatOutlivesItsLease: Stream hangs, the moderator's client
// gives up; the decision goes on, on its own; once its lease ran out a pass
// takes it over, and the message is decided once, in two calls at most.
func TestReviewATryThatOutlivesItsLease(t *testing.T) {
	t.Parallel()
	r, pub, c := newReviews(t)
	hold(t, r, pendingHeld("p1", c.Now()))
	release := make(chan struct{})
	pub.hang, pub.entered = release, make(chan string, 1)
	ctx, hangUp := context.WithCancel(context.Background())
	answered := make(chan moderation.Held)
	go func() {
		h, err := r.Decide(ctx, "p1", approve("ann"))
		if err != nil {
			t.Error(err)
		}
		answered <- h
	}()
	<-pub.entered
	hangUp()
	if h := <-answered; h.State != moderation.HeldDeciding || h.DecidedBy != "ann" {
		t.Fatalf("answer to a client that hung up: %+v", h)
	}
	if _, err := r.Decide(context.Background(), "p1", reject("bob", "")); !errors.Is(err, moderation.ErrConflict) {
		t.Fatalf("another decision while the try holds the lease: %v", err)
	}
	if n, _ := r.Pass(context.Background()); n != 0 || len(pub.got()) != 1 {
		t.Fatalf("a pass within the lease tried again: %v", pub.got())
	}
	c.add(moderation.DefaultLease + time.Second)
	if n, err := r.Pass(context.Background()); n != 1 || err != nil {
		t.Fatalf("the pass after the lease: %d %v", n, err)
	}
	close(release) // the first try ends now: it lost its lease and settles nothing
	r.Wait()
	h, _ := r.Get(context.Background(), "p1")
	if h.State != moderation.HeldDone || h.Attempts != 2 || h.DecidedBy != "ann" {
		t.Fatalf("item %+v", h)
	}
	if calls := pub.got(); len(calls) != 2 {
		t.Fatalf("calls %v", calls)
	}
	if got := fmt.Sprint(audit(t, r, "p1")); got != "[held by modgate approved by ann]" {
		t.Fatalf("audit %s", got)
	}
}

// TestReviewFailedDecisionsAreRetried: a try that fails is tried again
// with backoff by the passes, with the moderator's decision, until Stream
// confirms; the audit log shows the failures and who decided.
func TestReviewFailedDecisionsAreRetried(t *testing.T) {
	t.Parallel()
	r, pub, c := newReviews(t)
	hold(t, r, pendingHeld("p1", c.Now()))
	down := errors.New("stream answered 503")
	pub.errs = []error{down, down, down}
	h, err := r.Decide(context.Background(), "p1", approve("ann"))
	if err != nil || h.State != moderation.HeldDeciding || h.LastError != down.Error() || !h.Unsure || h.Attempts != 1 {
		t.Fatalf("after a failed try: %+v %v", h, err)
	}
	wait := h.RetryAt.Sub(c.Now())
	if wait < moderation.DefaultRetryMin || wait > moderation.DefaultRetryMin*6/5 {
		t.Fatalf("first retry in %s", wait)
	}
	if r.Pass(context.Background()); len(pub.got()) != 1 {
		t.Fatalf("retried before its time: %v", pub.got())
	}
	c.add(wait)
	r.Pass(context.Background())
	h, _ = r.Get(context.Background(), "p1")
	if wait := h.RetryAt.Sub(c.Now()); h.Attempts != 2 || wait < 2*moderation.DefaultRetryMin || wait > 2*moderation.DefaultRetryMin*6/5 {
		t.Fatalf("second failure: %+v, next in %s", h, wait)
	}
	c.add(time.Hour - 2*time.Minute) // well past the next retry, within the deadline
	r.Pass(context.Background())
	c.add(time.Minute)
	r.Pass(context.Background()) // Stream is back
	h, _ = r.Get(context.Background(), "p1")
	if h.State != moderation.HeldDone || h.Attempts != 4 || len(pub.got()) != 4 {
		t.Fatalf("item %+v, calls %v", h, pub.got())
	}
	// Failures at the 1st and 2nd tries (and then at each doubling), then the decision.
	if got := fmt.Sprint(audit(t, r, "p1")); got != "[held by modgate failed by ann failed by ann approved by ann]" {
		t.Fatalf("audit %s", got)
	}
}

// TestReviewRefusedAndAlreadyDone: Stream refusing for good fails the item
// (a moderator may decide again); Stream answering that it was done
// already is done.
func TestReviewRefusedAndAlreadyDone(t *testing.T) {
	t.Parallel()
	r, pub, c := newReviews(t)
	hold(t, r, pendingHeld("p1", c.Now()))
	hold(t, r, pendingHeld("p2", c.Now()))
	pub.errs = []error{fmt.Errorf("%w: stream answered 404: message does not exist", moderation.ErrRefused),
		fmt.Errorf("%w: stream answered 400: message is not pending", moderation.ErrAlreadyDone)}
	h, err := r.Decide(context.Background(), "p1", approve("ann"))
	if !errors.Is(err, moderation.ErrRefused) || h.State != moderation.HeldFailed || h.Unsure {
		t.Fatalf("refused: %+v %v", h, err)
	}
	if h, err := r.Decide(context.Background(), "p2", approve("ann")); err != nil || h.State != moderation.HeldDone {
		t.Fatalf("done already: %+v %v", h, err)
	}
	if h, err := r.Decide(context.Background(), "p1", reject("bob", "")); err != nil || h.State != moderation.HeldDone {
		t.Fatalf("a failed item decided again: %+v %v", h, err)
	}
	if calls := fmt.Sprint(pub.got()); calls != "[commit p1 commit p2 delete p1]" {
		t.Fatalf("calls %s", calls)
	}
}

// TestReviewRejectingAnUnconfirmedApproval: an approval whose try may have
// reached Stream is not replaced by a rejection unless the moderator
// forces it; forced, what the approval may have sent is deleted.
func TestReviewRejectingAnUnconfirmedApproval(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, hook, want string
	}{
		{"pending", moderation.HookPending, "delete p1"},
		{"before-send", moderation.HookBeforeSend, "delete p1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, pub, c := newReviews(t)
			h := pendingHeld("p1", c.Now())
			h.Hook = tc.hook
			if tc.hook == moderation.HookBeforeSend {
				h.MessageID = ""
			}
			hold(t, r, h)
			pub.errs = []error{context.DeadlineExceeded}
			if h, _ := r.Decide(context.Background(), "p1", approve("ann")); !h.Unsure {
				t.Fatalf("a try that timed out: %+v", h)
			}
			if _, err := r.Decide(context.Background(), "p1", reject("bob", "spam")); !errors.Is(err, moderation.ErrUnconfirmed) {
				t.Fatalf("reject without force: %v", err)
			}
			forced := reject("bob", "spam")
			forced.Force = true
			h, err := r.Decide(context.Background(), "p1", forced)
			if err != nil || h.State != moderation.HeldDone || h.Decision != moderation.Reject || h.DecidedBy != "bob" {
				t.Fatalf("forced: %+v %v", h, err)
			}
			if calls := pub.got(); len(calls) != 2 || calls[1] != tc.want {
				t.Fatalf("calls %v", calls)
			}
		})
	}
	// An approval Stream surely did not apply (a 429) is replaced freely.
	r, pub, c := newReviews(t)
	hold(t, r, pendingHeld("p2", c.Now()))
	pub.errs = []error{fmt.Errorf("%w: stream answered 429", moderation.ErrUnavailable)}
	r.Decide(context.Background(), "p2", approve("ann"))
	if h, err := r.Decide(context.Background(), "p2", reject("bob", "")); err != nil || h.State != moderation.HeldDone {
		t.Fatalf("reject after a 429: %+v %v", h, err)
	}
}

// TestReviewKindsAndExpiry: a before-send hold is sent again under its own
// id, rejected without a call; past the deadline items close, once, and
// the audit log says so.
func TestReviewKindsAndExpiry(t *testing.T) {
	t.Parallel()
	r, pub, c := newReviews(t)
	ctx := context.Background()
	hold(t, r, pendingHeld("late", c.Now()))
	before := pendingHeld("bs-1", c.Now())
	before.Hook, before.MessageID = moderation.HookBeforeSend, ""
	hold(t, r, before)
	hold(t, r, pendingHeld("gone", c.Now()))
	hold(t, r, pendingHeld("rej", c.Now()))
	hold(t, r, pendingHeld("trying", c.Now()))

	if _, err := r.Decide(ctx, "bs-1", approve("ann")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Decide(ctx, "rej", reject("ann", "spam")); err != nil {
		t.Fatal(err)
	}
	if err := r.Drop(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	pub.errs = []error{errors.New("stream answered 502")}
	r.Decide(ctx, "trying", approve("bob"))
	c.add(2 * time.Hour)
	if _, err := r.Decide(ctx, "late", approve("ann")); !errors.Is(err, moderation.ErrExpired) {
		t.Fatalf("approval past the deadline: %v", err)
	}
	if h, _ := r.Get(ctx, "late"); h.State != moderation.HeldExpired {
		t.Fatalf("read past the deadline: %+v", h)
	}
	r.Pass(ctx)
	r.Pass(ctx)
	if calls := fmt.Sprint(pub.got()); calls != "[send bs-1 hi bs-1 delete rej commit trying]" {
		t.Fatalf("calls %s", calls)
	}
	for id, want := range map[string]string{
		"late":   "[held by modgate expired by modgate]",
		"trying": "[held by modgate failed by bob expired by modgate]",
		"gone":   "[held by modgate deleted by stream]",
	} {
		if got := fmt.Sprint(audit(t, r, id)); got != want {
			t.Errorf("audit of %s: %s, want %s", id, got, want)
		}
	}
	if h, _ := r.Get(ctx, "trying"); h.State != moderation.HeldFailed || h.LastError != moderation.DeadlinePassed {
		t.Fatalf("a decision out of time: %+v", h)
	}
}

// TestReviewRulesDecisionsAreCarriedOut: the rules' decisions about pending
// messages are carried out after Hold, and a pass finds those that failed.
func TestReviewRulesDecisionsAreCarriedOut(t *testing.T) {
	t.Parallel()
	r, pub, c := newReviews(t)
	pub.errs = []error{errors.New("stream is down")}
	for i, d := range []moderation.Decision{moderation.Approve, "", moderation.Reject} {
		h := pendingHeld(fmt.Sprint("c", i), c.Now())
		h.Decision = d
		hold(t, r, h)
		r.Wait() // the first try fails, the others go through
	}
	c.add(time.Minute)
	r.Pass(context.Background())
	got := map[string]int{}
	for _, call := range pub.got() {
		got[call]++
	}
	if got["commit c0"] != 2 || got["delete c2"] != 1 || len(got) != 2 {
		t.Fatalf("calls %v", pub.got())
	}
	if h, _ := r.Get(context.Background(), "c0"); h.State != moderation.HeldDone || h.DecidedBy != "modgate" {
		t.Fatalf("c0 %+v", h)
	}
}

// TestReviewRunStopsItsTries: when Run stops, a try under way is stopped
// and left due at once, for the next process.
func TestReviewRunStopsItsTries(t *testing.T) {
	t.Parallel()
	r, pub, c := newReviews(t)
	h := pendingHeld("p1", c.Now())
	h.Decision = moderation.Approve
	pub.hang, pub.entered = make(chan struct{}), make(chan string, 1)
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { r.Run(ctx, time.Hour, nil); close(ran) }()
	hold(t, r, h)
	<-pub.entered
	stop()
	<-ran
	h, _ = r.Get(context.Background(), "p1")
	if h.State != moderation.HeldDeciding || !h.RetryAt.Equal(c.Now()) || !h.Unsure {
		t.Fatalf("a try stopped with Run: %+v", h)
	}
}

func TestNewHeld(t *testing.T) {
	t.Parallel()
	at := time.Now()
	user, channel := []byte(`{"id":"u1"}`), []byte(`{"cid":"messaging:a"}`)
	verdict := func(a rules.Action) *moderation.Verdict {
		return &moderation.Verdict{Action: a, RulesVersion: "v9", Fired: []moderation.Firing{
			{RuleID: "watch", Observed: true}, {RuleID: "links", Matches: []rules.Match{{List: "spam", Term: "buy"}, {Term: "now"}}}}}
	}
	for _, tc := range []struct {
		name     string
		msg      moderation.Message
		v        *moderation.Verdict
		delivery string
		check    func(t *testing.T, h moderation.Held, err error)
	}{
		{"pending, held", moderation.Message{ID: "m1", Hook: moderation.HookPending, User: user, Channel: channel},
			verdict(rules.ActionHold), "", func(t *testing.T, h moderation.Held, err error) {
				if err != nil || h.ID != "m1" || h.MessageID != "m1" || h.Decision != "" || fmt.Sprint(h.Rules) != "[links]" ||
					fmt.Sprint(h.Terms) != "[spam:buy now]" || h.RulesVersion != "v9" {
					t.Fatalf("%+v %v", h, err)
				}
			}},
		{"pending, allowed", moderation.Message{ID: "m1", Hook: moderation.HookPending, Object: []byte(`{"cid":"messaging:b","user":{"id":"u2"}}`)},
			verdict(rules.ActionNone), "", func(t *testing.T, h moderation.Held, err error) {
				if err != nil || h.Decision != moderation.Approve || h.ChannelCID != "messaging:b" || h.UserID != "u2" {
					t.Fatalf("%+v %v", h, err)
				}
			}},
		{"pending, rejected", moderation.Message{ID: "m1", Hook: moderation.HookPending}, verdict(rules.ActionReject), "",
			func(t *testing.T, h moderation.Held, err error) {
				if err != nil || h.Decision != moderation.Reject {
					t.Fatalf("%+v %v", h, err)
				}
			}},
		{"pending, masked and flagged", moderation.Message{ID: "m1", Hook: moderation.HookPending, Text: "damn promo"},
			&moderation.Verdict{Action: rules.ActionMask, Text: "**** promo", TextChanged: true, Fields: []rules.FieldValue{
				{Key: "silent", JSON: []byte("true")}, {Key: "modgate_flags", JSON: []byte(`["tag"]`)}}}, "",
			func(t *testing.T, h moderation.Held, err error) {
				set, _ := json.Marshal(h.Patch.Set)
				if err != nil || h.Decision != moderation.Approve || h.Text != "damn promo" || h.ApprovedText() != "**** promo" ||
					string(set) != `{"modgate_flags":["tag"],"silent":true}` {
					t.Fatalf("%+v %v", h, err)
				}
			}},
		{"pending, with flags a client set", moderation.Message{ID: "m1", Hook: moderation.HookPending, Text: "hi",
			Object: []byte(`{"text":"hi","modgate_flags":["forged"]}`)}, verdict(rules.ActionNone), "",
			func(t *testing.T, h moderation.Held, err error) {
				if err != nil || h.Decision != moderation.Approve || h.Patch.Text != nil || h.ApprovedText() != "hi" ||
					len(h.Patch.Set) != 1 || string(h.Patch.Set["modgate_flags"]) != "[]" {
					t.Fatalf("%+v %v", h, err)
				}
			}},
		{"pending, with an empty flag field", moderation.Message{ID: "m1", Hook: moderation.HookPending,
			Object: []byte(`{"modgate_flags":[ ]}`)}, verdict(rules.ActionNone), "",
			func(t *testing.T, h moderation.Held, err error) {
				if err != nil || h.Decision != moderation.Approve || h.Patch != nil {
					t.Fatalf("%+v %v", h, err)
				}
			}},
		{"pending, rejected with flags a client set", moderation.Message{ID: "m1", Hook: moderation.HookPending,
			Object: []byte(`{"modgate_flags":["forged"]}`)}, verdict(rules.ActionReject), "",
			func(t *testing.T, h moderation.Held, err error) {
				if err != nil || h.Decision != moderation.Reject || h.Patch != nil {
					t.Fatalf("%+v %v", h, err)
				}
			}},
		{"pending, the rules out of time", moderation.Message{ID: "m1", Hook: moderation.HookPending},
			&moderation.Verdict{DeadlineHit: true}, "", func(t *testing.T, h moderation.Held, err error) {
				if err != nil || h.Decision != "" || !h.Unevaluated || h.State != moderation.HeldWaiting {
					t.Fatalf("%+v %v", h, err)
				}
			}},
		{"pending without an id", moderation.Message{Hook: moderation.HookPending}, verdict(rules.ActionHold), "",
			func(t *testing.T, h moderation.Held, err error) {
				if !errors.Is(err, moderation.ErrInvalid) {
					t.Fatal(err)
				}
			}},
		{"before-send", moderation.Message{Hook: moderation.HookBeforeSend, User: user, Channel: channel, Object: []byte(`{"text":"x"}`)},
			verdict(rules.ActionHold), "wh-1", func(t *testing.T, h moderation.Held, err error) {
				again, _ := moderation.NewHeld(&moderation.Message{Hook: moderation.HookBeforeSend, User: user, Channel: channel},
					verdict(rules.ActionHold), moderation.HoldOptions{Delivery: "wh-1"})
				if err != nil || len(h.ID) != 27 || h.ID != again.ID || h.MessageID != "" || string(h.Message) != `{"text":"x"}` {
					t.Fatalf("%+v %v", h, err)
				}
			}},
		{"before-send edit", moderation.Message{ID: "m7", Hook: moderation.HookBeforeSend, User: user, Channel: channel},
			verdict(rules.ActionHold), "wh-2", func(t *testing.T, h moderation.Held, err error) {
				if err != nil || h.MessageID != "m7" || h.SendID() != "m7" || h.ID == "m7" {
					t.Fatalf("%+v %v", h, err)
				}
			}},
		{"before-send without a channel", moderation.Message{Hook: moderation.HookBeforeSend, User: user},
			verdict(rules.ActionHold), "wh-3", func(t *testing.T, h moderation.Held, err error) {
				if !errors.Is(err, moderation.ErrInvalid) {
					t.Fatal(err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := moderation.NewHeld(&tc.msg, tc.v, moderation.HoldOptions{Delivery: tc.delivery, At: at, Deadline: at.Add(time.Hour),
				FlagField: "modgate_flags"})
			tc.check(t, h, err)
		})
	}
}

// TestNewHeldSpans: a held item keeps where the rules that held it matched
// its text, and how the text was disguised, for moderators to see later
// whatever the rules in force by then.
func TestNewHeldSpans(t *testing.T) {
	t.Parallel()
	engine := moderation.NewEngine(mustSet(t, `
version: 1
lists:
  spam: {terms: [buy now, cheap meds]}
rules:
  - id: watch
    when: {text: {contains: [deal]}}
    action: hold
    mode: observe
  - id: spam
    when: {text: {contains: [list.spam]}}
    action: hold
  - id: shouting
    when: {text: {contains: [wow]}}
    action: flag
`), moderation.EngineOptions{})
	for _, tc := range []struct {
		name, text string
		want       string
	}{
		{"plain", "buy now", `[spam 0-7 "buy now" spam:buy now "buy now" none]`},
		{"disguised, after other text", "Ünïcode déal: B.U.Y N0W, çheap MEDS",
			`[spam 17-26 "B.U.Y N0W" spam:buy now "buy now" case,leetspeak,separators] ` +
				`[spam 28-39 "çheap MEDS" spam:cheap meds "cheap meds" case,diacritics]`},
		{"no match in the text", "nothing here", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := moderation.Message{ID: "m1", Hook: moderation.HookPending, Text: tc.text}
			v, _ := engine.Evaluate(context.Background(), &msg, moderation.Options{})
			v.Fired = append(v.Fired, moderation.Firing{RuleID: "elsewhere", Matches: []rules.Match{{Start: -1, End: -1, Term: "x"},
				{Start: 3, End: 999, Term: "y"}}})
			h, err := moderation.NewHeld(&msg, &v, moderation.HoldOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range h.Spans {
				got = append(got, fmt.Sprintf("[%s %d-%d %q %s:%s %q %s]", s.Rule, s.Start, s.End, h.Text[s.Start:s.End], s.List, s.Term,
					s.Folded, s.Steps))
			}
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("spans\n got %s\nwant %s", strings.Join(got, " "), tc.want)
			}
		})
	}
}

func TestUnheld(t *testing.T) {
	t.Parallel()
	set, err := rules.Parse("test.yaml", []byte(`version: 1
rules:
  - {id: plain, action: hold}
  - {id: allow, action: hold, on_error: allow}
  - {id: reject, action: hold, on_error: reject}
  - {id: limited, action: reject, on_error: hold, limit: {count: 1, per: 1m, by: user}}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	for rule, want := range map[string]moderation.Decision{"plain": moderation.Reject, "allow": moderation.Approve,
		"reject": moderation.Reject, "limited": moderation.Reject, "gone-since-a-reload": moderation.Reject} {
		if got := moderation.Unheld(set, &moderation.Verdict{Action: rules.ActionHold, RuleID: rule}); got != want {
			t.Errorf("%s: %s, want %s", rule, got, want)
		}
	}
}

// flakyQueue fails the first settle, as a Redis dying mid-decision does.
type flakyQueue struct {
	moderation.Queue
	mu     sync.Mutex
	failed bool
}

func (q *flakyQueue) Settle(ctx context.Context, id string, s moderation.Settle) (moderation.Held, error) {
	q.mu.Lock()
	fail := !q.failed
	q.failed = true
	q.mu.Unlock()
	if fail {
		return moderation.Held{}, fmt.Errorf("settling %s: %w: connection reset", id, moderation.ErrUnavailable)
	}
	return q.Queue.Settle(ctx, id, s)
}

// TestReviewTheQueueFailingMidDecision: Stream confirmed, but the queue
// could not record it; the lease runs out, the try again finds Stream's
// work done, and the item is done once.
func TestReviewTheQueueFailingMidDecision(t *testing.T) {
	t.Parallel()
	r, pub, c := newReviews(t)
	r.Queue = &flakyQueue{Queue: r.Queue}
	hold(t, r, pendingHeld("p1", c.Now()))
	if h, err := r.Decide(context.Background(), "p1", approve("ann")); err != nil || h.State != moderation.HeldDeciding {
		t.Fatalf("a decision the queue could not settle: %+v %v", h, err)
	}
	if h, _ := r.Get(context.Background(), "p1"); h.State != moderation.HeldDeciding || h.LeaseUntil.IsZero() {
		t.Fatalf("item %+v", h)
	}
	pub.errs = []error{fmt.Errorf("%w: message is not pending", moderation.ErrAlreadyDone)}
	c.add(moderation.DefaultLease)
	if n, _ := r.Pass(context.Background()); n != 1 {
		t.Fatalf("the pass after the lease: %d, calls %v", n, pub.got())
	}
	if h, _ := r.Get(context.Background(), "p1"); h.State != moderation.HeldDone {
		t.Fatalf("item %+v", h)
	}
	if got := fmt.Sprint(audit(t, r, "p1")); got != "[held by modgate approved by ann]" {
		t.Fatalf("audit %s", got)
	}
}
