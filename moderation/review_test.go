package moderation_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/storage"
)

// fakePublisher records what would reach Stream, and fails on demand.
type fakePublisher struct {
	mu    sync.Mutex
	calls []string
	fail  error
}

func (p *fakePublisher) call(s string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	p.calls = append(p.calls, s)
	return nil
}

func (p *fakePublisher) Commit(_ context.Context, id string) error { return p.call("commit " + id) }
func (p *fakePublisher) Delete(_ context.Context, id string) error { return p.call("delete " + id) }
func (p *fakePublisher) Send(_ context.Context, h *moderation.Held) error {
	return p.call("send " + h.ChannelCID + " " + h.Text)
}

func newReviews(t *testing.T) (*moderation.Reviews, *fakePublisher, *time.Time) {
	now := time.Now().UTC().Truncate(time.Second)
	pub := &fakePublisher{}
	return &moderation.Reviews{Queue: storage.NewMemoryQueue(0), Publisher: pub, Audit: storage.NewMemoryAudit(0),
		Now: func() time.Time { return now }}, pub, &now
}

func pendingHeld(id string, now time.Time) moderation.Held {
	return moderation.Held{ID: id, MessageID: id, Hook: moderation.HookPending, ChannelCID: "messaging:a", UserID: "u",
		Text: "hi " + id, Rules: []string{"new-accounts-with-links"}, RulesVersion: "v1", HeldAt: now, Deadline: now.Add(time.Hour)}
}

func TestReviewDecisionsReachStreamOnce(t *testing.T) {
	r, pub, now := newReviews(t)
	ctx := context.Background()
	for i := range 10 {
		if err := r.Hold(ctx, pendingHeld(fmt.Sprint("p", i), *now)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range 10 {
		for j := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprint("p", i)
				var err error
				if j%2 == 0 {
					_, err = r.Decide(ctx, id, moderation.Approve, "ann", "")
				} else {
					_, err = r.Decide(ctx, id, moderation.Reject, "bob", "spam")
				}
				if err != nil && !errors.Is(err, moderation.ErrConflict) && !errors.Is(err, moderation.ErrNotFound) {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	if len(pub.calls) != 10 {
		t.Fatalf("%d calls to Stream for 10 messages: %v", len(pub.calls), pub.calls)
	}
	seen := map[string]bool{}
	for _, c := range pub.calls {
		id := c[len(c)-2:]
		if seen[id] {
			t.Fatalf("two decisions for %s: %v", id, pub.calls)
		}
		seen[id] = true
	}
	entries, _, _ := r.Audit.List(ctx, "", 100)
	if len(entries) != 20 {
		t.Fatalf("%d audit entries, want 10 held and 10 decided", len(entries))
	}
}

func TestReviewStreamFailureKeepsTheItem(t *testing.T) {
	r, pub, now := newReviews(t)
	ctx := context.Background()
	r.Hold(ctx, pendingHeld("p1", *now))
	pub.fail = errors.New("stream answered 503")
	_, err := r.Decide(ctx, "p1", moderation.Approve, "ann", "")
	if !errors.Is(err, moderation.ErrUnavailable) {
		t.Fatalf("err %v", err)
	}
	h, err := r.Queue.Get(ctx, "p1", *now)
	if err != nil || h.State != moderation.HeldFailed || h.LastError == "" {
		t.Fatalf("%+v %v", h, err)
	}
	pub.fail = nil
	if _, err := r.Decide(ctx, "p1", moderation.Approve, "ann", ""); err != nil {
		t.Fatal(err)
	}
	if len(pub.calls) != 1 || pub.calls[0] != "commit p1" {
		t.Fatalf("calls %v", pub.calls)
	}
	if _, err := r.Queue.Get(ctx, "p1", *now); !errors.Is(err, moderation.ErrNotFound) {
		t.Fatal("approved item still queued")
	}
}

func TestReviewDeadlinesAndKinds(t *testing.T) {
	r, pub, now := newReviews(t)
	ctx := context.Background()
	r.Hold(ctx, pendingHeld("late", *now))
	before := pendingHeld("bs-1", *now)
	before.Hook, before.MessageID = moderation.HookBeforeSend, ""
	r.Hold(ctx, before)
	r.Hold(ctx, pendingHeld("gone", *now))
	r.Hold(ctx, pendingHeld("rej", *now))

	if _, err := r.Decide(ctx, "bs-1", moderation.Approve, "ann", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Decide(ctx, "rej", moderation.Reject, "ann", "spam"); err != nil {
		t.Fatal(err)
	}
	if err := r.Drop(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(2 * time.Hour)
	if _, err := r.Decide(ctx, "late", moderation.Approve, "ann", ""); !errors.Is(err, moderation.ErrExpired) {
		t.Fatalf("approval past the deadline: %v", err)
	}
	want := "send messaging:a hi bs-1|delete rej"
	got := ""
	for i, c := range pub.calls {
		if i > 0 {
			got += "|"
		}
		got += c
	}
	if got != want {
		t.Fatalf("calls %q, want %q", got, want)
	}
}

// listingQueue records the filters Carry lists with.
type listingQueue struct {
	moderation.Queue
	mu      sync.Mutex
	decided []bool
}

func (q *listingQueue) List(ctx context.Context, f moderation.QueueFilter, now time.Time) ([]moderation.Held, string, error) {
	q.mu.Lock()
	q.decided = append(q.decided, f.Decided)
	q.mu.Unlock()
	return q.Queue.List(ctx, f, now)
}

// TestCarryReadsTheWholeQueueUntilACleanPass: passes read the whole queue
// until one carries out everything it found, then only the items with a
// decision; a failed decision is retried by the later passes.
func TestCarryReadsTheWholeQueueUntilACleanPass(t *testing.T) {
	r, pub, now := newReviews(t)
	q := &listingQueue{Queue: r.Queue}
	r.Queue = q
	ctx := context.Background()
	for i, decision := range []string{"approve", "", "reject"} {
		h := pendingHeld(fmt.Sprint("c", i), *now)
		h.Decision = moderation.Decision(decision)
		if err := q.Put(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	pub.fail = errors.New("stream is down")
	if n, err := r.Pass(ctx); n != 0 || err == nil {
		t.Fatalf("first pass with Stream down: %d, %v", n, err)
	}
	pub.fail = nil
	if n, err := r.Pass(ctx); n != 2 || err != nil {
		t.Fatalf("second pass: %d, %v", n, err)
	}
	if n, err := r.Pass(ctx); n != 0 || err != nil {
		t.Fatalf("third pass: %d, %v", n, err)
	}
	if fmt.Sprint(q.decided) != "[false false true]" {
		t.Fatalf("passes listed with Decided %v, want whole, whole, then decided only", q.decided)
	}
	if len(pub.calls) != 2 {
		t.Fatalf("calls to Stream %v", pub.calls)
	}
}
