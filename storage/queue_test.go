package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/modgate/modgate/moderation"
)

type queueStore struct {
	name string
	new  func(t *testing.T, max int) moderation.Queue
}

func queues() []queueStore {
	return []queueStore{
		{"memory", func(t *testing.T, max int) moderation.Queue { return NewMemoryQueue(max) }},
		{"redis", func(t *testing.T, max int) moderation.Queue { return newTestRedis(t).Queue(max) }},
	}
}

// forEachQueue runs one contract test against both queues.
func forEachQueue(t *testing.T, test func(t *testing.T, q moderation.Queue)) {
	t.Parallel()
	for _, qs := range queues() {
		t.Run(qs.name, func(t *testing.T) {
			t.Parallel()
			test(t, qs.new(t, 0))
		})
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

func put(t *testing.T, q moderation.Queue, h moderation.Held) {
	t.Helper()
	if added, err := q.Put(context.Background(), h); err != nil || !added {
		t.Fatalf("put %s: %v %v", h.ID, added, err)
	}
}

func lease(now time.Time) moderation.Take {
	return moderation.Take{Lease: fmt.Sprint("lease-", now.UnixNano()), Now: now, LeaseUntil: now.Add(time.Minute)}
}

func approveBy(actor string, now time.Time) moderation.Take {
	t := lease(now)
	t.Decision, t.Actor = moderation.Approve, actor
	return t
}

func TestQueueOrderFiltersAndPages(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q moderation.Queue) {
		ctx := context.Background()
		for i := range 12 {
			ch, user := "messaging:a", fmt.Sprint("u", i%3)
			if i%2 == 1 {
				ch = "messaging:b"
			}
			put(t, q, held(fmt.Sprintf("m%02d", i), time.Duration(11-i)*time.Second, ch, user, "links", fmt.Sprint("r", i%4)))
		}
		// Putting an id again changes nothing.
		if added, err := q.Put(ctx, held("m00", -time.Hour, "x", "y")); added || err != nil {
			t.Fatalf("put again: %v %v", added, err)
		}
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
		// Newest first, in pages, with items held in the same millisecond.
		put(t, q, held("m05b", 6*time.Second, "messaging:b", "u2", "r1"))
		put(t, q, held("m05a", 6*time.Second, "messaging:b", "u2", "r1"))
		for _, tc := range []struct {
			name string
			f    moderation.QueueFilter
			want string
		}{
			{"newest first", moderation.QueueFilter{Newest: true, Limit: 5},
				"[m00 m01 m02 m03 m04  m05b m05a m05 m06 m07  m08 m09 m10 m11 ]"},
			{"newest first, filtered", moderation.QueueFilter{Newest: true, ChannelCID: "messaging:b", HeldBefore: t0.Add(8 * time.Second),
				HeldAfter: t0.Add(2 * time.Second), Limit: 2}, "[m05b m05a  m05 m07  m09 ]"},
			{"newest first, in pages of one", moderation.QueueFilter{Newest: true, Rule: "r1", Limit: 1},
				"[m01  m05b  m05a  m05  m09 ]"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var pages []string
				f := tc.f
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
				if fmt.Sprint(pages) != tc.want {
					t.Fatalf("pages %q, want %s", pages, tc.want)
				}
			})
		}
		for _, id := range []string{"m05a", "m05b"} {
			if _, err := q.Remove(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name string
			f    moderation.QueueFilter
			want string
		}{
			{"channel", moderation.QueueFilter{ChannelCID: "messaging:b"}, "m11 m09 m07 m05 m03 m01 "},
			{"user", moderation.QueueFilter{UserID: "u1"}, "m10 m07 m04 m01 "},
			{"rule", moderation.QueueFilter{Rule: "r2"}, "m10 m06 m02 "},
			{"held before", moderation.QueueFilter{HeldBefore: t0.Add(3 * time.Second)}, "m11 m10 m09 "},
			{"held after", moderation.QueueFilter{HeldAfter: t0.Add(9 * time.Second)}, "m02 m01 m00 "},
			{"channel and rule", moderation.QueueFilter{ChannelCID: "messaging:a", Rule: "r0"}, "m08 m04 m00 "},
			{"user and channel", moderation.QueueFilter{UserID: "u0", ChannelCID: "messaging:b"}, "m09 m03 "},
			{"user, in pages", moderation.QueueFilter{UserID: "u2", HeldAfter: t0.Add(3 * time.Second), Limit: 2}, "m08 m05 "},
			{"unknown user", moderation.QueueFilter{UserID: "nobody"}, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, _, err := q.List(ctx, tc.f, now)
				if err != nil || ids(got) != tc.want {
					t.Errorf("filter %+v: %s, want %s (%v)", tc.f, ids(got), tc.want, err)
				}
			})
		}
		if _, _, err := q.List(ctx, moderation.QueueFilter{Cursor: "!!not a cursor"}, now); !errors.Is(err, moderation.ErrInvalid) {
			t.Fatalf("bad cursor: %v", err)
		}
	})
}

