package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/modgate/modgate/moderation"
)

// RedisQueue is the review queue in Redis: it survives restarts of modgate
// and is shared by every process. Each item is a hash: the held message as
// JSON, and its state, decision, lease and tries as fields that scripts
// change atomically; it is kept until a day past its deadline, or an hour
// once done. Sorted sets index the open items: by the time they were held
// (all of them, and per sender, channel and rule, so a filtered list reads
// only what it may return), by deadline (for expiry) and, for the deciding
// ones, by when their next try is due.
//
// Every key carries one hash tag, {prefix}, so that the scripts, which
// touch an item and its indexes at once, work on Redis Cluster; the queue
// then lives in one slot.
type RedisQueue struct {
	client   redis.UniversalClient
	base     string // the keys' prefix, hash tag included
	maxItems int
	layoutOK atomic.Bool // the indexes are known to be complete
}

var _ moderation.Queue = (*RedisQueue)(nil)

// Queue returns the review queue kept in r's Redis under r's prefix,
// holding at most maxItems open items (0: DefaultQueueItems).
func (r *Redis) Queue(maxItems int) *RedisQueue {
	if maxItems <= 0 {
		maxItems = DefaultQueueItems
	}
	// The queue's keys keep the hash tag of the prefix whatever the other
	// keys do: {modgate}:q:...
	bare := strings.Trim(strings.TrimSuffix(r.prefix, ":"), "{}")
	return &RedisQueue{client: r.client, base: "{" + bare + "}:q:", maxItems: maxItems}
}

