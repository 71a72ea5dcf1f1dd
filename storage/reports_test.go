package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/modgate/modgate/moderation"
)

// Reports and kinds in the queue: one item per reported message, every
// reporter once, their count exact under concurrency; kinds kept and
// filtered.

func TestQueueReporters(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q moderation.Queue) {
		ctx := context.Background()
		h := moderation.Held{ID: "rp-1", Kind: moderation.KindReport, MessageID: "m1", UserID: "author", ChannelCID: "messaging:a",
			Text: "reported", HeldAt: t0, Deadline: t0.Add(time.Hour)}
		if _, _, err := q.AddReporter(ctx, "rp-1", moderation.Reporter{UserID: "u0"}); !errors.Is(err, moderation.ErrNotFound) {
			t.Fatalf("a reporter of no item: %v", err)
		}
		put(t, q, h)
		const n = moderation.MaxReporters + 20
		var wg sync.WaitGroup
		fresh := make([]bool, 2*n)
		for i := range 2 * n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				who := fmt.Sprint("u", i%n) // each twice
				_, ok, err := q.AddReporter(ctx, "rp-1", moderation.Reporter{UserID: who, Reason: "spam", Source: moderation.ReportCommand,
					At: t0.Add(time.Duration(i%n) * time.Second)})
				if err != nil {
					t.Error(err)
				}
				fresh[i] = ok
			}()
		}
		wg.Wait()
		added := 0
		for _, ok := range fresh {
			if ok {
				added++
			}
		}
		got, err := q.Get(ctx, "rp-1")
		if err != nil {
			t.Fatal(err)
		}
		if added != n || got.Report == nil || got.Report.Count != n || len(got.Report.Reporters) != moderation.MaxReporters {
			t.Fatalf("%d new reporters, report %+v", added, got.Report)
		}
		if got.Kind != moderation.KindReport || got.MessageID != "m1" || got.Text != "reported" {
			t.Fatalf("item %+v", got)
		}
		// Listed by kind.
		put(t, q, held("p1", time.Second, "messaging:a", "author", "r"))
		report, message := moderation.KindReport, moderation.KindMessage
		for _, tc := range []struct {
			kind *moderation.ItemKind
			want string
		}{{nil, "rp-1 p1 "}, {&report, "rp-1 "}, {&message, "p1 "}} {
			items, _, err := q.List(ctx, moderation.QueueFilter{Kind: tc.kind}, t0)
			if err != nil || ids(items) != tc.want {
				t.Fatalf("kind %v: %q %v", tc.kind, ids(items), err)
			}
		}
		// Removed, and reported anew: a new item, its reporters its own.
		if _, err := q.Remove(ctx, "rp-1"); err != nil {
			t.Fatal(err)
		}
		put(t, q, h)
		if _, ok, err := q.AddReporter(ctx, "rp-1", moderation.Reporter{UserID: "u1"}); !ok || err != nil {
			t.Fatalf("a reporter of the new item: %v %v", ok, err)
		}
		if got, _ := q.Get(ctx, "rp-1"); got.Report.Count != 1 {
			t.Fatalf("the new item: %+v", got.Report)
		}
	})
}
