package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/modgate/modgate/moderation"
)

// MemoryAudit keeps the newest entries of the audit log in a ring buffer.
type MemoryAudit struct {
	mu      sync.Mutex
	entries []moderation.AuditEntry // ring
	next    uint64                  // sequence number of the next entry
}

var _ moderation.AuditLog = (*MemoryAudit)(nil)

// DefaultAuditEntries bounds the audit log in memory.
const DefaultAuditEntries = 10_000

// NewMemoryAudit keeps the newest size entries (0: the default).
func NewMemoryAudit(size int) *MemoryAudit {
	if size <= 0 {
		size = DefaultAuditEntries
	}
	return &MemoryAudit{entries: make([]moderation.AuditEntry, size)}
}

// Record implements moderation.AuditLog.
func (a *MemoryAudit) Record(_ context.Context, e moderation.AuditEntry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	e.Cursor = strconv.FormatUint(a.next, 10)
	a.entries[a.next%uint64(len(a.entries))] = e
	a.next++
	return nil
}

// List implements moderation.AuditLog; cursors are sequence numbers.
func (a *MemoryAudit) List(_ context.Context, cursor string, limit int) ([]moderation.AuditEntry, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	limit = moderation.PageSize(limit)
	from := a.next // exclusive
	if cursor != "" {
		n, err := strconv.ParseUint(cursor, 10, 64)
		if err != nil || n > a.next {
			return nil, "", fmt.Errorf("cursor %q: %w", cursor, moderation.ErrInvalid)
		}
		from = n
	}
	oldest := uint64(0)
	if a.next > uint64(len(a.entries)) {
		oldest = a.next - uint64(len(a.entries))
	}
	var out []moderation.AuditEntry
	i := from
	for ; i > oldest && len(out) < limit; i-- {
		out = append(out, a.entries[(i-1)%uint64(len(a.entries))])
	}
	next := ""
	if i > oldest && len(out) > 0 {
		next = out[len(out)-1].Cursor
	}
	return out, next, nil
}

// RedisAudit keeps the audit log in a Redis stream capped near MaxLen entries.
type RedisAudit struct {
	client redis.UniversalClient
	key    string
	maxLen int64
}

var _ moderation.AuditLog = (*RedisAudit)(nil)

// Audit returns the audit log kept in r's Redis, capped near maxLen entries
// (0: 100,000).
func (r *Redis) Audit(maxLen int64) *RedisAudit {
	if maxLen <= 0 {
		maxLen = 100_000
	}
	return &RedisAudit{client: r.client, key: r.prefix + "audit", maxLen: maxLen}
}

// Record implements moderation.AuditLog.
func (a *RedisAudit) Record(ctx context.Context, e moderation.AuditEntry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return a.client.XAdd(ctx, &redis.XAddArgs{Stream: a.key, MaxLen: a.maxLen, Approx: true,
		Values: []any{"e", data}}).Err()
}

// List implements moderation.AuditLog; cursors are stream ids.
func (a *RedisAudit) List(ctx context.Context, cursor string, limit int) ([]moderation.AuditEntry, string, error) {
	limit = moderation.PageSize(limit)
	end := "+"
	if cursor != "" {
		end = "(" + cursor
	}
	msgs, err := a.client.XRevRangeN(ctx, a.key, end, "-", int64(limit+1)).Result()
	if err != nil {
		if cursor != "" {
			return nil, "", fmt.Errorf("cursor %q: %w", cursor, moderation.ErrInvalid)
		}
		return nil, "", fmt.Errorf("reading the audit log: %w", err)
	}
	var out []moderation.AuditEntry
	for _, m := range msgs[:min(limit, len(msgs))] {
		var e moderation.AuditEntry
		s, _ := m.Values["e"].(string)
		if json.Unmarshal([]byte(s), &e) != nil {
			continue
		}
		e.Cursor = m.ID
		out = append(out, e)
	}
	next := ""
	if len(msgs) > limit && len(out) > 0 {
		next = out[len(out)-1].Cursor
	}
	return out, next, nil
}
