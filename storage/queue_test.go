package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modgate/modgate/moderation"
)

type queueStore struct {
	name string
	new  func(t *testing.T) moderation.Queue
}

func queues() []queueStore {
	return []queueStore{
		{"memory", func(t *testing.T) moderation.Queue { return NewMemoryQueue(0) }},
		{"redis", func(t *testing.T) moderation.Queue { return newTestRedis(t).Queue() }},
	}
}

func forEachQueue(t *testing.T, test func(t *testing.T, q moderation.Queue)) {
	for _, qs := range queues() {
		t.Run(qs.name, func(t *testing.T) { test(t, qs.new(t)) })
	}
}

func held(id string, at time.Duration, channel, user string, rules ...string) moderation.Held {
	return moderation.Held{ID: id, MessageID: id, Hook: moderation.HookPending, ChannelCID: channel, UserID: user,
		Text: "text of " + id, Rules: rules, RulesVersion: "v1", HeldAt: t0.Add(at), Deadline: t0.Add(at + time.Hour)}
}

func ids(hs []moderation.Held) string {
	s := ""
	for _, h := range hs {
		s += h.ID + " "
	}
	return s
}

func TestQueueOrderFiltersAndPages(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q moderation.Queue) {
		ctx := context.Background()
		for i := range 12 {
			ch, user := "messaging:a", fmt.Sprint("u", i%3)
			if i%2 == 1 {
				ch = "messaging:b"
			}
			if err := q.Put(ctx, held(fmt.Sprintf("m%02d", i), time.Duration(11-i)*time.Second, ch, user, "links", fmt.Sprint("r", i%4))); err != nil {
				t.Fatal(err)
			}
		}
		// Putting an id again changes nothing.
		q.Put(ctx, held("m00", -time.Hour, "x", "y"))
		now := t0.Add(30 * time.Second)
		all, next, err := q.List(ctx, moderation.QueueFilter{}, now)
		if err != nil || next != "" || ids(all) != "m11 m10 m09 m08 m07 m06 m05 m04 m03 m02 m01 m00 " {
			t.Fatalf("oldest first: %s %q %v", ids(all), next, err)
		}
		var pages []string
		f := moderation.QueueFilter{Limit: 5}
		for {
			page, next, err := q.List(ctx, f, now)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, ids(page))
			if next == "" {
				break
			}
			f.Cursor = next
		}
		if fmt.Sprint(pages) != "[m11 m10 m09 m08 m07  m06 m05 m04 m03 m02  m01 m00 ]" {
			t.Fatalf("pages %q", pages)
		}
		for _, tc := range []struct {
			f    moderation.QueueFilter
			want string
		}{
			{moderation.QueueFilter{ChannelCID: "messaging:b"}, "m11 m09 m07 m05 m03 m01 "},
			{moderation.QueueFilter{UserID: "u1"}, "m10 m07 m04 m01 "},
			{moderation.QueueFilter{Rule: "r2"}, "m10 m06 m02 "},
			{moderation.QueueFilter{HeldBefore: t0.Add(3 * time.Second)}, "m11 m10 m09 "},
			{moderation.QueueFilter{HeldAfter: t0.Add(9 * time.Second)}, "m02 m01 m00 "},
			{moderation.QueueFilter{ChannelCID: "messaging:a", Rule: "r0"}, "m08 m04 m00 "},
		} {
			got, _, err := q.List(ctx, tc.f, now)
			if err != nil || ids(got) != tc.want {
				t.Errorf("filter %+v: %s, want %s (%v)", tc.f, ids(got), tc.want, err)
			}
		}
		if _, _, err := q.List(ctx, moderation.QueueFilter{Cursor: "!!not a cursor"}, now); !errors.Is(err, moderation.ErrInvalid) {
			t.Fatalf("bad cursor: %v", err)
		}
	})
}

func TestQueueClaimIsExactlyOnce(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q moderation.Queue) {
		ctx := context.Background()
		now := t0.Add(time.Minute)
		for i := range 20 {
			q.Put(ctx, held(fmt.Sprint("c", i), 0, "messaging:a", "u", "r"))
		}
		var wins atomic.Int64
		var wg sync.WaitGroup
		for i := range 20 {
			for range 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := q.Claim(ctx, fmt.Sprint("c", i), now)
					switch {
					case err == nil:
						wins.Add(1)
					case !errors.Is(err, moderation.ErrConflict):
						t.Error(err)
					}
				}()
			}
		}
		wg.Wait()
		if wins.Load() != 20 {
			t.Fatalf("%d claims won for 20 items", wins.Load())
		}
		h, err := q.Get(ctx, "c3", now)
		if err != nil || h.State != moderation.HeldDeciding || h.Attempts != 1 {
			t.Fatalf("%+v %v", h, err)
		}
		// Stream failed: the item goes back, marked, and can be decided again.
		if err := q.Fail(ctx, "c3", "stream answered 503"); err != nil {
			t.Fatal(err)
		}
		if err := q.Fail(ctx, "c3", "again"); !errors.Is(err, moderation.ErrConflict) {
			t.Fatalf("failing a failed item: %v", err)
		}
		h, _ = q.Get(ctx, "c3", now)
		if h.State != moderation.HeldFailed || h.LastError != "stream answered 503" {
			t.Fatalf("%+v", h)
		}
		if h, err := q.Claim(ctx, "c3", now); err != nil || h.Attempts != 2 {
			t.Fatalf("retry: %+v %v", h, err)
		}
		if err := q.Remove(ctx, "c3"); err != nil {
			t.Fatal(err)
		}
		for _, op := range []func() error{
			func() error { _, err := q.Get(ctx, "c3", now); return err },
			func() error { _, err := q.Claim(ctx, "c3", now); return err },
			func() error { return q.Remove(ctx, "c3") },
			func() error { return q.Fail(ctx, "c3", "x") },
		} {
			if err := op(); !errors.Is(err, moderation.ErrNotFound) {
				t.Fatalf("after removal: %v", err)
			}
		}
	})
}

