package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

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
func (a *MemoryAudit) List(_ context.Context, f moderation.AuditFilter) ([]moderation.AuditEntry, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	limit := moderation.PageSize(f.Limit)
	from := a.next // exclusive
	if f.Cursor != "" {
		n, err := strconv.ParseUint(f.Cursor, 10, 64)
		if err != nil || n > a.next {
			return nil, "", fmt.Errorf("cursor %q: %w", f.Cursor, moderation.ErrInvalid)
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
		e := &a.entries[(i-1)%uint64(len(a.entries))]
		if f.Matches(e) && (f.Since.IsZero() || !e.At.Before(f.Since)) {
			out = append(out, *e)
		}
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

// auditReadMax bounds the entries one List reads from Redis: a filter
// that selects few entries gets short pages and a cursor to go on.
const auditReadMax = 2000

// auditSkew is how far the clock of the Redis server (which dates the
// stream's ids) may be behind the entries' own times, for Since.
const auditSkew = time.Minute

// List implements moderation.AuditLog; cursors are stream ids. It reads
// back from the cursor, and no further back than Since.
func (a *RedisAudit) List(ctx context.Context, f moderation.AuditFilter) ([]moderation.AuditEntry, string, error) {
	limit := moderation.PageSize(f.Limit)
	end, start := "+", "-"
	if f.Cursor != "" {
		end = "(" + f.Cursor
	}
	if !f.Since.IsZero() {
		start = strconv.FormatInt(max(f.Since.Add(-auditSkew).UnixMilli(), 0), 10)
	}
	var out []moderation.AuditEntry
	last, read := "", 0
	for len(out) < limit && read < auditReadMax {
		batch := min(max(2*(limit-len(out)), 50), auditReadMax-read)
		msgs, err := a.client.XRevRangeN(ctx, a.key, end, start, int64(batch)).Result()
		if err != nil {
			if f.Cursor != "" {
				return nil, "", fmt.Errorf("cursor %q: %w", f.Cursor, moderation.ErrInvalid)
			}
			return nil, "", fmt.Errorf("reading the audit log: %w: %w", moderation.ErrUnavailable, err)
		}
		read += len(msgs)
		for i, m := range msgs {
			var e moderation.AuditEntry
			s, _ := m.Values["e"].(string)
			if json.Unmarshal([]byte(s), &e) != nil || (!f.Since.IsZero() && e.At.Before(f.Since)) || !f.Matches(&e) {
				last = m.ID
				continue
			}
			e.Cursor = m.ID
			out = append(out, e)
			last = m.ID
			if len(out) == limit {
				more := i+1 < len(msgs) || len(msgs) == batch
				if !more {
					last = ""
				}
				return out, last, nil
			}
		}
		if len(msgs) < batch {
			return out, "", nil // the start of the log (or of Since)
		}
		end = "(" + last
	}
	return out, last, nil
}