// name makes a key name of a value: the value, or its hash when long.
func name(v string) string {
	if len(v) > 200 {
		sum := sha256.Sum256([]byte(v))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	return v
}

func (q *RedisQueue) itemKey(id string) string { return q.base + "item:" + name(id) }
func (q *RedisQueue) indexKey() string         { return q.base + "index" }
func (q *RedisQueue) dueKey() string           { return q.base + "due" }
func (q *RedisQueue) deadlinesKey() string     { return q.base + "deadlines" }
func (q *RedisQueue) userKey(id string) string { return q.base + "user:" + name(id) }
func (q *RedisQueue) chanKey(c string) string  { return q.base + "channel:" + name(c) }
func (q *RedisQueue) ruleKey(r string) string  { return q.base + "rule:" + name(r) }
func (q *RedisQueue) layoutKey() string        { return q.base + "layout" }
func (q *RedisQueue) reportersKey(id string) string {
	return q.base + "reporters:" + name(id)
}

// keys are the keys of the scripts that change an item and its indexes:
// the item, the index, the due index, the deadlines, then the item's
// sender, channel and rule indexes.
func (q *RedisQueue) keys(h *moderation.Held) []string {
	k := []string{q.itemKey(h.ID), q.indexKey(), q.dueKey(), q.deadlinesKey()}
	if h.UserID != "" {
		k = append(k, q.userKey(h.UserID))
	}
	if h.ChannelCID != "" {
		k = append(k, q.chanKey(h.ChannelCID))
	}
	return append(k, q.ruleKeys(h.Rules)...)
}

// storeErr says what failed when Redis did: the queue is unavailable.
func storeErr(what string, err error) error {
	return fmt.Errorf("%s: %w: %w", what, moderation.ErrUnavailable, err)
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

var queuePut = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local n = redis.call('ZCARD', KEYS[2])
local max = tonumber(ARGV[6])
if max > 0 and n >= max then return -1 end
if n == 0 then redis.call('SET', KEYS[#KEYS], ARGV[12], 'NX') end
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'state', ARGV[7], 'decision', ARGV[8], 'actor', ARGV[9], 'reason', ARGV[10],
  'decided_at', ARGV[11], 'attempts', 0, 'error', '', 'unsure', 0, 'retry_at', 0, 'lease', '', 'lease_until', 0,
  'done_at', 0, 'deadline', ARGV[3], 'held_at', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[5])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[5])
for i = 5, #KEYS - 1 do redis.call('ZADD', KEYS[i], ARGV[2], ARGV[5]) end
if ARGV[8] ~= '' then redis.call('ZADD', KEYS[3], ARGV[11], ARGV[5]) end
return 1
`)

// Put implements moderation.Queue. An item with a decision is due at once.
// The first item of an empty queue marks its layout as this modgate's:
// there is nothing older to take over.
func (q *RedisQueue) Put(ctx context.Context, h moderation.Held) (bool, error) {
	state := h.State
	if state == "" {
		state = moderation.HeldWaiting
	}
	decision, actor, reason, decidedAt := h.Decision, h.DecidedBy, h.Reason, ms(h.DecidedAt)
	if decision != "" && decidedAt == 0 {
		decidedAt = ms(h.HeldAt)
	}
	data, err := json.Marshal(immutable(h))
	if err != nil {
		return false, fmt.Errorf("queueing %s: %w", h.ID, err)
	}
	n, err := queuePut.Run(ctx, q.client, append(q.keys(&h), q.layoutKey()), data, ms(h.HeldAt), ms(h.Deadline),
		h.Deadline.Add(expiredGrace).UnixMilli(), h.ID, q.maxItems, string(state), string(decision), actor, reason, decidedAt,
		queueLayout).Int()
	switch {
	case err != nil:
		return false, storeErr("queueing "+h.ID, err)
	case n < 0:
		return false, fmt.Errorf("the review queue holds %d messages: %w", q.maxItems, moderation.ErrFull)
	}
	return n == 1, nil
}

// immutable is h less what changes during its review, which the hash keeps
// in fields of their own.
func immutable(h moderation.Held) moderation.Held {
	h.Report = nil // in fields of its own: see AddReporter
	h.Decision, h.DecidedBy, h.Reason, h.DecidedAt = "", "", "", time.Time{}
	h.State, h.Attempts, h.LastError, h.RetryAt, h.LeaseUntil, h.Unsure, h.DoneAt, h.Lease = "", 0, "", time.Time{}, time.Time{}, false, time.Time{}, ""
	return h
}

// decodeHeld reads an item from its hash's fields (a flat list of names
// and values, as scripts return it, or a map).
func decodeHeld(fields map[string]string) (moderation.Held, error) {
	var h moderation.Held
	if err := json.Unmarshal([]byte(fields["data"]), &h); err != nil {
		return h, fmt.Errorf("a queued item is unreadable: %w", err)
	}
	h.State = moderation.HeldState(fields["state"])
	h.LastError = fields["error"]
	h.Attempts, _ = strconv.Atoi(fields["attempts"])
	if d, ok := fields["decision"]; ok { // items queued by an older modgate keep it in data
		h.Decision = moderation.Decision(d)
		h.DecidedBy, h.Reason, h.DecidedAt = fields["actor"], fields["reason"], fromMS(fields["decided_at"])
	}
	h.Unsure = fields["unsure"] == "1"
	h.RetryAt, h.LeaseUntil, h.DoneAt = fromMS(fields["retry_at"]), fromMS(fields["lease_until"]), fromMS(fields["done_at"])
	h.Lease = fields["lease"]
	h.Report = decodeReport(fields)
	return h, nil
}

// decodeReport reads the reporters an item's hash lists (the fields
// "rep:N", N their place) and the count of them all; nil when nobody
// reported it.
func decodeReport(fields map[string]string) *moderation.Report {
	n, _ := strconv.Atoi(fields["reports"])
	if n == 0 {
		return nil
	}
	type listed struct {
		n int
		r moderation.Reporter
	}
	var all []listed
	for k, v := range fields {
		num, ok := strings.CutPrefix(k, "rep:")
		if !ok {
			continue
		}
		var l listed
		l.n, _ = strconv.Atoi(num)
		if json.Unmarshal([]byte(v), &l.r) == nil {
			all = append(all, l)
		}
	}
	slices.SortFunc(all, func(a, b listed) int { return a.n - b.n })
	rep := &moderation.Report{Count: n, Reporters: make([]moderation.Reporter, len(all))}
	for i := range all {
		rep.Reporters[i] = all[i].r
	}
	return rep
}

// queueAddReporter adds a reporter to an item: the set of everyone who
// reported it (KEYS[2], dropped when the item is new: a set left by an
// item forgotten before), the count, and the first ARGV[3] as fields.
var queueAddReporter = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'notfound'} end
local n = tonumber(redis.call('HGET', KEYS[1], 'reports') or '0')
if n == 0 then redis.call('DEL', KEYS[2]) end
local status = 'seen'
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
  status = 'ok'
  n = redis.call('HINCRBY', KEYS[1], 'reports', 1)
  if n <= tonumber(ARGV[3]) then redis.call('HSET', KEYS[1], 'rep:' .. n, ARGV[2]) end
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 1, status)
return out
`)

// AddReporter implements moderation.Queue, atomically.
func (q *RedisQueue) AddReporter(ctx context.Context, id string, r moderation.Reporter) (moderation.Held, bool, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return moderation.Held{}, false, fmt.Errorf("reporting %s: %w", id, err)
	}
	reply, err := queueAddReporter.Run(ctx, q.client, []string{q.itemKey(id), q.reportersKey(id)}, r.UserID, data,
		moderation.MaxReporters).Slice()
	if err != nil {
		return moderation.Held{}, false, storeErr("reporting "+id, err)
	}
	status, h, err := scriptHeld(reply)
	switch {
	case err != nil:
		return h, false, storeErr("reporting "+id, err)
	case status == "notfound":
		return h, false, moderation.ErrNotFound
	}
	return h, status == "ok", nil
}

