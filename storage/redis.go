package storage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/modgate/modgate/moderation"
)

// Redis keeps state in Redis, shared by every modgate process that uses the
// same server and prefix: a limit of 5 per 10 s holds across all of them.
//
// Each message costs one script call at most, whatever the number of limits
// it meets: the script claims the webhook id and counts every limit in order,
// atomically. All keys carry the hash tag of the prefix ({modgate}), so the
// script works on Redis Cluster too; the price is that modgate's keys live in
// one slot. Counters are sorted sets of the last window's messages (an exact
// sliding window) that expire with the window; webhook claims expire with
// the replay TTL. Answers for retries are written in the background, in
// batches.
type Redis struct {
	client  redis.UniversalClient
	counts  redis.Scripter // the client, or its auto-pipeliner
	prefix  string
	timeout time.Duration
	answers chan answerWrite
	done    chan struct{}
	once    sync.Once
	dropped uint64
	mu      sync.Mutex
	breaker breaker
}

var _ moderation.State = (*Redis)(nil)

type answerWrite struct {
	key    string
	answer []byte
	ttl    time.Duration
}

// RedisOptions configure Redis; zero values take the defaults.
type RedisOptions struct {
	Prefix       string        // of every key; default "modgate"
	Timeout      time.Duration // for each call on the hot path; default 50ms
	AutoPipeline bool          // share pipelines between concurrent messages (one server, not Cluster)
}

// OpenRedis connects to the Redis at url:
//
//	redis://[user:password@]host:port[/db]            one server
//	rediss://...                                      one server over TLS
//	redis+cluster://host1:port?addr=host2:port...     Redis Cluster (rediss+cluster:// for TLS)
//	redis+sentinel://host:port?master_name=NAME&addr=host2:port...   Sentinel (rediss+sentinel://)
//
// Query parameters are go-redis's (dial_timeout, pool_size, ...). Calls
// respect their context's deadline and are not retried: modgate has no time
// for that.
func OpenRedis(url string, opts RedisOptions) (*Redis, error) {
	client, err := redisClient(url)
	if err != nil {
		return nil, err
	}
	return NewRedis(client, opts), nil
}

func redisClient(url string) (redis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return nil, fmt.Errorf("redis url %q: no scheme (redis://, rediss://, redis+cluster://, redis+sentinel://)", redactURL(url))
	}
	base, kind, _ := strings.Cut(scheme, "+")
	if base != "redis" && base != "rediss" {
		return nil, fmt.Errorf("redis url %q: scheme %q is not redis or rediss", redactURL(url), scheme)
	}
	plain := base + "://" + rest
	switch kind {
	case "":
		o, err := redis.ParseURL(plain)
		if err != nil {
			return nil, urlError(url, err)
		}
		o.ContextTimeoutEnabled, o.MaxRetries = true, -1
		if o.ReadTimeout == 0 && o.WriteTimeout == 0 {
			o.ReadTimeout, o.WriteTimeout = time.Second, time.Second // a stuck connection is dropped
		}
		return redis.NewClient(o), nil
	case "cluster":
		o, err := redis.ParseClusterURL(plain)
		if err != nil {
			return nil, urlError(url, err)
		}
		o.ContextTimeoutEnabled, o.MaxRetries = true, -1
		return redis.NewClusterClient(o), nil
	case "sentinel":
		o, err := redis.ParseFailoverURL(plain)
		if err != nil {
			return nil, urlError(url, err)
		}
		o.ContextTimeoutEnabled, o.MaxRetries = true, -1
		return redis.NewFailoverClient(o), nil
	}
	return nil, fmt.Errorf("redis url %q: %q is not cluster or sentinel", redactURL(url), kind)
}

// urlError reports a URL that go-redis refused, without its password.
func urlError(url string, err error) error {
	msg := err.Error()
	if _, rest, ok := strings.Cut(url, "://"); ok {
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok && pw != "" {
				msg = strings.ReplaceAll(msg, pw, "…")
			}
		}
	}
	return fmt.Errorf("redis url %q: %s", redactURL(url), msg)
}

