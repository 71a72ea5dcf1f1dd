package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/modgate/modgate/moderation"
)

// RedisQueue is the review queue in Redis: it survives restarts of modgate
// and is shared by every process. Each item is a hash (the held message as
// JSON, and its state, error, attempts and deadline as fields a script
// changes atomically) kept until a day past its deadline; an index orders
// the items by the time they were held, and a second one those that carry a
// decision of the rules to be carried out (QueueFilter.Decided), so that
// retrying them does not read the whole queue.
type RedisQueue struct {
	client redis.UniversalClient
	prefix string
}

var _ moderation.Queue = (*RedisQueue)(nil)

// Queue returns the review queue kept in r's Redis under r's prefix.
func (r *Redis) Queue() *RedisQueue {
	return &RedisQueue{client: r.client, prefix: r.prefix}
}

// expiredGrace is how long an item is kept past its deadline, so that an
// approval then is told "expired" rather than "not found".
const expiredGrace = 24 * time.Hour

func (q *RedisQueue) itemKey(id string) string { return q.prefix + "q:item:" + id }
func (q *RedisQueue) indexKey() string         { return q.prefix + "q:index" }
func (q *RedisQueue) decidedKey() string       { return q.prefix + "q:decided" }

var queuePut = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'state', 'waiting', 'error', '', 'attempts', 0, 'deadline', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[5])
if ARGV[6] == '1' then redis.call('ZADD', KEYS[3], ARGV[2], ARGV[5]) end
return 1
`)

// Put implements moderation.Queue.
func (q *RedisQueue) Put(ctx context.Context, h moderation.Held) error {
	h.State, h.LastError, h.Attempts = "", "", 0 // kept in their own fields
	data, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("queueing %s: %w", h.ID, err)
	}
	deadline := h.Deadline.UnixMilli()
	decided := "0"
	if h.Decision != "" {
		decided = "1"
	}
	err = queuePut.Run(ctx, q.client, []string{q.itemKey(h.ID), q.indexKey(), q.decidedKey()},
		data, h.HeldAt.UnixMilli(), deadline, h.Deadline.Add(expiredGrace).UnixMilli(), h.ID, decided).Err()
	if err != nil {
		return fmt.Errorf("queueing %s: %w", h.ID, err)
	}
	return nil
}

func decodeHeld(fields map[string]string) (moderation.Held, error) {
	var h moderation.Held
	if err := json.Unmarshal([]byte(fields["data"]), &h); err != nil {
		return h, fmt.Errorf("a queued item is unreadable: %w", err)
	}
	h.State = moderation.HeldState(fields["state"])
	h.LastError = fields["error"]
	h.Attempts, _ = strconv.Atoi(fields["attempts"])
	return h, nil
}

// Get implements moderation.Queue.
func (q *RedisQueue) Get(ctx context.Context, id string, now time.Time) (moderation.Held, error) {
	fields, err := q.client.HGetAll(ctx, q.itemKey(id)).Result()
	if err != nil {
		return moderation.Held{}, fmt.Errorf("reading %s: %w", id, err)
	}
	if len(fields) == 0 {
		return moderation.Held{}, moderation.ErrNotFound
	}
	h, err := decodeHeld(fields)
	if err != nil {
		return h, err
	}
	if !now.Before(h.Deadline) {
		return h, moderation.ErrExpired
	}
	return h, nil
}

// List implements moderation.Queue: it walks the index from the cursor,
// reading items in batches and keeping those the filter selects.
func (q *RedisQueue) List(ctx context.Context, f moderation.QueueFilter, now time.Time) ([]moderation.Held, string, error) {
	min := "-inf"
	var at int64
	var afterID string
	if f.Cursor != "" {
		var err error
		if at, afterID, err = decodeCursor(f.Cursor); err != nil {
			return nil, "", err
		}
		min = strconv.FormatInt(at, 10)
	}
	limit := moderation.PageSize(f.Limit)
	index := q.indexKey()
	if f.Decided {
		index = q.decidedKey()
	}
	var page []moderation.Held
	const batch = 200
	for offset := int64(0); ; offset += batch {
		ids, err := q.client.ZRangeArgs(ctx, redis.ZRangeArgs{Key: index, Start: min, Stop: "+inf",
			ByScore: true, Offset: offset, Count: batch}).Result()
		if err != nil {
			return nil, "", fmt.Errorf("listing the queue: %w", err)
		}
		if len(ids) == 0 {
			return page, "", nil
		}
		pipe := q.client.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, len(ids))
		for i, id := range ids {
			cmds[i] = pipe.HGetAll(ctx, q.itemKey(id))
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, "", fmt.Errorf("listing the queue: %w", err)
		}
		var gone []any
		for i, cmd := range cmds {
			fields := cmd.Val()
			if len(fields) == 0 {
				gone = append(gone, ids[i]) // expired with its key
				continue
			}
			h, err := decodeHeld(fields)
			if err != nil || !now.Before(h.Deadline) || !f.Matches(&h) {
				continue
			}
			if f.Cursor != "" && !after(&h, at, afterID) {
				continue
			}
			if len(page) == limit {
				return page, encodeCursor(&page[len(page)-1]), nil
			}
			page = append(page, h)
		}
		if len(gone) > 0 {
			q.client.ZRem(ctx, index, gone...)
			offset -= int64(len(gone))
		}
		if len(ids) < batch {
			return page, "", nil
		}
	}
}

var queueClaim = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 'notfound' end
if tonumber(redis.call('HGET', KEYS[1], 'deadline')) <= tonumber(ARGV[1]) then return 'expired' end
if redis.call('HGET', KEYS[1], 'state') == 'deciding' then return 'conflict' end
redis.call('HSET', KEYS[1], 'state', 'deciding')
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return 'ok'
`)