// scriptHeld reads a script's reply: a status, then the item's fields.
func scriptHeld(reply []any) (string, moderation.Held, error) {
	if len(reply) == 0 {
		return "", moderation.Held{}, errors.New("empty reply")
	}
	status, _ := reply[0].(string)
	if len(reply) < 3 {
		return status, moderation.Held{}, nil
	}
	fields := make(map[string]string, len(reply)/2)
	for i := 1; i+1 < len(reply); i += 2 {
		k, _ := reply[i].(string)
		v, _ := reply[i+1].(string)
		fields[k] = v
	}
	h, err := decodeHeld(fields)
	return status, h, err
}

// Get implements moderation.Queue.
func (q *RedisQueue) Get(ctx context.Context, id string) (moderation.Held, error) {
	fields, err := q.client.HGetAll(ctx, q.itemKey(id)).Result()
	if err != nil {
		return moderation.Held{}, storeErr("reading "+id, err)
	}
	if len(fields) == 0 {
		return moderation.Held{}, moderation.ErrNotFound
	}
	return decodeHeld(fields)
}

// List implements moderation.Queue: it walks the smallest index the filter
// names (or the whole index), from the cursor or held_after to
// held_before (or back, newest first), reading items in batches and
// keeping those the filter selects.
func (q *RedisQueue) List(ctx context.Context, f moderation.QueueFilter, now time.Time) ([]moderation.Held, string, error) {
	if err := q.ensureLayout(ctx); err != nil {
		return nil, "", err
	}
	var at int64
	var afterID string
	lo, hi := "-inf", "+inf"
	if !f.HeldAfter.IsZero() {
		lo = strconv.FormatInt(f.HeldAfter.UnixMilli(), 10)
	}
	if f.Cursor != "" {
		var err error
		if at, afterID, err = decodeCursor(f.Cursor); err != nil {
			return nil, "", err
		}
		if !f.Newest && (f.HeldAfter.IsZero() || at > f.HeldAfter.UnixMilli()) {
			lo = strconv.FormatInt(at, 10)
		}
	}
	if !f.HeldBefore.IsZero() {
		hi = "(" + strconv.FormatInt(f.HeldBefore.UnixMilli(), 10)
	}
	if f.Cursor != "" && f.Newest && (f.HeldBefore.IsZero() || at < f.HeldBefore.UnixMilli()) {
		hi = strconv.FormatInt(at, 10)
	}
	index, err := q.smallestIndex(ctx, &f)
	if err != nil {
		return nil, "", err
	}
	limit := moderation.PageSize(f.Limit)
	var page []moderation.Held
	const batch = 200
	from, to := lo, hi
	if f.Newest {
		from, to = hi, lo // ZRANGE ... BYSCORE REV reads from the highest score
	}
	for offset := int64(0); ; offset += batch {
		ids, err := q.client.ZRangeArgs(ctx, redis.ZRangeArgs{Key: index, Start: from, Stop: to,
			ByScore: true, Rev: f.Newest, Offset: offset, Count: batch}).Result()
		if err != nil {
			return nil, "", storeErr("listing the queue", err)
		}
		items, gone, err := q.read(ctx, ids)
		if err != nil {
			return nil, "", storeErr("listing the queue", err)
		}
		for i := range items {
			h := &items[i]
			if !h.State.Open() || !now.Before(h.Deadline) || !f.Matches(h) || (f.Cursor != "" && !next(&f, h, at, afterID)) {
				continue
			}
			if len(page) == limit {
				return page, encodeCursor(&page[len(page)-1]), nil
			}
			page = append(page, *h)
		}
		if len(gone) > 0 {
			q.client.ZRem(ctx, index, gone...) // expired with their keys
			offset -= int64(len(gone))
		}
		if len(ids) < batch {
			return page, "", nil
		}
	}
}