// TestQueueTakeIsExactlyOnce: of many concurrent takes of one item, one
// wins; a settled failure lets the next try take it, and only the try that
// holds the lease settles.
func TestQueueTakeIsExactlyOnce(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q moderation.Queue) {
		ctx := context.Background()
		now := t0.Add(time.Minute)
		for i := range 20 {
			put(t, q, held(fmt.Sprint("c", i), 0, "messaging:a", "u", "r"))
		}
		var wins atomic.Int64
		var wg sync.WaitGroup
		for i := range 20 {
			for j := range 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					take := approveBy(fmt.Sprint("mod", j), now)
					take.Lease = fmt.Sprint("lease-", j)
					_, err := q.Take(ctx, fmt.Sprint("c", i), take)
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
			t.Fatalf("%d takes won for 20 items", wins.Load())
		}
		h, err := q.Get(ctx, "c3")
		if err != nil || h.State != moderation.HeldDeciding || h.Attempts != 1 || h.Decision != moderation.Approve ||
			!strings.HasPrefix(h.DecidedBy, "mod") || !h.LeaseUntil.Equal(now.Add(time.Minute)) {
			t.Fatalf("%+v %v", h, err)
		}
		// Only the lease's holder settles.
		if _, err := q.Settle(ctx, "c3", moderation.Settle{Lease: "someone else", Now: now}); !errors.Is(err, moderation.ErrConflict) {
			t.Fatalf("settled by another: %v", err)
		}
		// Stream failed: the item is due again at RetryAt.
		retry := now.Add(30 * time.Second)
		h, err = q.Settle(ctx, "c3", moderation.Settle{Lease: h.Lease, Now: now, Error: "stream answered 503", Unsure: true, RetryAt: retry})
		if err != nil || h.State != moderation.HeldDeciding || h.LastError != "stream answered 503" || !h.Unsure || !h.RetryAt.Equal(retry) {
			t.Fatalf("after a failed try: %+v %v", h, err)
		}
		if _, err := q.Take(ctx, "c3", lease(now)); !errors.Is(err, moderation.ErrConflict) {
			t.Fatalf("a retry before its time: %v", err)
		}
		h, err = q.Take(ctx, "c3", lease(retry))
		if err != nil || h.Attempts != 2 || h.Decision != moderation.Approve {
			t.Fatalf("retry: %+v %v", h, err)
		}
		h, err = q.Settle(ctx, "c3", moderation.Settle{Lease: h.Lease, Now: retry, Done: true, KeepUntil: retry.Add(time.Hour)})
		if err != nil || h.State != moderation.HeldDone || !h.Unsure || h.LastError != "" {
			t.Fatalf("done: %+v %v", h, err)
		}
		// Done: readable, not listed, not decided again, not counted.
		if h, err := q.Get(ctx, "c3"); err != nil || h.State != moderation.HeldDone {
			t.Fatalf("get a done item: %+v %v", h, err)
		}
		if list, _, _ := q.List(ctx, moderation.QueueFilter{UserID: "u"}, retry); strings.Contains(ids(list), "c3 ") {
			t.Fatalf("a done item is listed: %s", ids(list))
		}
		if _, err := q.Take(ctx, "c3", approveBy("bob", retry)); !errors.Is(err, moderation.ErrConflict) {
			t.Fatalf("deciding a done item: %v", err)
		}
		if n, _ := q.Len(ctx); n != 19 {
			t.Fatalf("len %d, want 19", n)
		}
		if added, err := q.Put(ctx, held("c3", 0, "messaging:a", "u", "r")); added || err != nil {
			t.Fatalf("a done item put again: %v %v", added, err)
		}
		if _, err := q.Remove(ctx, "c3"); err != nil {
			t.Fatal(err)
		}
		for _, op := range []func() error{
			func() error { _, err := q.Get(ctx, "c3"); return err },
			func() error { _, err := q.Take(ctx, "c3", approveBy("ann", now)); return err },
			func() error { _, err := q.Remove(ctx, "c3"); return err },
			func() error { _, err := q.Settle(ctx, "c3", moderation.Settle{Lease: "x"}); return err },
		} {
			if err := op(); !errors.Is(err, moderation.ErrNotFound) {
				t.Fatalf("after removal: %v", err)
			}
		}
	})
}

