package storage

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
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

// next reports whether h comes after the cursor position in the order f
// lists: held first first, or newest first.
func next(f *moderation.QueueFilter, h *moderation.Held, at int64, id string) bool {
	if f.Newest {
		n := h.HeldAt.UnixMilli()
		return n < at || (n == at && h.ID < id)
	}
	return after(h, at, id)
}

// heldOrder orders items as lists return them.
func heldOrder(a, b *moderation.Held) int {
	if n, m := a.HeldAt.UnixMilli(), b.HeldAt.UnixMilli(); n != m {
		return int(min(max(n-m, -1), 1))
	}
	return strings.Compare(a.ID, b.ID)
}

// expiredGrace is how long an item is kept past its deadline, so that a
// decision then is told "expired" rather than "not found".
const expiredGrace = 24 * time.Hour

// DefaultQueueItems is the default maximum of open items in a queue.
const DefaultQueueItems = 100_000

// MemoryQueue is the review queue in this process: lost on restart (use
// Redis to keep held messages across restarts). Open items are indexed by
// sender, channel and rule, so that a filtered list reads only the items it
// may return.
type MemoryQueue struct {
	mu       sync.Mutex
	items    map[string]*memItem // every item, until forgotten
	open     map[string]*memItem
	byUser   map[string]map[string]*memItem
	byChan   map[string]map[string]*memItem
	byRule   map[string]map[string]*memItem
	maxItems int
}

type memItem struct {
	moderation.Held
	forget    time.Time           // when the item is dropped
	reporters map[string]struct{} // who reported it, Report listing the first
}

var _ moderation.Queue = (*MemoryQueue)(nil)

// NewMemoryQueue returns an empty queue holding at most maxItems open
// items (0: DefaultQueueItems).
func NewMemoryQueue(maxItems int) *MemoryQueue {
	if maxItems <= 0 {
		maxItems = DefaultQueueItems
	}
	return &MemoryQueue{items: map[string]*memItem{}, open: map[string]*memItem{}, byUser: map[string]map[string]*memItem{},
		byChan: map[string]map[string]*memItem{}, byRule: map[string]map[string]*memItem{}, maxItems: maxItems}
}

func addTo(index map[string]map[string]*memItem, key string, it *memItem) {
	m := index[key]
	if m == nil {
		m = map[string]*memItem{}
		index[key] = m
	}
	m[it.ID] = it
}

func dropFrom(index map[string]map[string]*memItem, key, id string) {
	if m := index[key]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(index, key)
		}
	}
}

// close takes an item out of the lists.
func (q *MemoryQueue) close(it *memItem) {
	delete(q.open, it.ID)
	dropFrom(q.byUser, it.UserID, it.ID)
	dropFrom(q.byChan, it.ChannelCID, it.ID)
	for _, r := range it.Rules {
		dropFrom(q.byRule, r, it.ID)
	}
}

// Put implements moderation.Queue.
func (q *MemoryQueue) Put(_ context.Context, h moderation.Held) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.items[h.ID]; ok {
		return false, nil
	}
	if len(q.open) >= q.maxItems {
		return false, fmt.Errorf("the review queue holds %d messages: %w", len(q.open), moderation.ErrFull)
	}
	if h.State == "" {
		h.State = moderation.HeldWaiting
	}
	if h.Decision != "" && h.DecidedAt.IsZero() {
		h.DecidedAt = h.HeldAt
	}
	h.Lease, h.RetryAt = "", time.Time{} // a decision is due at once
	it := &memItem{Held: h, forget: h.Deadline.Add(expiredGrace)}
	q.items[h.ID], q.open[h.ID] = it, it
	addTo(q.byUser, h.UserID, it)
	addTo(q.byChan, h.ChannelCID, it)
	for _, r := range h.Rules {
		addTo(q.byRule, r, it)
	}
	return true, nil
}

// Get implements moderation.Queue.
func (q *MemoryQueue) Get(_ context.Context, id string) (moderation.Held, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.items[id]
	if !ok {
		return moderation.Held{}, moderation.ErrNotFound
	}
	return it.Held, nil
}