// smallestIndex is the index a filtered list reads: of the sender, channel
// and rule the filter names, the one with the fewest items.
func (q *RedisQueue) smallestIndex(ctx context.Context, f *moderation.QueueFilter) (string, error) {
	var named []string
	if f.UserID != "" {
		named = append(named, q.userKey(f.UserID))
	}
	if f.ChannelCID != "" {
		named = append(named, q.chanKey(f.ChannelCID))
	}
	if f.Rule != "" {
		named = append(named, q.ruleKey(f.Rule))
	}
	switch len(named) {
	case 0:
		return q.indexKey(), nil
	case 1:
		return named[0], nil
	}
	pipe := q.client.Pipeline()
	cards := make([]*redis.IntCmd, len(named))
	for i, k := range named {
		cards[i] = pipe.ZCard(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return "", storeErr("listing the queue", err)
	}
	best := 0
	for i := range cards {
		if cards[i].Val() < cards[best].Val() {
			best = i
		}
	}
	return named[best], nil
}

// read reads items by id, in one round trip; gone lists the ids whose
// items are no longer there.
func (q *RedisQueue) read(ctx context.Context, ids []string) (items []moderation.Held, gone []any, err error) {
	if len(ids) == 0 {
		return nil, nil, nil
	}
	pipe := q.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, q.itemKey(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, err
	}
	for i, cmd := range cmds {
		fields := cmd.Val()
		if len(fields) == 0 {
			gone = append(gone, ids[i])
			continue
		}
		if h, err := decodeHeld(fields); err == nil {
			items = append(items, h)
		}
	}
	return items, gone, nil
}

var queueTake = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'state', 'deadline', 'lease_until', 'retry_at', 'decision', 'unsure', 'revisions')
if not f[1] then return {'notfound'} end
local now = tonumber(ARGV[1])
local state = f[1]
local status = 'ok'
if state == 'done' then status = 'done'
elseif state == 'expired' or tonumber(f[2] or '0') <= now then status = 'expired'
elseif state == 'deciding' and tonumber(f[3] or '0') > now then status = 'busy'
elseif ARGV[2] == '' and (state ~= 'deciding' or tonumber(f[4] or '0') > now) then status = 'notdue'
elseif ARGV[2] == 'reject' and f[5] == 'approve' and f[6] == '1' and ARGV[5] ~= '1' and state ~= 'waiting' then status = 'unconfirmed'
elseif ARGV[9] ~= '' and tonumber(f[7] or '0') ~= tonumber(ARGV[9]) then status = 'changed'
end
if status == 'ok' then
  if ARGV[2] ~= '' then
    redis.call('HSET', KEYS[1], 'decision', ARGV[2], 'actor', ARGV[3], 'reason', ARGV[4], 'decided_at', ARGV[1])
  end
  redis.call('HSET', KEYS[1], 'state', 'deciding', 'lease', ARGV[6], 'lease_until', ARGV[7], 'retry_at', 0)
  redis.call('HINCRBY', KEYS[1], 'attempts', 1)
  redis.call('ZADD', KEYS[2], ARGV[7], ARGV[8])