// TestQueueLeases: a try's lease that runs out makes the item due, and the
// next try takes it over; the first can no longer settle it.
func TestQueueLeases(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q moderation.Queue) {
		ctx := context.Background()
		now := t0.Add(time.Minute)
		put(t, q, held("l1", 0, "messaging:a", "u", "r"))
		first, err := q.Take(ctx, "l1", approveBy("ann", now))
		if err != nil {
			t.Fatal(err)
		}
		if due, _ := q.Due(ctx, now.Add(30*time.Second), 10); len(due) != 0 {
			t.Fatalf("due within the lease: %s", ids(due))
		}
		if _, err := q.Take(ctx, "l1", lease(now.Add(30*time.Second))); !errors.Is(err, moderation.ErrConflict) {
			t.Fatalf("taken within the lease: %v", err)
		}
		later := now.Add(61 * time.Second)
		if due, _ := q.Due(ctx, later, 10); ids(due) != "l1 " {
			t.Fatalf("due after the lease: %s", ids(due))
		}
		second, err := q.Take(ctx, "l1", lease(later))
		if err != nil || second.Decision != moderation.Approve || second.DecidedBy != "ann" || second.Attempts != 2 {
			t.Fatalf("takeover: %+v %v", second, err)
		}
		if _, err := q.Settle(ctx, "l1", moderation.Settle{Lease: first.Lease, Now: later, Done: true}); !errors.Is(err, moderation.ErrConflict) {
			t.Fatalf("the first try settled after losing its lease: %v", err)
		}
		if _, err := q.Settle(ctx, "l1", moderation.Settle{Lease: second.Lease, Now: later, Done: true, KeepUntil: later.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if due, _ := q.Due(ctx, later.Add(time.Hour), 10); len(due) != 0 {
			t.Fatalf("done, yet due: %s", ids(due))
		}
	})
}

