package storage

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestMemoryReplays(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)}
	m := NewMemory(MemoryOptions{Now: clock.Now})

	if _, ok, _ := m.Recall(ctx, "a"); ok {
		t.Fatal("unknown id recalled")
	}
	m.Remember(ctx, "a", []byte("first"), time.Minute)
	m.Remember(ctx, "a", []byte("second"), time.Minute)
	if got, ok, _ := m.Recall(ctx, "a"); !ok || string(got) != "first" {
		t.Fatalf("recall %q %v: the first answer must win", got, ok)
	}
	clock.Advance(59 * time.Second)
	if _, ok, _ := m.Recall(ctx, "a"); !ok {
		t.Fatal("forgotten before its TTL")
	}
	clock.Advance(time.Second)
	if _, ok, _ := m.Recall(ctx, "a"); ok {
		t.Fatal("recalled after its TTL")
	}
	m.Remember(ctx, "a", []byte("third"), time.Minute)
	if got, _, _ := m.Recall(ctx, "a"); string(got) != "third" {
		t.Fatalf("after expiry a new answer is stored, got %q", got)
	}
}

func TestMemoryReplaysAreBounded(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(MemoryOptions{ReplayEntries: 16 * 10, ReplayBytes: 16 * 1000})
	for i := range 10_000 {
		m.Remember(ctx, fmt.Sprint("id-", i), make([]byte, 50), time.Hour)
	}
	entries, bytes := 0, 0
	for i := range m.shards {
		s := &m.shards[i]
		entries += s.order.Len()
		bytes += s.bytes
		if s.order.Len() > s.maxN || s.bytes > s.maxBytes {
			t.Fatalf("shard %d holds %d entries, %d bytes", i, s.order.Len(), s.bytes)
		}
	}
	if entries == 0 || entries > 160 || bytes > 16*1000 {
		t.Fatalf("%d entries, %d bytes", entries, bytes)
	}
	// The newest answers are the ones kept.
	if _, ok, _ := m.Recall(ctx, "id-9999"); !ok {
		t.Fatal("newest answer evicted")
	}
	// An answer larger than a shard is not stored, and evicts nothing.
	m.Remember(ctx, "huge", make([]byte, 2000), time.Hour)
	if _, ok, _ := m.Recall(ctx, "huge"); ok {
		t.Fatal("oversized answer stored")
	}
}

func TestMemoryReplaysConcurrent(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(MemoryOptions{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				id := fmt.Sprint("id-", i%300)
				m.Remember(ctx, id, []byte(fmt.Sprint(g)), time.Minute)
				if _, ok, _ := m.Recall(ctx, id); !ok {
					t.Errorf("%s not recalled right after it was stored", id)
					return
				}
			}
		}()
	}
	wg.Wait()
}
