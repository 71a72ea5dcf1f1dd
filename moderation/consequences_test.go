package moderation_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// Consequences, reports and telling senders, through the review flow:
// queued, carried out once, retried with backoff, written to the audit log.

func banVerdict() *moderation.Verdict {
	return &moderation.Verdict{Action: rules.ActionReject, RuleID: "profanity", RulesVersion: "v1",
		Fired: []moderation.Firing{{RuleID: "profanity", Action: rules.ActionReject,
			Matches: []rules.Match{{Start: 9, End: 13, Term: "fuck", List: "profanity"}}}},
		Consequences: []moderation.Consequence{
			{Do: rules.DoBan, RuleID: "profanity", Minutes: 15, Reason: "third strike", Strikes: 3, StrikesWithin: "10 minutes"},
			{Do: rules.DoShadowBan, RuleID: "profanity", Minutes: 60, Reason: "watch", Observed: true, Strikes: 3, StrikesWithin: "1 hour"},
		}}
}

// auditEntries returns the audit log, oldest first.
func auditEntries(t *testing.T, r *moderation.Reviews) []moderation.AuditEntry {
	t.Helper()
	entries, _, err := r.Audit.List(context.Background(), moderation.AuditFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(entries)
	return entries
}

func TestConsequencesAreCarriedOutOnce(t *testing.T) {
	t.Parallel()
	r, pub, _ := newReviews(t)
	msg := strikeMessage("u-1", "what the fuck")
	v := banVerdict()
	// The same delivery twice (a retry the engine could not tell, another
	// process): one ban.
	r.Consequences(msg, v, "wh-3")
	r.Consequences(msg, v, "wh-3")
	r.Wait()
	if got := pub.got(); !slices.Equal(got, []string{"ban u-1 15"}) {
		t.Fatalf("calls %v", got)
	}
	var actions []string
	for _, e := range auditEntries(t, r) {
		actions = append(actions, fmt.Sprintf("%s %s strikes=%d %s", e.Action, e.UserID, e.Strikes, e.Reason))
	}
	want := []string{
		"would_shadow_ban u-1 strikes=3 watch; 3 strikes within 1 hour; for 1 hour",
		"banned u-1 strikes=3 third strike; 3 strikes within 10 minutes; for 15 minutes",
	}
	if !slices.Equal(actions[:1], want[:1]) || !slices.Contains(actions, want[1]) || len(actions) != 3 {
		// would_ is written at once, twice (two deliveries); the ban once.
		t.Fatalf("audit:\n%s", actions)
	}
	items, _, _ := r.List(context.Background(), moderation.QueueFilter{})
	if len(items) != 0 {
		t.Fatalf("a done consequence is listed: %+v", items)
	}
}

func TestAConsequenceIsRetriedUntilItLands(t *testing.T) {
	t.Parallel()
	r, pub, c := newReviews(t)
	pub.errs = []error{fmt.Errorf("stream: 503: %w", moderation.ErrUnavailable), errors.New("connection reset")}
	v := banVerdict()
	v.Consequences = v.Consequences[:1]
	r.Consequences(strikeMessage("u-1", "fuck"), v, "wh-1")
	r.Wait()
	items, _, _ := r.List(context.Background(), moderation.QueueFilter{})
	if len(items) != 1 || items[0].State != moderation.HeldDeciding || items[0].Attempts != 1 || items[0].Kind != moderation.KindConsequence {
		t.Fatalf("after a failed try: %+v", items)
	}
	for range 2 {
		c.add(time.Minute) // past the backoff, within the ban's 15 minutes
		if _, err := r.Pass(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := pub.got(); len(got) != 3 {
		t.Fatalf("calls %v", got)
	}
	h, err := r.Get(context.Background(), items[0].ID)
	if err != nil || h.State != moderation.HeldDone || h.Attempts != 3 {
		t.Fatalf("%+v %v", h, err)
	}
	// A pass after it landed tries nothing more.
	c.add(time.Minute)
	r.Pass(context.Background())
	if got := pub.got(); len(got) != 3 {
		t.Fatalf("calls after done %v", got)
	}
}

func TestLiftingABan(t *testing.T) {
	t.Parallel()
	r, pub, c := newReviews(t)
	v := banVerdict()
	v.Consequences = v.Consequences[:1]
	r.Consequences(strikeMessage("u-1", "fuck"), v, "wh-1")
	r.Wait()
	ban := auditEntries(t, r)[0].ItemID
	lift, err := r.Lift(context.Background(), moderation.LiftRequest{Of: ban, Actor: "ann", Reason: "appealed"})
	if err != nil || lift.State != moderation.HeldDone || lift.Consequence.Do != moderation.DoLift || lift.Consequence.LiftsDo != rules.DoBan ||
		lift.UserID != "u-1" {
		t.Fatalf("%+v %v", lift, err)
	}
	// Lifting again changes nothing.
	again, err := r.Lift(context.Background(), moderation.LiftRequest{Of: ban, Actor: "bob"})
	if err != nil || again.ID != lift.ID || again.DecidedBy != "ann" {
		t.Fatalf("%+v %v", again, err)
	}
	if got := pub.got(); !slices.Equal(got, []string{"ban u-1 15", "lift u-1 0"}) {
		t.Fatalf("calls %v", got)
	}
	last := auditEntries(t, r)
	if e := last[len(last)-1]; e.Action != moderation.AuditLifted || e.Actor != "ann" || e.Reason != "appealed; lifts the ban of "+ban {
		t.Fatalf("audit %+v", e)
	}
	// Once the ban's item is forgotten, the request says what to lift; a
	// ban made elsewhere is lifted by what it was.
	for _, q := range []moderation.LiftRequest{
		{Of: "cq-forgotten", UserID: "u-2", Do: rules.DoShadowBan, Actor: "ann"},
		{UserID: "u-3", Do: rules.DoTimeout, ChannelCID: "messaging:a", Actor: "ann"},
	} {
		if h, err := r.Lift(context.Background(), q); err != nil || h.State != moderation.HeldDone || h.UserID != q.UserID {
			t.Fatalf("lift %+v: %+v %v", q, h, err)
		}
	}
	// What lifts nothing is refused.
	hold(t, r, pendingHeld("p1", c.Now()))
	for _, q := range []moderation.LiftRequest{
		{Of: "p1", Actor: "ann"},
		{Of: ban, UserID: "u-9", Actor: "ann"}, // the item banned another user
		{UserID: "u-4", Do: rules.DoFlag},
		{Do: rules.DoBan},
		{UserID: "u-4", Do: rules.DoTimeout},
	} {
		if _, err := r.Lift(context.Background(), q); !errors.Is(err, moderation.ErrInvalid) {
			t.Fatalf("lift %+v: %v", q, err)
		}
	}
}

func TestARejectionIsToldToItsSender(t *testing.T) {
	t.Parallel()
	r, pub, c := newReviews(t)
	h := pendingHeld("p1", c.Now())
	h.Notice = "A moderator did not approve your message."
	hold(t, r, h)
	quiet := pendingHeld("p2", c.Now())
	hold(t, r, quiet)
	if _, err := r.Decide(context.Background(), "p1", reject("ann", "spam")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Decide(context.Background(), "p2", reject("ann", "")); err != nil {
		t.Fatal(err)
	}
	r.Wait()
	if got := pub.got(); !slices.Equal(got, []string{"delete p1", "tell u 0", "delete p2"}) && !slices.Equal(got, []string{"delete p1", "delete p2", "tell u 0"}) {
		t.Fatalf("calls %v", got)
	}
	if got := audit(t, r, "tell-p1"); !slices.Equal(got, []string{"told by modgate"}) {
		t.Fatalf("audit %v", got)
	}
}

func TestReportsMakeOneItemPerMessage(t *testing.T) {
	t.Parallel()
	r, pub, c := newReviews(t)
	ctx := context.Background()
	target := moderation.ReportTarget{MessageID: "m1", UserID: "author", ChannelCID: "messaging:a", Text: "buy my stuff"}
	for i, who := range []string{"u1", "u2", "u1", "u3"} {
		h, fresh, err := r.Report(ctx, target, moderation.Reporter{UserID: who, Reason: "spam " + who, Source: moderation.ReportCommand}, 0)
		if err != nil || fresh == (i == 2) {
			t.Fatalf("report %d by %s: fresh %v, %v", i, who, fresh, err)
		}
		c.add(time.Second)
		_ = h
	}
	items, _, _ := r.List(ctx, moderation.QueueFilter{})
	if len(items) != 1 || items[0].Kind != moderation.KindReport || items[0].Report.Count != 3 || len(items[0].Report.Reporters) != 3 ||
		items[0].Report.Reporters[0].UserID != "u1" || items[0].Report.Reporters[1].Reason != "spam u2" {
		t.Fatalf("items %+v", items)
	}
	if _, _, err := r.Report(ctx, target, moderation.Reporter{UserID: "author", Source: moderation.ReportCommand}, 0); !errors.Is(err, moderation.ErrSelfReport) {
		t.Fatalf("a report of one's own message: %v", err)
	}
	// A moderator removes it: a soft delete in Stream.
	if _, err := r.Decide(ctx, items[0].ID, reject("ann", "")); err != nil {
		t.Fatal(err)
	}
	r.Wait()
	if got := pub.got(); !slices.Equal(got, []string{"remove m1"}) {
		t.Fatalf("calls %v", got)
	}
	// Reported again once decided: counted, not opened again.
	if _, fresh, err := r.Report(ctx, target, moderation.Reporter{UserID: "u9", Source: moderation.ReportStream}, 0); err != nil || !fresh {
		t.Fatalf("%v %v", fresh, err)
	}
	if items, _, _ := r.List(ctx, moderation.QueueFilter{}); len(items) != 0 {
		t.Fatalf("a decided report opened again: %+v", items)
	}
	// A message deleted in Stream leaves the queue.
	other := moderation.ReportTarget{MessageID: "m2", UserID: "author"}
	r.Report(ctx, other, moderation.Reporter{UserID: "u1", Source: moderation.ReportStream}, 0)
	if gone, err := r.Forget(ctx, "m2"); !gone || err != nil {
		t.Fatalf("forget: %v %v", gone, err)
	}
	if gone, err := r.Forget(ctx, "m2"); gone || err != nil {
		t.Fatalf("forget again: %v %v", gone, err)
	}
	if items, _, _ := r.List(ctx, moderation.QueueFilter{}); len(items) != 0 {
		t.Fatalf("a deleted message's report is listed: %+v", items)
	}
}