// TestQueueRevise: a newer delivery of an item's message replaces its
// content and indexes at once; a decision other than a rejection gives way
// to a moderator's, and a try under way loses its lease (its approval
// marked unconfirmed); a rejection of the new text replaces any decision
// and is due at once; a rejection stands; done and past-deadline items
// are not revised.
func TestQueueRevise(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q moderation.Queue) {
		ctx := context.Background()
		now := t0.Add(time.Minute)
		masked := "b ****"
		revision := func(reject bool) moderation.Revision {
			return moderation.Revision{Text: "b damn", Spans: []moderation.Span{{Rule: "r2", Start: 2, End: 6, Term: "damn"}},
				Patch: &moderation.Patch{Text: &masked}, Rules: []string{"r2"},
				Terms: []string{"damn"}, RulesVersion: "v2", Reject: reject, Reason: "changed", Now: now}
		}
		put(t, q, held("v1", 0, "messaging:a", "u", "r1"))
		h, err := q.Revise(ctx, "v1", revision(false))
		if err != nil || h.State != moderation.HeldWaiting || h.Text != "b damn" || h.ApprovedText() != masked ||
			h.RulesVersion != "v2" || h.Revisions != 1 || fmt.Sprint(h.Rules) != "[r2]" || len(h.Spans) != 1 || h.Spans[0].End != 6 {
			t.Fatalf("revised while waiting: %+v %v", h, err)
		}
		for rule, want := range map[string]string{"r1": "", "r2": "v1 "} {
			if list, _, _ := q.List(ctx, moderation.QueueFilter{Rule: rule}, now); ids(list) != want {
				t.Fatalf("rule %s lists %q", rule, ids(list))
			}
		}
		// A moderator's decision about the text as it was is refused.
		stale, seen := approveBy("ann", now), 0
		stale.Revisions = &seen
		if _, err := q.Take(ctx, "v1", stale); !errors.Is(err, moderation.ErrChanged) || !errors.Is(err, moderation.ErrConflict) {
			t.Fatalf("a decision about an older revision: %v", err)
		}
		// An approval under way gives way to a moderator.
		seen = 1
		taken, err := q.Take(ctx, "v1", stale)
		if err != nil {
			t.Fatalf("a decision about this revision: %v", err)
		}
		h, err = q.Revise(ctx, "v1", revision(false))
		if err != nil || h.State != moderation.HeldWaiting || h.Decision != "" || h.DecidedBy != "" || !h.Unsure ||
			!h.LeaseUntil.IsZero() || h.Revisions != 2 {
			t.Fatalf("revised under an approval's lease: %+v %v", h, err)
		}
		if _, err := q.Settle(ctx, "v1", moderation.Settle{Lease: taken.Lease, Now: now, Done: true}); !errors.Is(err, moderation.ErrConflict) {
			t.Fatalf("the try that lost its lease settled: %v", err)
		}
		if due, _ := q.Due(ctx, now.Add(time.Hour-time.Second), 10); len(due) != 0 {
			t.Fatalf("waiting, yet due: %s", ids(due))
		}
		// Rejected by the rules: due at once, whatever was decided.
		taken, _ = q.Take(ctx, "v1", approveBy("ann", now))
		h, err = q.Revise(ctx, "v1", revision(true))
		if err != nil || h.State != moderation.HeldDeciding || h.Decision != moderation.Reject || h.DecidedBy != "modgate" ||
			h.Reason != "changed" || h.Lease != "" {
			t.Fatalf("rejected: %+v %v", h, err)
		}
		if due, _ := q.Due(ctx, now, 10); ids(due) != "v1 " {
			t.Fatalf("a rejection is due at once: %s", ids(due))
		}
		// A rejection stands.
		h, err = q.Revise(ctx, "v1", revision(false))
		if err != nil || h.Decision != moderation.Reject || h.State != moderation.HeldDeciding || h.Revisions != 4 {
			t.Fatalf("a rejection revised: %+v %v", h, err)
		}
		taken, _ = q.Take(ctx, "v1", lease(now))
		q.Settle(ctx, "v1", moderation.Settle{Lease: taken.Lease, Now: now, Done: true, KeepUntil: now.Add(time.Hour)})
		if _, err := q.Revise(ctx, "v1", revision(true)); !errors.Is(err, moderation.ErrConflict) {
			t.Fatalf("a done item revised: %v", err)
		}
		put(t, q, held("v2", 0, "messaging:a", "u", "r1"))
		past := revision(true)
		past.Now = t0.Add(time.Hour)
		if _, err := q.Revise(ctx, "v2", past); !errors.Is(err, moderation.ErrExpired) {
			t.Fatalf("revised past the deadline: %v", err)
		}
		if _, err := q.Revise(ctx, "nope", revision(true)); !errors.Is(err, moderation.ErrNotFound) {
			t.Fatalf("an unknown item: %v", err)
		}
	})
}