// redactURL hides the password of a Redis URL.
func redactURL(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return "…"
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		user, _, _ := strings.Cut(rest[:at], ":")
		return scheme + "://" + user + ":…@" + rest[at+1:]
	}
	return url
}

// NewRedis uses client. Close stops its background writer.
func NewRedis(client redis.UniversalClient, opts RedisOptions) *Redis {
	if opts.Prefix == "" {
		opts.Prefix = "modgate"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 50 * time.Millisecond
	}
	r := &Redis{
		client:  client,
		counts:  client,
		timeout: opts.Timeout,
		prefix:  "{" + opts.Prefix + "}:",
		answers: make(chan answerWrite, 4096),
		done:    make(chan struct{}),
	}
	if c, ok := client.(*redis.Client); ok && opts.AutoPipeline {
		// Concurrent messages share pipelines: fewer writes and reads for
		// both modgate and Redis under load, still one script per message.
		// Messages do not depend on each other's order (each script is
		// atomic), so batches may overlap: Redis runs one while modgate
		// reads the answers of the last and fills the next. Batches are
		// small because Redis answers a batch only once it has run all of
		// it: with large ones, modgate waits idle for Redis and then Redis
		// for modgate.
		if ap, err := c.AutoPipelineWithOptions(&redis.AutoPipelineOptions{
			MaxBatchSize: 32, MaxBatchBytes: 128 << 10, MaxConcurrentBatches: pipelineBatches, Unordered: true,
		}); err == nil {
			r.counts = ap
		}
	}
	go r.writeAnswers()
	return r
}

// pipelineBatches is how many auto-pipelined batches may be in flight.
const pipelineBatches = 4

// Client is the underlying client.
func (r *Redis) Client() redis.UniversalClient { return r.client }

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error { return r.client.Ping(ctx).Err() }

// Close writes the answers still queued and closes the client.
func (r *Redis) Close() error {
	r.once.Do(func() { close(r.answers) })
	<-r.done
	return r.client.Close()
}

// key names a Redis key: the prefix with its hash tag, a kind, and the name,
// hashed when it is long.
func (r *Redis) key(kind, name string) string {
	if len(name) > 200 {
		sum := sha256.Sum256([]byte(name))
		name = "sha256:" + hex.EncodeToString(sum[:])
	}
	return r.prefix + kind + ":" + name
}

// countScript claims a webhook id and counts limits, in order, atomically.
//
//	KEYS[1]    the webhook id's key (any key of the slot when there is no id)
//	KEYS[2..]  one sorted set per limit
//	ARGV       now (ms), claim ttl (ms, 0: no claim), a nonce, the answer
//	           to claim with ("" for none: it is kept only when every limit
//	           allows, and the reply's second element is then "stored"),
//	           then per limit: count, window (ms), stop (1: later limits are
//	           not counted when this one is refused)
//
// It returns {1, answer} for a webhook id claimed before (answer "" while
// the first attempt runs), else {0, ""} followed by (allowed, count,
// retry_after_ms) for each limit looked at.
var countScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local answer = ARGV[4]
if ttl > 0 and not redis.call('SET', KEYS[1], answer, 'NX', 'PX', ttl) then
  return {1, redis.call('GET', KEYS[1]) or ''}