func TestQueueDeadlines(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q moderation.Queue) {
		ctx := context.Background()
		q.Put(ctx, held("late", 0, "messaging:a", "u", "r"))
		past := t0.Add(2 * time.Hour)
		if _, err := q.Claim(ctx, "late", past); !errors.Is(err, moderation.ErrExpired) {
			t.Fatalf("claim past the deadline: %v", err)
		}
		if _, err := q.Get(ctx, "late", past); !errors.Is(err, moderation.ErrExpired) {
			t.Fatalf("get past the deadline: %v", err)
		}
		if list, _, _ := q.List(ctx, moderation.QueueFilter{}, past); len(list) != 0 {
			t.Fatalf("expired items listed: %s", ids(list))
		}
	})
}

func TestRedisQueueSurvivesRestart(t *testing.T) {
	r := newTestRedis(t)
	ctx := context.Background()
	if err := r.Queue().Put(ctx, held("kept", 0, "messaging:a", "u", "r")); err != nil {
		t.Fatal(err)
	}
	// Another process (or this one after a restart) with the same prefix.
	again, err := OpenRedis(testRedisURL(t), RedisOptions{Prefix: r.prefix[1 : len(r.prefix)-2], Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	h, err := again.Queue().Get(ctx, "kept", t0.Add(time.Minute))
	if err != nil || h.Text != "text of kept" || h.State != moderation.HeldWaiting || len(h.Rules) != 1 {
		t.Fatalf("%+v %v", h, err)
	}
}

// publishCounter counts the calls a decision makes to Stream.
type publishCounter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (p *publishCounter) add(id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[id]++
	return nil
}
func (p *publishCounter) Commit(_ context.Context, id string) error        { return p.add(id) }
func (p *publishCounter) Delete(_ context.Context, id string) error        { return p.add(id) }
func (p *publishCounter) Send(_ context.Context, h *moderation.Held) error { return p.add(h.ID) }

// TestReviewsRaceExactlyOnce: many concurrent approvals and rejections of
// the same items, against both queues: exactly one effect per item.
func TestReviewsRaceExactlyOnce(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q moderation.Queue) {
		pub := &publishCounter{calls: map[string]int{}}
		now := t0.Add(time.Minute)
		r := &moderation.Reviews{Queue: q, Publisher: pub, Now: func() time.Time { return now }}
		ctx := context.Background()
		const items = 15
		for i := range items {
			if err := r.Hold(ctx, held(fmt.Sprint("race-", i), 0, "messaging:a", "u", "r")); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		for i := range items {
			for j := range 12 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id := fmt.Sprint("race-", i)
					var err error
					if j%3 == 0 {
						_, err = r.Decide(ctx, id, moderation.Reject, "bob", "")
					} else {
						_, err = r.Decide(ctx, id, moderation.Approve, "ann", "")
					}
					if err != nil && !errors.Is(err, moderation.ErrConflict) && !errors.Is(err, moderation.ErrNotFound) {
						t.Error(err)
					}
				}()
			}
		}
		wg.Wait()
		if len(pub.calls) != items {
			t.Fatalf("%d items reached Stream, want %d", len(pub.calls), items)
		}
		for id, n := range pub.calls {
			if n != 1 {
				t.Fatalf("%s reached Stream %d times", id, n)
			}
		}
	})
}

// TestQueueDecidedIndex: the items that carry a decision of the rules can
// be listed on their own, in order and in pages, and leave that list when
// removed.
func TestQueueDecidedIndex(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q moderation.Queue) {
		ctx := context.Background()
		for i, decision := range []string{"", "approve", "", "reject", "approve", ""} {
			h := held(fmt.Sprintf("d%d", i), time.Duration(i)*time.Second, "messaging:a", "u")
			h.Decision = moderation.Decision(decision)
			if err := q.Put(ctx, h); err != nil {
				t.Fatal(err)
			}
		}
		now := t0.Add(30 * time.Second)
		list := func(f moderation.QueueFilter) string {
			t.Helper()
			all := ""
			for {
				page, next, err := q.List(ctx, f, now)
				if err != nil {
					t.Fatal(err)
				}
				all += ids(page) + "| "
				if next == "" {
					return all
				}
				f.Cursor = next
			}
		}
		if got := list(moderation.QueueFilter{Decided: true, Limit: 2}); got != "d1 d3 | d4 | " {
			t.Fatalf("decided, in pages of 2: %q", got)
		}
		if err := q.Remove(ctx, "d3"); err != nil {
			t.Fatal(err)
		}
		if got := list(moderation.QueueFilter{Decided: true}); got != "d1 d4 | " {
			t.Fatalf("decided after a removal: %q", got)
		}
		if rq, ok := q.(*RedisQueue); ok {
			if n := rq.client.ZCard(ctx, rq.decidedKey()).Val(); n != 2 {
				t.Fatalf("the index of decisions holds %d ids, want 2", n)
			}
		}
		if got := list(moderation.QueueFilter{}); got != "d0 d1 d2 d4 d5 | " {
			t.Fatalf("whole queue: %q", got)
		}
	})
}