// List implements moderation.Queue. It reads the smallest index the
// filter names, or every open item when it names none.
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
	from := q.open
	for _, ix := range []struct {
		index map[string]map[string]*memItem
		key   string
	}{{q.byUser, f.UserID}, {q.byChan, f.ChannelCID}, {q.byRule, f.Rule}} {
		if ix.key != "" && len(ix.index[ix.key]) < len(from) {
			from = ix.index[ix.key] // nil when nothing is indexed under the key
		}
	}
	var all []*moderation.Held
	for _, it := range from {
		h := &it.Held
		if now.Before(h.Deadline) && f.Matches(h) && (f.Cursor == "" || next(&f, h, at, id)) {
			all = append(all, h)
		}
	}
	slices.SortFunc(all, heldOrder)
	if f.Newest {
		slices.Reverse(all)
	}
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

// Take implements moderation.Queue.
func (q *MemoryQueue) Take(_ context.Context, id string, t moderation.Take) (moderation.Held, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.items[id]
	if !ok {
		return moderation.Held{}, moderation.ErrNotFound
	}
	h := &it.Held
	if err := takeable(h.State, h.Deadline, h.LeaseUntil, h.RetryAt, h.Decision, h.Unsure, &t); err != nil {
		return *h, err
	}
	if t.Revisions != nil && *t.Revisions != h.Revisions {
		return *h, errChanged
	}
	if t.Decision != "" {
		h.Decision, h.DecidedBy, h.Reason, h.DecidedAt = t.Decision, t.Actor, t.Reason, t.Now
	}
	h.State, h.Lease, h.LeaseUntil, h.RetryAt = moderation.HeldDeciding, t.Lease, t.LeaseUntil, time.Time{}
	h.Attempts++
	return *h, nil
}

// The refusals of Take and Settle, the same for both queues.
var (
	errDecided      = moderation.ErrorOf(moderation.ErrConflict, "the message was decided already")
	errBusy         = moderation.ErrorOf(moderation.ErrConflict, "a decision about the message is being carried out: read the item to follow it")
	errNotDue       = moderation.ErrorOf(moderation.ErrConflict, "no decision about the message is due")
	errLostLease    = moderation.ErrorOf(moderation.ErrConflict, "another try holds the item")
	errPastDeadline = moderation.ErrorOf(moderation.ErrExpired, "the message's deadline passed: it can no longer be decided")
	errChanged      = moderation.ErrorOf(moderation.ErrChanged, "the message changed since it was read (its revisions differ): read it again")
)

// takeable says whether a Take may start a try on an item in this state:
// the rules Queue.Take documents, shared by both queues (the Redis script
// follows them too).
func takeable(state moderation.HeldState, deadline, leaseUntil, retryAt time.Time, recorded moderation.Decision, unsure bool, t *moderation.Take) error {
	switch {
	case state == moderation.HeldDone:
		return errDecided
	case state == moderation.HeldExpired || !t.Now.Before(deadline):
		return errPastDeadline
	case state == moderation.HeldDeciding && leaseUntil.After(t.Now):
		return errBusy
	case t.Decision == "" && (state != moderation.HeldDeciding || retryAt.After(t.Now)):
		return errNotDue
	case t.Decision == moderation.Reject && recorded == moderation.Approve && unsure && !t.Force && state != moderation.HeldWaiting:
		return moderation.ErrUnconfirmed
	}
	return nil
}

// Settle implements moderation.Queue.
func (q *MemoryQueue) Settle(_ context.Context, id string, s moderation.Settle) (moderation.Held, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.items[id]
	if !ok {
		return moderation.Held{}, moderation.ErrNotFound
	}
	h := &it.Held
	if h.State != moderation.HeldDeciding || h.Lease != s.Lease {
		return *h, errLostLease
	}
	h.Lease, h.LeaseUntil, h.RetryAt, h.LastError = "", time.Time{}, time.Time{}, s.Error
	h.Unsure = h.Unsure || s.Unsure
	switch {
	case s.Done:
		h.State, h.DoneAt = moderation.HeldDone, s.Now
		it.forget = s.KeepUntil
		q.close(it)
	case !s.RetryAt.IsZero() && s.RetryAt.Before(h.Deadline):
		h.RetryAt = s.RetryAt
	default:
		h.State = moderation.HeldFailed
	}
	return *h, nil
}

// Due implements moderation.Queue.
func (q *MemoryQueue) Due(_ context.Context, now time.Time, limit int) ([]moderation.Held, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var due []moderation.Held
	for _, it := range q.open {
		if it.State == moderation.HeldDeciding && !dueAt(&it.Held).After(now) {
			due = append(due, it.Held)
		}
	}
	slices.SortFunc(due, func(a, b moderation.Held) int {
		if c := dueAt(&a).Compare(dueAt(&b)); c != 0 {
			return c
		}
		return heldOrder(&a, &b)
	})
	return due[:min(limit, len(due))], nil
}