// TestQueueDecisionsAndForce: a moderator may change a decision between
// tries; replacing an approval that may have reached Stream with a
// rejection takes Force; a decision Stream refused fails the item, which a
// moderator may decide again.
func TestQueueDecisionsAndForce(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q moderation.Queue) {
		ctx := context.Background()
		now := t0.Add(time.Minute)
		put(t, q, held("f1", 0, "messaging:a", "u", "r"))
		h, _ := q.Take(ctx, "f1", approveBy("ann", now))
		q.Settle(ctx, "f1", moderation.Settle{Lease: h.Lease, Now: now, Error: "timeout", Unsure: true, RetryAt: now.Add(time.Hour)})
		reject := lease(now)
		reject.Decision, reject.Actor, reject.Reason = moderation.Reject, "bob", "spam"
		if _, err := q.Take(ctx, "f1", reject); !errors.Is(err, moderation.ErrUnconfirmed) {
			t.Fatalf("rejecting an unconfirmed approval: %v", err)
		}
		reject.Force = true
		h, err := q.Take(ctx, "f1", reject)
		if err != nil || h.Decision != moderation.Reject || h.DecidedBy != "bob" || h.Reason != "spam" || !h.Unsure {
			t.Fatalf("forced: %+v %v", h, err)
		}
		// Refused for good: failed, and a moderator may decide again.
		h, err = q.Settle(ctx, "f1", moderation.Settle{Lease: h.Lease, Now: now, Error: "stream answered 403"})
		if err != nil || h.State != moderation.HeldFailed {
			t.Fatalf("refused: %+v %v", h, err)
		}
		if list, _, _ := q.List(ctx, moderation.QueueFilter{}, now); ids(list) != "f1 " || list[0].State != moderation.HeldFailed {
			t.Fatalf("a failed item is listed: %s", ids(list))
		}
		if _, err := q.Take(ctx, "f1", lease(now.Add(2*time.Hour))); err == nil {
			t.Fatal("a failed item was retried without a moderator")
		}
		if h, err := q.Take(ctx, "f1", approveBy("carl", now)); err != nil || h.DecidedBy != "carl" {
			t.Fatalf("deciding a failed item again: %+v %v", h, err)
		}
		// A failure whose retry would come after the deadline fails for good.
		put(t, q, held("f2", 0, "messaging:a", "u", "r"))
		h, _ = q.Take(ctx, "f2", approveBy("ann", now))
		if h, _ := q.Settle(ctx, "f2", moderation.Settle{Lease: h.Lease, Now: now, Error: "503", RetryAt: t0.Add(2 * time.Hour)}); h.State != moderation.HeldFailed {
			t.Fatalf("retry past the deadline: %+v", h)
		}
	})
}

// TestQueueExpiry: past its deadline an item can no longer be decided; the
// sweep closes it once, and leaves one whose try holds a live lease.
func TestQueueExpiry(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q moderation.Queue) {
		ctx := context.Background()
		put(t, q, held("w", 0, "messaging:a", "u", "r"))
		put(t, q, held("d", 0, "messaging:a", "u", "r"))
		put(t, q, held("busy", 0, "messaging:a", "u", "r"))
		put(t, q, held("fresh", time.Hour, "messaging:a", "u", "r"))
		h, _ := q.Take(ctx, "d", approveBy("ann", t0))
		q.Settle(ctx, "d", moderation.Settle{Lease: h.Lease, Now: t0, Error: "503", RetryAt: t0.Add(time.Minute)})
		deadline := t0.Add(time.Hour)
		q.Take(ctx, "busy", approveBy("ann", deadline.Add(-time.Second)))
		past := deadline.Add(time.Second)
		if _, err := q.Take(ctx, "w", approveBy("ann", past)); !errors.Is(err, moderation.ErrExpired) {
			t.Fatalf("take past the deadline: %v", err)
		}
		if list, _, _ := q.List(ctx, moderation.QueueFilter{}, past); ids(list) != "fresh " {
			t.Fatalf("listed past the deadline: %s", ids(list))
		}
		closed, err := q.Expire(ctx, past, 10)
		got := map[string]moderation.HeldState{}
		for _, h := range closed {
			got[h.ID] = h.State
		}
		if err != nil || len(closed) != 2 || got["w"] != moderation.HeldWaiting || got["d"] != moderation.HeldDeciding {
			t.Fatalf("expired %v %v", got, err)
		}
		if closed, _ := q.Expire(ctx, past, 10); len(closed) != 0 {
			t.Fatalf("expired twice: %s", ids(closed))
		}
		if h, _ := q.Get(ctx, "w"); h.State != moderation.HeldExpired {
			t.Fatalf("w: %+v", h)
		}
		if h, _ := q.Get(ctx, "d"); h.State != moderation.HeldFailed || h.LastError != moderation.DeadlinePassed {
			t.Fatalf("d: %+v", h)
		}
		if n, _ := q.Len(ctx); n != 2 {
			t.Fatalf("len %d: the busy and the fresh one stay open", n)
		}
		if closed, _ := q.Expire(ctx, past.Add(2*time.Minute), 10); ids(closed) != "busy " {
			t.Fatalf("after the lease: %s", ids(closed))
		}
	})
}