end
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 1, status)
return out
`)

// takeErrors are the errors of Take's and Settle's refusals.
var takeErrors = map[string]error{
	"notfound":    moderation.ErrNotFound,
	"done":        errDecided,
	"expired":     errPastDeadline,
	"busy":        errBusy,
	"notdue":      errNotDue,
	"unconfirmed": moderation.ErrUnconfirmed,
	"conflict":    errLostLease,
	"changed":     errChanged,
}

// Take implements moderation.Queue, atomically.
func (q *RedisQueue) Take(ctx context.Context, id string, t moderation.Take) (moderation.Held, error) {
	force := "0"
	if t.Force {
		force = "1"
	}
	revisions := ""
	if t.Revisions != nil {
		revisions = strconv.Itoa(*t.Revisions)
	}
	reply, err := queueTake.Run(ctx, q.client, []string{q.itemKey(id), q.dueKey()}, ms(t.Now), string(t.Decision), t.Actor, t.Reason,
		force, t.Lease, ms(t.LeaseUntil), id, revisions).Slice()
	if err != nil {
		return moderation.Held{}, storeErr("taking "+id, err)
	}
	status, h, err := scriptHeld(reply)
	if err != nil {
		return h, storeErr("taking "+id, err)
	}
	if status != "ok" {
		return h, takeErrors[status]
	}
	return h, nil
}

var queueSettle = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'state', 'lease', 'deadline', 'unsure')
if not f[1] then return {'notfound'} end
if f[1] ~= 'deciding' or f[2] ~= ARGV[1] then
  local out = redis.call('HGETALL', KEYS[1])
  table.insert(out, 1, 'conflict')
  return out
end
local unsure = '0'
if f[4] == '1' or ARGV[5] == '1' then unsure = '1' end
redis.call('HSET', KEYS[1], 'lease', '', 'lease_until', 0, 'retry_at', 0, 'error', ARGV[4], 'unsure', unsure)
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], 'state', 'done', 'done_at', ARGV[2])
  redis.call('PEXPIREAT', KEYS[1], ARGV[7])
  for i = 2, #KEYS do redis.call('ZREM', KEYS[i], ARGV[8]) end
else
  local retry = tonumber(ARGV[6])
  if retry > 0 and retry < tonumber(f[3] or '0') then
    redis.call('HSET', KEYS[1], 'retry_at', ARGV[6])
    redis.call('ZADD', KEYS[3], ARGV[6], ARGV[8])
  else
    redis.call('HSET', KEYS[1], 'state', 'failed')
    redis.call('ZREM', KEYS[3], ARGV[8])
  end
end
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 1, 'ok')
return out
`)

// Settle implements moderation.Queue, atomically.
func (q *RedisQueue) Settle(ctx context.Context, id string, s moderation.Settle) (moderation.Held, error) {
	h, err := q.Get(ctx, id) // for the keys of its indexes, which do not change
	if err != nil {
		return h, err
	}
	done, unsure := "0", "0"
	if s.Done {
		done = "1"
	}
	if s.Unsure {
		unsure = "1"
	}
	reply, err := queueSettle.Run(ctx, q.client, q.keys(&h), s.Lease, ms(s.Now), done, s.Error, unsure, ms(s.RetryAt),
		ms(s.KeepUntil), id).Slice()
	if err != nil {
		return h, storeErr("settling "+id, err)
	}
	status, settled, err := scriptHeld(reply)
	if err != nil {
		return h, storeErr("settling "+id, err)
	}
	if status != "ok" {
		return settled, takeErrors[status]
	}
	return settled, nil
}

// Due implements moderation.Queue.
func (q *RedisQueue) Due(ctx context.Context, now time.Time, limit int) ([]moderation.Held, error) {
	if err := q.ensureLayout(ctx); err != nil {
		return nil, err
	}
	ids, err := q.client.ZRangeArgs(ctx, redis.ZRangeArgs{Key: q.dueKey(), Start: "-inf", Stop: strconv.FormatInt(now.UnixMilli(), 10),
		ByScore: true, Count: int64(limit)}).Result()
	if err != nil {
		return nil, storeErr("reading the decisions due", err)
	}
	items, gone, err := q.read(ctx, ids)
	if err != nil {
		return nil, storeErr("reading the decisions due", err)
	}
	due := items[:0]
	for _, h := range items {
		if h.State == moderation.HeldDeciding {
			due = append(due, h)
		} else {
			gone = append(gone, h.ID) // settled meanwhile
		}
	}
	if len(gone) > 0 {
		q.client.ZRem(ctx, q.dueKey(), gone...)
	}
	return due, nil
}

var queueExpire = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'state', 'deadline', 'lease_until')
local function drop() for i = 2, #KEYS do redis.call('ZREM', KEYS[i], ARGV[2]) end end
if not f[1] then drop() return {'gone'} end
local now = tonumber(ARGV[1])
if tonumber(f[2] or '0') > now then return {'early'} end
if f[1] == 'deciding' and tonumber(f[3] or '0') > now then return {'leased'} end
local out = redis.call('HGETALL', KEYS[1])
if f[1] == 'waiting' then
  redis.call('HSET', KEYS[1], 'state', 'expired')