end
local out = {0, ''}
local allowed = true
for i = 2, #KEYS do
  local a = 5 + (i - 2) * 3
  local limit, window, stop = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), ARGV[a + 2] == '1'
  local key = KEYS[i]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local n = redis.call('ZCARD', key)
  if n < limit then
    redis.call('ZADD', key, now, ARGV[3] .. ':' .. i)
    redis.call('PEXPIRE', key, window)
    out[#out + 1] = 1
    out[#out + 1] = n + 1
    out[#out + 1] = 0
  else
    allowed = false
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local retry = window
    if oldest[2] then retry = tonumber(oldest[2]) + window - now end
    out[#out + 1] = 0
    out[#out + 1] = n
    out[#out + 1] = retry
    if stop then break end
  end
end
if ttl > 0 and answer ~= '' then
  if allowed then
    out[2] = 'stored'
  else
    redis.call('SET', KEYS[1], '', 'XX', 'KEEPTTL')
  end
end
return out
`)

// answerScript stores an answer over a pending claim: never over an earlier
// answer, and never reviving an expired claim.
var answerScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == '' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
`)

// Count implements moderation.Counter with one script call.
func (r *Redis) Count(ctx context.Context, id string, ttl time.Duration, ifAllowed []byte, now time.Time, hits []moderation.Hit) (moderation.Replay, error) {
	if id == "" && len(hits) == 0 {
		return moderation.Replay{}, nil
	}
	keys := make([]string, 1, 1+len(hits))
	keys[0] = r.key("wh", id)
	claimTTL := int64(0)
	if id != "" {
		claimTTL = max(ttl.Milliseconds(), 1)
	}
	var nonce [8]byte
	rand.Read(nonce[:])
	args := make([]any, 0, 4+3*len(hits))
	answer := ""
	if id != "" {
		answer = string(ifAllowed)
	}
	args = append(args, now.UnixMilli(), claimTTL, hex.EncodeToString(nonce[:]), answer)
	for i := range hits {
		h := &hits[i]
		keys = append(keys, r.key("rl", h.Key))
		stop := 0
		if h.Stop {
			stop = 1
		}
		args = append(args, h.Limit, max(h.Window.Milliseconds(), 1), stop)
	}
	res, err := r.run(ctx, keys, args)
	if err != nil {
		return moderation.Replay{}, fmt.Errorf("counting in redis: %w", err)
	}
	if len(res) < 2 {
		return moderation.Replay{}, fmt.Errorf("counting in redis: unexpected reply %v", res)
	}
	if seen, _ := res[0].(int64); seen == 1 {
		answer, _ := res[1].(string)
		rp := moderation.Replay{Seen: true}
		if answer != "" {
			rp.Answer = []byte(answer)
		}
		return rp, nil
	}
	stored, _ := res[1].(string)
	for i, j := 0, 2; i < len(hits) && j+2 < len(res); i, j = i+1, j+3 {
		allowed, _ := res[j].(int64)
		count, _ := res[j+1].(int64)
		retry, _ := res[j+2].(int64)
		h := &hits[i]
		h.Done, h.Allowed, h.Count = true, allowed == 1, int(count)
		h.RetryAfter = time.Duration(retry) * time.Millisecond
	}
	return moderation.Replay{Stored: stored == "stored"}, nil
}

// ErrCircuitOpen is returned without asking Redis while it recently failed.
var ErrCircuitOpen = errors.New("redis failed a moment ago; not asking again yet")

// run calls the count script within the timeout, whatever the client does:
// a black-holed connection must not hold a message past its deadline. After
// a failure, calls fail at once for a quarter of a second, then one call
// probes whether Redis is back.
func (r *Redis) run(ctx context.Context, keys []string, args []any) ([]any, error) {
	if !r.breaker.allow(time.Now()) {
		return nil, ErrCircuitOpen
	}
	// A pooled timer rather than context.WithTimeout: a timer made and
	// stopped for every message showed in the profile. The call itself keeps
	// ctx, and the client's own timeouts end it if Redis never answers.
	done := resultPool.Get().(chan scriptResult)
	go func() {
		res, err := countScript.Run(ctx, r.counts, keys, args...).Slice()
		done <- scriptResult{res, err}
	}()
	t := timerPool.Get().(*time.Timer)
	t.Reset(r.timeout)
	defer timerPool.Put(t)
	select {
	case out := <-done:
		t.Stop()
		resultPool.Put(done)
		if out.err != nil && !errors.Is(out.err, redis.Nil) {
			r.breaker.failure(time.Now())
			return nil, out.err
		}
		r.breaker.success()
		return out.res, out.err
	case <-t.C:
		// done is left to the call still running: it is buffered.
		r.breaker.failure(time.Now())
		return nil, context.DeadlineExceeded
	case <-ctx.Done():
		t.Stop() // the caller gave up: no fault of Redis's
		return nil, ctx.Err()
	}
}

type scriptResult struct {
	res []any
	err error
}

var (
	resultPool = sync.Pool{New: func() any { return make(chan scriptResult, 1) }}
	// Timers are stopped or fired before they go back; since Go 1.23 a
	// stopped timer's channel holds nothing stale.
	timerPool = sync.Pool{New: func() any {
		t := time.NewTimer(time.Hour)
		t.Stop()
		return t
	}}
)

// breaker stops calls to a Redis that just failed, for a short while.
type breaker struct {
	mu        sync.Mutex
	openUntil time.Time
	probing   bool
}

const breakerPause = 250 * time.Millisecond

func (b *breaker) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.openUntil.IsZero():
		return true
	case now.Before(b.openUntil) || b.probing:
		return false
	}
	b.probing = true // one call finds out whether Redis is back
	return true
}

func (b *breaker) success() {
	b.mu.Lock()
	b.openUntil, b.probing = time.Time{}, false
	b.mu.Unlock()
}

func (b *breaker) failure(now time.Time) {
	b.mu.Lock()
	b.openUntil, b.probing = now.Add(breakerPause), false
	b.mu.Unlock()
}

// Remember implements moderation.Answers. The write is queued and done in
// the background with others; when the queue is full the answer is dropped,
// and a retry is then evaluated again without being counted.
func (r *Redis) Remember(_ context.Context, id string, answer []byte, ttl time.Duration) error {
	w := answerWrite{key: r.key("wh", id), answer: append([]byte(nil), answer...), ttl: ttl}
	select {
	case r.answers <- w:
		return nil
	default:
		r.mu.Lock()
		r.dropped++
		r.mu.Unlock()
		return errors.New("storing a webhook answer: the write queue is full")
	}
}

// writeAnswers writes queued answers in pipelined batches until Close.
func (r *Redis) writeAnswers() {
	defer close(r.done)
	batch := make([]answerWrite, 0, 128)
	for w := range r.answers {
		batch = append(batch[:0], w)
	fill:
		for len(batch) < cap(batch) {
			select {
			case w, ok := <-r.answers:
				if !ok {
					break fill
				}
				batch = append(batch, w)
			default:
				break fill
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		write := func(eval func(redis.Pipeliner, answerWrite) *redis.Cmd) []redis.Cmder {
			cmds, _ := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, w := range batch {
					eval(p, w)
				}
				return nil
			})
			return cmds
		}
		// EVALSHA spares Redis the script's text and its hash on every
		// answer; a server that lost its script cache gets the batch again
		// as EVAL.
		cmds := write(func(p redis.Pipeliner, w answerWrite) *redis.Cmd {
			return answerScript.EvalSha(ctx, p, []string{w.key}, w.answer, w.ttl.Milliseconds())
		})
		for _, c := range cmds {
			if err := c.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
				write(func(p redis.Pipeliner, w answerWrite) *redis.Cmd {
					return answerScript.Eval(ctx, p, []string{w.key}, w.answer, w.ttl.Milliseconds())
				})
				break
			}
		}
		cancel()
	}
}

// Dropped is the number of answers not stored because the queue was full.
func (r *Redis) Dropped() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

// String describes the store for logs.
func (r *Redis) String() string {
	return "redis (prefix " + strconv.Quote(strings.TrimSuffix(r.prefix, ":")) + ")"
}
