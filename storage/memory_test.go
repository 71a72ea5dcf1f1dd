package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/modgate/modgate/moderation"
)

// TestCountersMatchAPlainLog drives counters with random traffic (limits
// from 1 to 10, so both inline and long logs, windows from a second to 40
// days, so both sides of maxInlineWindow) and compares every answer with a
// plain sliding-window log.
func TestCountersMatchAPlainLog(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	m := NewMemory(MemoryOptions{})
	type ref struct {
		limit  int
		window time.Duration
		times  []time.Time
	}
	refs := map[string]*ref{}
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for _, k := range keys {
		windows := []time.Duration{time.Second, 10 * time.Second, time.Minute, time.Hour, 40 * 24 * time.Hour}
		refs[k] = &ref{limit: 1 + rng.IntN(10), window: windows[rng.IntN(len(windows))]}
	}
	now := time.Now().UTC().Truncate(time.Second)
	for i := range 20000 {
		k := keys[rng.IntN(len(keys))]
		r := refs[k]
		// Gaps in whole milliseconds, mostly short, sometimes past a window.
		gap := time.Duration(rng.IntN(300)) * time.Millisecond
		if rng.IntN(50) == 0 {
			gap = time.Duration(rng.IntN(90)) * time.Second
		}
		now = now.Add(gap)

		kept := r.times[:0]
		for _, at := range r.times {
			if at.After(now.Add(-r.window)) {
				kept = append(kept, at)
			}
		}
		r.times = kept
		wantAllowed, wantCount := len(r.times) < r.limit, len(r.times)
		var wantRetry time.Duration
		if wantAllowed {
			r.times = append(r.times, now)
			wantCount++
		} else {
			wantRetry = r.times[0].Add(r.window).Sub(now)
		}

		hits := []moderation.Hit{{Key: k, Limit: r.limit, Window: r.window}}
		if _, err := m.Count(context.Background(), moderation.Claim{}, nil, now, time.Time{}, hits); err != nil {
			t.Fatal(err)
		}
		h := hits[0]
		if h.Allowed != wantAllowed || h.Count != wantCount || h.RetryAfter != wantRetry {
			t.Fatalf("hit %d on %s (limit %d per %v): allowed %v count %d retry %v; want %v %d %v",
				i, k, r.limit, r.window, h.Allowed, h.Count, h.RetryAfter, wantAllowed, wantCount, wantRetry)
		}
	}
}

// TestCounterIsSmall: the map of counters holds 48-byte values.
func TestCounterIsSmall(t *testing.T) {
	t.Parallel()
	if size := unsafeSizeof(counter{}); size > 48 {
		t.Fatalf("a counter takes %d bytes", size)
	}
}

func unsafeSizeof(c counter) uintptr { return unsafe.Sizeof(c) }

// counterBytesAtMost bounds what a counter costs; the README gives the
// measured figure (about 100 bytes).
const counterBytesAtMost = 160

// TestCounterMemory measures the heap a counter takes, map room included,
// from runtime.MemStats: 250,000 counters (the default bound) of a limit
// by user. The README states the figure; this holds it.
func TestCounterMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 250,000 counters")
	}
	const n = DefaultCounterEntries
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("flood|user=user-%d", i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := NewMemory(MemoryOptions{})
	now := time.Now()
	hits := make([]moderation.Hit, 1)
	for i, k := range keys {
		hits[0] = moderation.Hit{Key: k, Limit: 5, Window: 10 * time.Second}
		m.Count(context.Background(), moderation.Claim{}, nil, now.Add(time.Duration(i)*time.Microsecond), time.Time{}, hits)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	kept := 0
	for i := range m.counters {
		kept += len(m.counters[i].entries)
	}
	runtime.KeepAlive(m)
	per := float64(after.HeapAlloc-before.HeapAlloc) / float64(kept)
	t.Logf("%d counters kept: %.0f bytes of heap each, %.1f MB in all", kept, per, per*float64(kept)/1e6)
	if per > counterBytesAtMost {
		t.Fatalf("a counter takes %.0f bytes, more than the %d the README says", per, counterBytesAtMost)
	}
}