// TestQueueOneMessageOneItem: the same message put many times at once, or
// again by another process or after a restart, makes one item.
func TestQueueOneMessageOneItem(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q moderation.Queue) {
		ctx := context.Background()
		var added atomic.Int64
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := q.Put(ctx, held("once", 0, "messaging:a", "u", "r"))
				if err != nil {
					t.Error(err)
				}
				if ok {
					added.Add(1)
				}
			}()
		}
		wg.Wait()
		if added.Load() != 1 {
			t.Fatalf("%d puts added the item", added.Load())
		}
		if n, _ := q.Len(ctx); n != 1 {
			t.Fatalf("len %d", n)
		}
	})
}

func TestQueueCap(t *testing.T) {
	t.Parallel()
	for _, qs := range queues() {
		t.Run(qs.name, func(t *testing.T) {
			t.Parallel()
			q := qs.new(t, 2)
			ctx := context.Background()
			put(t, q, held("a", 0, "messaging:a", "u", "r"))
			put(t, q, held("b", 0, "messaging:a", "u", "r"))
			if _, err := q.Put(ctx, held("c", 0, "messaging:a", "u", "r")); !errors.Is(err, moderation.ErrFull) {
				t.Fatalf("a third item: %v", err)
			}
			// A closed item leaves room.
			h, _ := q.Take(ctx, "a", approveBy("ann", t0))
			q.Settle(ctx, "a", moderation.Settle{Lease: h.Lease, Now: t0, Done: true, KeepUntil: t0.Add(time.Hour)})
			put(t, q, held("c", 0, "messaging:a", "u", "r"))
		})
	}
}

// TestQueueDecidedItemsAreDue: an item put with the rules' decision is due
// at once.
func TestQueueDecidedItemsAreDue(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q moderation.Queue) {
		ctx := context.Background()
		for i, d := range []moderation.Decision{"", moderation.Approve, "", moderation.Reject} {
			h := held(fmt.Sprint("d", i), time.Duration(i)*time.Second, "messaging:a", "u")
			if d != "" {
				h.Decision, h.State, h.DecidedBy = d, moderation.HeldDeciding, "modgate"
			}
			put(t, q, h)
		}
		due, err := q.Due(ctx, t0.Add(time.Minute), 10)
		if err != nil || ids(due) != "d1 d3 " || due[1].Decision != moderation.Reject {
			t.Fatalf("due %s %v", ids(due), err)
		}
		if h, err := q.Take(ctx, "d1", lease(t0.Add(time.Minute))); err != nil || h.Decision != moderation.Approve || h.DecidedBy != "modgate" {
			t.Fatalf("take the rules' decision: %+v %v", h, err)
		}
	})
}

// commandCounter counts the commands a Redis client sends, by name.
type commandCounter struct {
	mu    sync.Mutex
	count map[string]int
}

func (c *commandCounter) add(cmds ...redis.Cmder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cmd := range cmds {
		c.count[cmd.Name()]++
	}
}

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.add(cmd); return next(ctx, cmd) }
}
func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.add(cmds...); return next(ctx, cmds) }
}

