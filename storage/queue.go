package storage

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modgate/modgate/moderation"
)

// cursor names the last item of a page: items come ordered by the
// millisecond they were held, then by id (the order of the Redis index).
func encodeCursor(h *moderation.Held) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(h.HeldAt.UnixMilli(), 10) + ":" + h.ID))
}

func decodeCursor(c string) (int64, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", fmt.Errorf("cursor %q: %w", c, moderation.ErrInvalid)
	}
	at, id, ok := strings.Cut(string(raw), ":")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil {
		return 0, "", fmt.Errorf("cursor %q: %w", c, moderation.ErrInvalid)
	}
	return n, id, nil
}

// after reports whether h comes after the cursor position.
func after(h *moderation.Held, at int64, id string) bool {
	n := h.HeldAt.UnixMilli()
	return n > at || (n == at && h.ID > id)
}

// MemoryQueue is the review queue in this process: lost on restart (use
// Redis to keep held messages across restarts), bounded by MaxItems.
type MemoryQueue struct {
	mu       sync.Mutex
	items    map[string]*moderation.Held
	maxItems int
}

var _ moderation.Queue = (*MemoryQueue)(nil)

// DefaultQueueItems bounds a memory queue.
const DefaultQueueItems = 100_000

// NewMemoryQueue returns an empty queue holding at most maxItems (0: the default).
func NewMemoryQueue(maxItems int) *MemoryQueue {
	if maxItems <= 0 {
		maxItems = DefaultQueueItems
	}
	return &MemoryQueue{items: map[string]*moderation.Held{}, maxItems: maxItems}
}

// Put implements moderation.Queue.
func (q *MemoryQueue) Put(_ context.Context, h moderation.Held) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.items[h.ID]; ok {
		return nil
	}
	if len(q.items) >= q.maxItems {
		return fmt.Errorf("the review queue holds %d messages: %w", len(q.items), moderation.ErrUnavailable)
	}
	if h.State == "" {
		h.State = moderation.HeldWaiting
	}
	q.items[h.ID] = &h
	return nil
}

// Get implements moderation.Queue.
func (q *MemoryQueue) Get(_ context.Context, id string, now time.Time) (moderation.Held, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	h, ok := q.items[id]
	switch {
	case !ok:
		return moderation.Held{}, moderation.ErrNotFound
	case !now.Before(h.Deadline):
		return *h, moderation.ErrExpired
	}
	return *h, nil
}

// List implements moderation.Queue.
func (q *MemoryQueue) List(_ context.Context, f moderation.QueueFilter, now time.Time) ([]moderation.Held, string, error) {
	var at int64
	var id string
	if f.Cursor != "" {
		var err error
		if at, id, err = decodeCursor(f.Cursor); err != nil {
			return nil, "", err
		}
	}
	q.mu.Lock()
	var all []*moderation.Held
	for _, h := range q.items {
		if now.Before(h.Deadline) && f.Matches(h) && (f.Cursor == "" || after(h, at, id)) {
			all = append(all, h)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i].HeldAt.UnixMilli(), all[j].HeldAt.UnixMilli()
		if a != b {
			return a < b
		}
		return all[i].ID < all[j].ID
	})
	limit := moderation.PageSize(f.Limit)
	page := make([]moderation.Held, 0, min(limit, len(all)))
	for _, h := range all[:min(limit, len(all))] {
		page = append(page, *h)
	}
	q.mu.Unlock()
	next := ""
	if len(all) > limit {
		next = encodeCursor(&page[len(page)-1])
	}
	return page, next, nil
}

// Claim implements moderation.Queue.
func (q *MemoryQueue) Claim(_ context.Context, id string, now time.Time) (moderation.Held, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	h, ok := q.items[id]
	switch {
	case !ok:
		return moderation.Held{}, moderation.ErrNotFound
	case !now.Before(h.Deadline):
		return *h, moderation.ErrExpired
	case h.State == moderation.HeldDeciding:
		return *h, moderation.ErrConflict
	}
	h.State = moderation.HeldDeciding
	h.Attempts++
	return *h, nil
}

// Fail implements moderation.Queue.
func (q *MemoryQueue) Fail(_ context.Context, id, reason string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	h, ok := q.items[id]
	if !ok {
		return moderation.ErrNotFound
	}
	if h.State != moderation.HeldDeciding {
		return moderation.ErrConflict
	}
	h.State, h.LastError = moderation.HeldFailed, reason
	return nil
}

// Remove implements moderation.Queue.
func (q *MemoryQueue) Remove(_ context.Context, id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.items[id]; !ok {
		return moderation.ErrNotFound
	}
	delete(q.items, id)
	return nil
}