// Claim implements moderation.Queue, atomically.
func (q *RedisQueue) Claim(ctx context.Context, id string, now time.Time) (moderation.Held, error) {
	res, err := queueClaim.Run(ctx, q.client, []string{q.itemKey(id)}, now.UnixMilli()).Text()
	if err != nil {
		return moderation.Held{}, fmt.Errorf("claiming %s: %w", id, err)
	}
	switch res {
	case "notfound":
		return moderation.Held{}, moderation.ErrNotFound
	case "expired":
		h, _ := q.Get(ctx, id, now)
		return h, moderation.ErrExpired
	case "conflict":
		h, _ := q.Get(ctx, id, now)
		return h, moderation.ErrConflict
	}
	return q.Get(ctx, id, now)
}

var queueFail = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 'notfound' end
if redis.call('HGET', KEYS[1], 'state') ~= 'deciding' then return 'conflict' end
redis.call('HSET', KEYS[1], 'state', 'failed', 'error', ARGV[1])
return 'ok'
`)

// Fail implements moderation.Queue.
func (q *RedisQueue) Fail(ctx context.Context, id, reason string) error {
	res, err := queueFail.Run(ctx, q.client, []string{q.itemKey(id)}, reason).Text()
	switch {
	case err != nil:
		return fmt.Errorf("marking %s failed: %w", id, err)
	case res == "notfound":
		return moderation.ErrNotFound
	case res == "conflict":
		return moderation.ErrConflict
	}
	return nil
}

// Remove implements moderation.Queue.
func (q *RedisQueue) Remove(ctx context.Context, id string) error {
	var del *redis.IntCmd
	_, err := q.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		del = p.Del(ctx, q.itemKey(id))
		p.ZRem(ctx, q.indexKey(), id)
		p.ZRem(ctx, q.decidedKey(), id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("removing %s: %w", id, err)
	}
	if del.Val() == 0 {
		return moderation.ErrNotFound
	}
	return nil
}