// dueAt is when a deciding item is due: its retry, the end of the lease
// of the try under way, or when it was decided.
func dueAt(h *moderation.Held) time.Time {
	switch {
	case h.LeaseUntil.After(h.RetryAt):
		return h.LeaseUntil
	case !h.RetryAt.IsZero():
		return h.RetryAt
	}
	return h.DecidedAt
}

// Expire implements moderation.Queue. It also forgets the items whose time
// has come.
func (q *MemoryQueue) Expire(_ context.Context, now time.Time, limit int) ([]moderation.Held, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var closed []moderation.Held
	for _, it := range q.open {
		if len(closed) == limit {
			break
		}
		h := &it.Held
		if now.Before(h.Deadline) || (h.State == moderation.HeldDeciding && h.LeaseUntil.After(now)) {
			continue
		}
		was := *h
		switch h.State {
		case moderation.HeldWaiting:
			h.State = moderation.HeldExpired
		case moderation.HeldDeciding:
			h.State, h.LastError, h.RetryAt = moderation.HeldFailed, moderation.DeadlinePassed, time.Time{}
		}
		q.close(it)
		if was.State != moderation.HeldFailed {
			closed = append(closed, was)
		}
	}
	for id, it := range q.items {
		if !now.Before(it.forget) {
			q.close(it)
			delete(q.items, id)
		}
	}
	return closed, nil
}

// Revise implements moderation.Queue.
func (q *MemoryQueue) Revise(_ context.Context, id string, r moderation.Revision) (moderation.Held, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.items[id]
	if !ok {
		return moderation.Held{}, moderation.ErrNotFound
	}
	h := &it.Held
	switch {
	case h.State == moderation.HeldDone:
		return *h, errDecided
	case h.State == moderation.HeldExpired || !r.Now.Before(h.Deadline):
		return *h, errPastDeadline
	}
	for _, rule := range h.Rules {
		dropFrom(q.byRule, rule, id)
	}
	r.Apply(h)
	for _, rule := range h.Rules {
		addTo(q.byRule, rule, it)
	}
	reviseDecision(h, &r)
	return *h, nil
}

// reviseDecision changes the decision of an open item as a revision says
// (see moderation.Revision): the rules used by both queues (the Redis
// script follows them too).
func reviseDecision(h *moderation.Held, r *moderation.Revision) {
	if h.Decision == moderation.Reject {
		return // a rejection stands
	}
	if h.State == moderation.HeldDeciding && h.Decision == moderation.Approve && h.LeaseUntil.After(r.Now) {
		h.Unsure = true // the try under way may commit it yet
	}
	h.Lease, h.LeaseUntil, h.RetryAt = "", time.Time{}, time.Time{}
	if r.Reject {
		h.State, h.Decision, h.DecidedBy, h.Reason, h.DecidedAt = moderation.HeldDeciding, moderation.Reject, "modgate", r.Reason, r.Now
		return
	}
	h.State, h.Decision, h.DecidedBy, h.Reason, h.DecidedAt, h.LastError = moderation.HeldWaiting, "", "", "", time.Time{}, ""
}

// Remove implements moderation.Queue.
func (q *MemoryQueue) Remove(_ context.Context, id string) (moderation.Held, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.items[id]
	if !ok {
		return moderation.Held{}, moderation.ErrNotFound
	}
	q.close(it)
	delete(q.items, id)
	return it.Held, nil
}

// Len implements moderation.Queue.
func (q *MemoryQueue) Len(context.Context) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.open), nil
}

// AddReporter implements moderation.Queue.
func (q *MemoryQueue) AddReporter(_ context.Context, id string, r moderation.Reporter) (moderation.Held, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.items[id]
	if !ok {
		return moderation.Held{}, false, moderation.ErrNotFound
	}
	if _, seen := it.reporters[r.UserID]; seen {
		return it.Held, false, nil
	}
	if it.reporters == nil {
		it.reporters = map[string]struct{}{}
	}
	it.reporters[r.UserID] = struct{}{}
	rep := moderation.Report{Count: len(it.reporters)} // a new Report: the items handed out keep theirs
	if it.Report != nil {
		rep.Reporters = it.Report.Reporters
	}
	if len(rep.Reporters) < moderation.MaxReporters {
		rep.Reporters = append(slices.Clip(rep.Reporters), r)
	}
	it.Report = &rep
	return it.Held, true, nil
}