elseif f[1] == 'deciding' then
  redis.call('HSET', KEYS[1], 'state', 'failed', 'error', ARGV[3], 'retry_at', 0)
end
drop()
table.insert(out, 1, f[1])
return out
`)

// Expire implements moderation.Queue.
func (q *RedisQueue) Expire(ctx context.Context, now time.Time, limit int) ([]moderation.Held, error) {
	if err := q.ensureLayout(ctx); err != nil {
		return nil, err
	}
	ids, err := q.client.ZRangeArgs(ctx, redis.ZRangeArgs{Key: q.deadlinesKey(), Start: "-inf",
		Stop: strconv.FormatInt(now.UnixMilli(), 10), ByScore: true, Count: int64(limit)}).Result()
	if err != nil {
		return nil, storeErr("reading the deadlines", err)
	}
	items, gone, err := q.read(ctx, ids)
	if err != nil {
		return nil, storeErr("reading the deadlines", err)
	}
	if len(gone) > 0 {
		q.client.ZRem(ctx, q.deadlinesKey(), gone...)
		q.client.ZRem(ctx, q.indexKey(), gone...)
		q.client.ZRem(ctx, q.dueKey(), gone...)
	}
	var closed []moderation.Held
	for i := range items {
		h := &items[i]
		reply, err := queueExpire.Run(ctx, q.client, q.keys(h), ms(now), h.ID, moderation.DeadlinePassed).Slice()
		if err != nil {
			return closed, storeErr("expiring "+h.ID, err)
		}
		was, item, err := scriptHeld(reply)
		if err == nil && (was == string(moderation.HeldWaiting) || was == string(moderation.HeldDeciding)) {
			closed = append(closed, item)
		}
	}
	return closed, nil
}

var queueRevise = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'state', 'deadline', 'revisions', 'decision', 'lease_until', 'held_at')
if not f[1] then return {'notfound'} end
local now = tonumber(ARGV[5])
if f[1] == 'done' then return {'done'} end
if f[1] == 'expired' or tonumber(f[2] or '0') <= now then return {'expired'} end
if tonumber(f[3] or '0') ~= tonumber(ARGV[1]) then return {'changed'} end
local nold = tonumber(ARGV[7])
for i = 3, 2 + nold do redis.call('ZREM', KEYS[i], ARGV[6]) end
for i = 3 + nold, #KEYS do redis.call('ZADD', KEYS[i], f[6], ARGV[6]) end
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'revisions', tonumber(ARGV[1]) + 1)
if f[4] ~= 'reject' then
  if f[1] == 'deciding' and f[4] == 'approve' and tonumber(f[5] or '0') > now then
    redis.call('HSET', KEYS[1], 'unsure', 1)
  end
  redis.call('HSET', KEYS[1], 'lease', '', 'lease_until', 0, 'retry_at', 0)
  if ARGV[3] == '1' then
    redis.call('HSET', KEYS[1], 'state', 'deciding', 'decision', 'reject', 'actor', 'modgate', 'reason', ARGV[4],
      'decided_at', ARGV[5])
    redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6])
  else
    redis.call('HSET', KEYS[1], 'state', 'waiting', 'decision', '', 'actor', '', 'reason', '', 'decided_at', 0, 'error', '')
    redis.call('ZREM', KEYS[2], ARGV[6])
  end
end
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 1, 'ok')
return out
`)

// Revise implements moderation.Queue, atomically: the item's content is
// built from the item as read, and the script applies it only if no other
// revision came in between (else it reads the item again).
func (q *RedisQueue) Revise(ctx context.Context, id string, r moderation.Revision) (moderation.Held, error) {
	for range 5 {
		cur, err := q.Get(ctx, id)
		if err != nil {
			return cur, err
		}
		next := cur
		r.Apply(&next)
		data, err := json.Marshal(immutable(next))
		if err != nil {
			return cur, fmt.Errorf("revising %s: %w", id, err)
		}
		keys := []string{q.itemKey(id), q.dueKey()}
		old, added := q.ruleKeys(cur.Rules), q.ruleKeys(next.Rules)
		keys = append(append(keys, old...), added...)
		reject := "0"
		if r.Reject {
			reject = "1"
		}
		reply, err := queueRevise.Run(ctx, q.client, keys, cur.Revisions, data, reject, r.Reason, ms(r.Now), id, len(old)).Slice()
		if err != nil {
			return cur, storeErr("revising "+id, err)
		}
		status, h, err := scriptHeld(reply)
		switch {
		case err != nil:
			return cur, storeErr("revising "+id, err)
		case status == "changed":
			continue
		case status != "ok":
			return cur, takeErrors[status]
		}
		return h, nil
	}
	return moderation.Held{}, moderation.ErrorOf(moderation.ErrConflict, "the item kept changing while it was revised")
}