// TestRedisFilteredListReadsOnlyItsItems: a list by sender, channel or rule
// reads the items of its index, not the others.
func TestRedisFilteredListReadsOnlyItsItems(t *testing.T) {
	t.Parallel()
	r := newTestRedis(t)
	q := r.Queue(0)
	for i := range 300 {
		put(t, q, held(fmt.Sprint("x", i), time.Duration(i)*time.Millisecond, fmt.Sprint("messaging:c", i%10), fmt.Sprint("u", i%100),
			fmt.Sprint("r", i%30)))
	}
	counter := &commandCounter{count: map[string]int{}}
	r.client.AddHook(counter)
	for _, tc := range []struct {
		name string
		f    moderation.QueueFilter
		want int
	}{
		{"user", moderation.QueueFilter{UserID: "u7"}, 3},
		{"rule", moderation.QueueFilter{Rule: "r7"}, 10},
		{"channel", moderation.QueueFilter{ChannelCID: "messaging:c7"}, 30},
		{"user and channel: the smaller index", moderation.QueueFilter{UserID: "u7", ChannelCID: "messaging:c7"}, 3},
		{"nobody", moderation.QueueFilter{UserID: "nobody"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counter.mu.Lock()
			counter.count = map[string]int{}
			counter.mu.Unlock()
			list, _, err := q.List(context.Background(), tc.f, t0.Add(time.Second))
			counter.mu.Lock()
			read := counter.count["hgetall"]
			counter.mu.Unlock()
			if err != nil || len(list) != tc.want || read != tc.want {
				t.Fatalf("%d items, %d read (%v)", len(list), read, err)
			}
		})
	}
}

// TestRedisQueueSurvivesRestart: another process (or this one after a
// restart) with the same prefix finds the items, and does not queue them
// twice.
func TestRedisQueueSurvivesRestart(t *testing.T) {
	t.Parallel()
	r := newTestRedis(t)
	ctx := context.Background()
	put(t, r.Queue(0), held("kept", 0, "messaging:a", "u", "r"))
	again, err := OpenRedis(testRedisURL(t), RedisOptions{Prefix: r.prefix[1 : len(r.prefix)-2], Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	q := again.Queue(0)
	h, err := q.Get(ctx, "kept")
	if err != nil || h.Text != "text of kept" || h.State != moderation.HeldWaiting || len(h.Rules) != 1 {
		t.Fatalf("%+v %v", h, err)
	}
	if added, err := q.Put(ctx, held("kept", 0, "messaging:a", "u", "r")); added || err != nil {
		t.Fatalf("put again after a restart: %v %v", added, err)
	}
}

// TestRedisQueueTakesOverAnOlderLayout: items an older modgate queued (in
// the index by time only, the rules' decision inside the item) are indexed
// and their decisions become due.
func TestRedisQueueTakesOverAnOlderLayout(t *testing.T) {
	t.Parallel()
	r := newTestRedis(t)
	q := r.Queue(0)
	ctx := context.Background()
	old := func(id, state string, decision moderation.Decision) {
		h := held(id, 0, "messaging:a", "u9", "r")
		h.Decision = decision
		data, _ := json.Marshal(h)
		r.client.HSet(ctx, q.itemKey(id), "data", data, "state", state, "error", "", "attempts", 0, "deadline", h.Deadline.UnixMilli())
		r.client.ZAdd(ctx, q.indexKey(), redis.Z{Score: float64(h.HeldAt.UnixMilli()), Member: id})
		if decision != "" {
			r.client.ZAdd(ctx, q.base+"decided", redis.Z{Score: float64(h.HeldAt.UnixMilli()), Member: id})
		}
	}
	old("held", "waiting", "")
	old("allowed", "failed", moderation.Approve)
	old("stuck", "deciding", "")
	now := t0.Add(time.Minute)
	list, _, err := q.List(ctx, moderation.QueueFilter{UserID: "u9"}, now)
	if err != nil || len(list) != 3 {
		t.Fatalf("by sender after the takeover: %s %v", ids(list), err)
	}
	due, _ := q.Due(ctx, now, 10)
	if ids(due) != "allowed " || due[0].Decision != moderation.Approve {
		t.Fatalf("due %s", ids(due))
	}
	if h, _ := q.Get(ctx, "stuck"); h.State != moderation.HeldFailed || h.LastError == "" {
		t.Fatalf("a try an older modgate left: %+v", h)
	}
	if h, _ := q.Get(ctx, "held"); h.State != moderation.HeldWaiting || h.Decision != "" {
		t.Fatalf("a held one: %+v", h)
	}
	if n := r.client.Exists(ctx, q.base+"decided").Val(); n != 0 {
		t.Fatal("the older index is left")
	}
}