// ruleKeys are the rule indexes of rules, each once.
func (q *RedisQueue) ruleKeys(rules []string) []string {
	var keys []string
	seen := map[string]bool{}
	for _, r := range rules {
		if r != "" && !seen[r] {
			seen[r] = true
			keys = append(keys, q.ruleKey(r))
		}
	}
	return keys
}

var queueRemove = redis.NewScript(`
local n = redis.call('DEL', KEYS[1], KEYS[#KEYS])
for i = 2, #KEYS - 1 do redis.call('ZREM', KEYS[i], ARGV[1]) end
return n
`)

// Remove implements moderation.Queue.
func (q *RedisQueue) Remove(ctx context.Context, id string) (moderation.Held, error) {
	h, err := q.Get(ctx, id)
	if err != nil {
		return h, err
	}
	if err := queueRemove.Run(ctx, q.client, append(q.keys(&h), q.reportersKey(id)), id).Err(); err != nil {
		return h, storeErr("removing "+id, err)
	}
	return h, nil
}

// Len implements moderation.Queue.
func (q *RedisQueue) Len(ctx context.Context) (int, error) {
	n, err := q.client.ZCard(ctx, q.indexKey()).Result()
	if err != nil {
		return 0, storeErr("counting the queue", err)
	}
	return int(n), nil
}

var queueReindex = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
for i = 5, #KEYS do redis.call('ZADD', KEYS[i], ARGV[2], ARGV[1]) end
if redis.call('HEXISTS', KEYS[1], 'decision') == 1 then return 1 end
local state = redis.call('HGET', KEYS[1], 'state')
redis.call('HSET', KEYS[1], 'decision', '', 'actor', '', 'reason', '', 'decided_at', 0, 'unsure', 0, 'lease', '',
  'lease_until', 0, 'retry_at', 0, 'done_at', 0, 'held_at', ARGV[2])
if ARGV[5] ~= '' and state ~= 'done' then
  redis.call('HSET', KEYS[1], 'state', 'deciding', 'decision', ARGV[5], 'actor', 'modgate', 'reason', 'rules',
    'decided_at', ARGV[4], 'retry_at', ARGV[4])
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
elseif state == 'deciding' then
  redis.call('HSET', KEYS[1], 'state', 'failed', 'error', ARGV[6])
end
return 1
`)

// ensureLayout brings items queued by an older modgate into the indexes
// of this one, once: they were in the index by time alone, with the rules'
// decision inside the item and no lease.
func (q *RedisQueue) ensureLayout(ctx context.Context) error {
	if q.layoutOK.Load() {
		return nil
	}
	v, err := q.client.Get(ctx, q.layoutKey()).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return storeErr("reading the queue's layout", err)
	}
	if v != queueLayout {
		now := time.Now().UnixMilli()
		for start := int64(0); ; start += 500 {
			ids, err := q.client.ZRange(ctx, q.indexKey(), start, start+499).Result()
			if err != nil {
				return storeErr("reindexing the queue", err)
			}
			items, _, err := q.read(ctx, ids)
			if err != nil {
				return storeErr("reindexing the queue", err)
			}
			for i := range items {
				h := &items[i]
				err := queueReindex.Run(ctx, q.client, q.keys(h), h.ID, ms(h.HeldAt), ms(h.Deadline), now, string(h.Decision),
					"queued by an older modgate: which decision was being carried out is not known").Err()
				if err != nil {
					return storeErr("reindexing "+h.ID, err)
				}
			}
			if len(ids) < 500 {
				break
			}
		}
		if err := q.client.Del(ctx, q.base+"decided").Err(); err != nil {
			return storeErr("reindexing the queue", err)
		}
		if err := q.client.Set(ctx, q.layoutKey(), queueLayout, 0).Err(); err != nil {
			return storeErr("reindexing the queue", err)
		}
	}
	q.layoutOK.Store(true)
	return nil
}

// queueLayout names the layout of the queue's keys this modgate writes.
const queueLayout = "2"
