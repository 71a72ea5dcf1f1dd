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
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/modgate/modgate/moderation"
)

// Redis keeps state in Redis, shared by every modgate process that uses the
// same server and prefix: a limit of 5 per 10 s holds across all of them.
// The package doc says how keys are placed on a Redis Cluster and how the
// calls of one message keep the outcome of one script.
//
// Counters are sorted sets of the last window's messages (an exact sliding
// window) that expire with the window; webhook claims expire with the
// replay TTL. Answers for retries are written in the background, in
// batches. Each call waits until the message's deadline at the most; a
// server that fails several times in a row is not asked for a moment.
type Redis struct {
	client  redis.UniversalClient
	counts  redis.Scripter       // the client, or its auto-pipeliner
	cluster *redis.ClusterClient // nil unless Redis Cluster
	spread  bool                 // a message's keys may live on several servers: count them group by group
	prefix  string               // "{prefix}:", the one hash tag of the review queue and the audit log
	base    string               // "prefix:", before the hash tag of each counter and claim
	timeout time.Duration
	answers chan answerWrite
	done    chan struct{}
	once    sync.Once

	queueFull   atomic.Uint64 // answers dropped because the write queue was full
	writeFailed atomic.Uint64 // answers dropped because Redis refused or did not answer the write

	breaker  breaker       // of the one server (single server, Sentinel)
	single   []*breaker    // holds breaker, for the calls to the one server
	breakers breakers      // of each master, by address (Cluster)
	trips    atomic.Uint64 // times a breaker opened
	seen     atomic.Uint64 // trips at the last Check
}

var _ moderation.State = (*Redis)(nil)

type answerWrite struct {
	key    string
	answer []byte
	ttl    time.Duration
}

// RedisOptions configure Redis; zero values take the defaults.
type RedisOptions struct {
	Prefix       string        // of every key, without braces; default "modgate"
	Timeout      time.Duration // the longest wait for one call; default DefaultRedisTimeout
	AutoPipeline bool          // share pipelines between concurrent messages (one server or Sentinel, not Cluster)
}

// DefaultRedisTimeout is the longest one call to Redis waits by default:
// the hook's default deadline. A message's call waits until the message's
// own deadline when that comes first.
const DefaultRedisTimeout = 300 * time.Millisecond

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
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("redis key prefix %q: braces are not allowed (modgate sets the hash tags itself)", opts.Prefix)
	}
	client, err := redisClient(url)
	if err != nil {
		return nil, err
	}
	return NewRedis(client, opts), nil
}

func redisClient(url string) (redis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return nil, fmt.Errorf("redis url %q: no scheme: write redis://%s (or rediss:// for TLS, redis+cluster://, redis+sentinel://)",
			redactURL(url), redactURL(url))
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
		o.DialerRetries = dialAttempts(o.DialerRetries)
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
		o.DialerRetries = dialAttempts(o.DialerRetries)
		return redis.NewClusterClient(o), nil
	case "sentinel":
		o, err := redis.ParseFailoverURL(plain)
		if err != nil {
			return nil, urlError(url, err)
		}
		o.ContextTimeoutEnabled, o.MaxRetries = true, -1
		o.DialerRetries = dialAttempts(o.DialerRetries)
		return redis.NewFailoverClient(o), nil
	}
	return nil, fmt.Errorf("redis url %q: %q is not cluster or sentinel", redactURL(url), kind)
}

// dialAttempts is how many times a connection is dialled before a call
// fails: once, unless the URL says otherwise (dialer_retries). go-redis
// tries five times 100 ms apart by default, which turns a refused
// connection into a wait of the whole deadline for every message; the
// breaker and the next call do the retrying instead.
func dialAttempts(fromURL int) int {
	if fromURL > 0 {
		return fromURL
	}
	return 1
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
		if strings.Contains(url, "@") { // a password may be before it
			return "…"
		}
		return url
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		user, _, _ := strings.Cut(rest[:at], ":")
		return scheme + "://" + user + ":…@" + rest[at+1:]
	}
	return url
}

// NewRedis uses client. Close stops its background writer. Braces in the
// prefix are replaced: modgate sets the hash tags itself.
func NewRedis(client redis.UniversalClient, opts RedisOptions) *Redis {
	if opts.Prefix == "" {
		opts.Prefix = "modgate"
	}
	opts.Prefix = strings.NewReplacer("{", "_", "}", "_").Replace(opts.Prefix)
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultRedisTimeout
	}
	r := &Redis{
		client:  client,
		counts:  client,
		timeout: opts.Timeout,
		prefix:  "{" + opts.Prefix + "}:",
		base:    opts.Prefix + ":",
		answers: make(chan answerWrite, 4096),
		done:    make(chan struct{}),
	}
	r.breaker.trips, r.breakers.trips = &r.trips, &r.trips
	r.single = []*breaker{&r.breaker}
	if cc, ok := client.(*redis.ClusterClient); ok {
		r.cluster, r.spread = cc, true
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

// Close writes the answers still queued and closes the client.
func (r *Redis) Close() error {
	r.once.Do(func() { close(r.answers) })
	<-r.done
	return r.client.Close()
}

// tag is a hash tag: what decides the slot of the keys that carry it. Long
// values and values with braces (which would end the tag early, or leave
// it empty) are hashed.
func tag(v string) string {
	if v == "" {
		return "-"
	}
	if len(v) > 64 || strings.ContainsAny(v, "{}") {
		sum := sha256.Sum256([]byte(v))
		return hex.EncodeToString(sum[:16])
	}
	return v
}

// keyName is a key's own name, hashed when it is long.
func keyName(name string) string {
	if len(name) > 200 {
		sum := sha256.Sum256([]byte(name))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	return name
}

// counterKey names a rate-limit counter: tagged by its group.
func (r *Redis) counterKey(h *moderation.Hit) string {
	group := h.Group
	if group == "" {
		group = h.Key
	}
	return r.base + "{" + tag(group) + "}:rl:" + keyName(h.Key)
}

// strikesKey names a sender's strikes: tagged by the sender, beside the
// sender's claims and limits by user.
func (r *Redis) strikesKey(sender string) string {
	return r.base + "{" + tag(sender) + "}:st"
}

// claimKey names a webhook id's claim: tagged by the sender, so that it
// lives beside the sender's counters, or by the id when there is none.
func (r *Redis) claimKey(c moderation.Claim) string {
	t := c.Sender
	if t == "" {
		t = c.ID
	}
	return r.base + "{" + tag(t) + "}:wh:" + keyName(c.ID)
}

// countScript claims a webhook id, counts limits, in order, then gives
// and counts the sender's strikes, atomically.
//
//	KEYS[1]    the webhook id's key (any key of the slot when there is no claim)
//	KEYS[2..]  one sorted set per limit, then the sender's strikes, if any
//	ARGV       now (ms), claim ttl (ms, 0: no claim), a nonce, the answer
//	           to claim with ("" for none: it is kept only when every limit
//	           allows, and the reply's second element is then "stored"),
//	           the number of limits, then per limit: count, window (ms),
//	           stop (1: later limits are not counted when this one is
//	           refused); then, with strikes: their number, and per strike
//	           count, decay (ms), observed (0 or 1), its limit (1-based; 0:
//	           none), the limits above it; then the number of counts, and
//	           per count its window (ms) and observed (1: strikes of rules in
//	           observe mode count too)
//
// It returns {1, answer} for a webhook id claimed before (answer "" while
// the first attempt runs), else {0, "", n} followed by (allowed, count,
// retry_after_ms) for each of the n limits looked at, then with strikes
// 1 or 0 for each strike given or not, then each count.
//
// A strike is a member "until:count:observed:nonce:i" scored by when it
// was given: a count reads those given within its window and remembered
// still. The set keeps the newest maxSenderStrikes and expires with its
// longest-remembered strike.
var countScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local answer = ARGV[4]
local nl = tonumber(ARGV[5])
if ttl > 0 and not redis.call('SET', KEYS[1], answer, 'NX', 'PX', ttl) then
  return {1, redis.call('GET', KEYS[1]) or ''}
end
local out = {0, '', 0}
local allowed = true
local refused = {}
local stopAt = 0
for i = 1, nl do
  local a = 6 + (i - 1) * 3
  local limit, window, stop = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), ARGV[a + 2] == '1'
  local key = KEYS[1 + i]
  out[3] = i
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
    refused[i] = true
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local retry = window
    if oldest[2] then retry = tonumber(oldest[2]) + window - now end
    out[#out + 1] = 0
    out[#out + 1] = n
    out[#out + 1] = retry
    if stop then
      stopAt = i
      break
    end
  end
end
if ttl > 0 and answer ~= '' then
  if allowed then
    out[2] = 'stored'
  else
    redis.call('SET', KEYS[1], '', 'XX', 'KEEPTTL')
  end
end
if #KEYS > 1 + nl then
  local key = KEYS[2 + nl]
  local p = 6 + nl * 3
  local ng = tonumber(ARGV[p])
  p = p + 1
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - 2592000000)
  for g = 1, ng do
    local decay, hit, above = tonumber(ARGV[p + 1]), tonumber(ARGV[p + 3]), tonumber(ARGV[p + 4])
    local given
    if hit > 0 then given = refused[hit] == true else given = stopAt == 0 or stopAt > above end
    if given then
      redis.call('ZADD', key, now, (now + decay) .. ':' .. ARGV[p] .. ':' .. ARGV[p + 2] .. ':' .. ARGV[3] .. ':' .. g)
      if redis.call('PTTL', key) < decay then redis.call('PEXPIRE', key, decay) end
      out[#out + 1] = 1
    else
      out[#out + 1] = 0
    end
    p = p + 5
  end
  local kept = redis.call('ZCARD', key)
  if kept > ` + strconv.Itoa(maxSenderStrikes) + ` then
    redis.call('ZREMRANGEBYRANK', key, 0, kept - ` + strconv.Itoa(maxSenderStrikes) + ` - 1)
  end
  local nr = tonumber(ARGV[p])
  p = p + 1
  if nr > 0 then
    local longest = 0
    for r = 0, nr - 1 do longest = math.max(longest, tonumber(ARGV[p + 2 * r])) end
    local given = redis.call('ZRANGEBYSCORE', key, '(' .. (now - longest), '+inf', 'WITHSCORES')
    for r = 1, nr do
      local within, obs = tonumber(ARGV[p]), ARGV[p + 1]
      p = p + 2
      local sum = 0
      for j = 1, #given, 2 do
        if tonumber(given[j + 1]) > now - within then
          local till, count, observed = string.match(given[j], '^(%d+):(%d+):(%d)')
          if tonumber(till) > now and (obs == '1' or observed == '0') then sum = sum + tonumber(count) end
        end
      end
      out[#out + 1] = sum
    end
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

// Count implements moderation.Counter. On one server or Sentinel it is one
// script call. On a Cluster the message's keys are counted group by group
// as planned by plan, with the same outcome as one script.
func (r *Redis) Count(ctx context.Context, c moderation.Claim, ifAllowed []byte, now, deadline time.Time, hits []moderation.Hit) (moderation.Replay, error) {
	if c.ID == "" && len(hits) == 0 && strikesOf(c) == nil {
		return moderation.Replay{}, nil
	}
	until := time.Now().Add(r.timeout)
	if !deadline.IsZero() && deadline.Before(until) {
		until = deadline
	}
	var nonce [8]byte
	rand.Read(nonce[:])
	nonceHex := hex.EncodeToString(nonce[:])
	if !r.spread {
		// One script for everything, as few allocations as can be: this is
		// every message's path.
		answer := ""
		if c.ID != "" {
			answer = string(ifAllowed)
		}
		call := r.call(c, c.ID != "", answer, now, nonceHex, hits, nil, true, strikesOf(c))
		res, err := r.run(ctx, until, r.single, call, nil)
		if err != nil {
			return moderation.Replay{}, fmt.Errorf("counting in redis: %w", err)
		}
		rp, _, err := read(res.one.vals, hits, nil, true, strikesOf(c))
		return rp, err
	}
	return r.countPhases(ctx, until, c, ifAllowed, now, nonceHex, hits, plan(c, hits))
}

// strikesOf returns the strikes a claim gives and counts, or nil for none.
func strikesOf(c moderation.Claim) *moderation.Strikes {
	if c.Strikes == nil || c.Sender == "" || (len(c.Strikes.Give) == 0 && len(c.Strikes.Read) == 0) {
		return nil
	}
	return c.Strikes
}

// read reads a script's reply into the hits it counted (idx: their
// indexes in hits; all: every hit, in order) and the strikes it gave and
// counted (st, when the call carried them). It reports whether a Stop hit
// refused the message.
func read(out []any, hits []moderation.Hit, idx []int, all bool, st *moderation.Strikes) (rp moderation.Replay, refused bool, err error) {
	if len(out) < 2 {
		return rp, false, fmt.Errorf("counting in redis: unexpected reply %v", out)
	}
	if seen, _ := out[0].(int64); seen == 1 {
		a, _ := out[1].(string)
		rp.Seen = true
		if a != "" {
			rp.Answer = []byte(a)
		}
		return rp, false, nil
	}
	looked := int64(0)
	if len(out) > 2 {
		looked, _ = out[2].(int64)
	}
	n := len(idx)
	if all {
		n = len(hits)
	}
	j := 3
	for k := 0; k < n && k < int(looked) && j+2 < len(out); k, j = k+1, j+3 {
		allowed, _ := out[j].(int64)
		count, _ := out[j+1].(int64)
		retry, _ := out[j+2].(int64)
		h := &hits[k]
		if !all {
			h = &hits[idx[k]]
		}
		h.Done, h.Allowed, h.Count = true, allowed == 1, int(count)
		h.RetryAfter = time.Duration(retry) * time.Millisecond
		refused = refused || (h.Stop && !h.Allowed)
	}
	if st != nil {
		if j+len(st.Give)+len(st.Read) > len(out) {
			return rp, refused, fmt.Errorf("counting in redis: the reply lacks the strikes: %v", out)
		}
		for g := range st.Give {
			given, _ := out[j].(int64)
			st.Give[g].Given = given == 1
			j++
		}
		for r := range st.Read {
			count, _ := out[j].(int64)
			st.Read[r].Count = int(count)
			j++
		}
	}
	s, _ := out[1].(string)
	rp.Stored = s == "stored"
	return rp, refused, nil
}

// batch is one script call: the claim or not, and hits that share a slot.
type batch struct {
	tag   string
	claim bool
	hits  []int // indexes in the message's hits, in order
	stops bool  // holds the claim or a Stop hit: what follows in other slots waits for its answer
}

// plan groups a message's claim and hits into phases of script calls for a
// Cluster. The calls of one phase run at once, one per slot; a phase starts
// only once the one before answered. Everything the claim or a Stop hit
// decides about (the hits after it) lives in its own call or in a later
// phase, so the outcome is that of one script over all keys in order:
//
//   - the claim comes first, with the sender's counters (limits by user), so
//     a message that only meets limits by user (the common case) is one call;
//     a retry of a claimed id counts nothing anywhere;
//   - a hit whose slot differs from that of an earlier claim or Stop hit of
//     the phase starts a new phase, counted only when that one allowed;
//   - hits that no Stop hit comes before share a phase, whatever their slots.
func plan(c moderation.Claim, hits []moderation.Hit) [][]batch {
	var phases [][]batch
	var cur []batch
	find := func(t string) int {
		for i := range cur {
			if cur[i].tag == t {
				return i
			}
		}
		return -1
	}
	if c.ID != "" {
		t := c.Sender
		if t == "" {
			t = c.ID
		}
		cur = append(cur, batch{tag: tag(t), claim: true, stops: true})
	}
	for i := range hits {
		h := &hits[i]
		g := h.Group
		if g == "" {
			g = h.Key
		}
		t := tag(g)
		for _, b := range cur {
			if b.stops && b.tag != t {
				phases, cur = append(phases, cur), nil
				break
			}
		}
		j := find(t)
		if j < 0 {
			cur = append(cur, batch{tag: t})
			j = len(cur) - 1
		}
		cur[j].hits = append(cur[j].hits, i)
		cur[j].stops = cur[j].stops || h.Stop
	}
	if len(cur) > 0 {
		phases = append(phases, cur)
	}
	return phases
}

// countPhases runs the planned calls and reads their answers into hits.
// The strikes go with the first call when it is to the sender's slot and
// can decide them (it is the message's only call, or they depend on no
// hit); otherwise they are given and counted in a last call, once the
// hits they depend on are counted.
func (r *Redis) countPhases(ctx context.Context, until time.Time, c moderation.Claim, ifAllowed []byte, now time.Time, nonce string,
	hits []moderation.Hit, phases [][]batch) (moderation.Replay, error) {
	// The answer goes with the claim only when one call does everything:
	// otherwise a retry could read it before a later call refuses.
	one := len(phases) == 1 && len(phases[0]) == 1
	answer := ""
	if c.ID != "" && one {
		answer = string(ifAllowed)
	}
	// The strikes go with the first call when it is the sender's and
	// decides them: it is the only call, or no strike depends on a hit.
	st := strikesOf(c)
	strikesWith := st != nil && len(phases) > 0 && phases[0][0].tag == tag(c.Sender) && (one || unconditional(st))
	stored := false
	for p, phase := range phases {
		calls := make([]scriptCall, len(phase))
		withAt := func(i int) *moderation.Strikes {
			if strikesWith && p == 0 && i == 0 {
				return st
			}
			return nil
		}
		for i, b := range phase {
			calls[i] = r.call(c, b.claim, answer, now, nonce, hits, b.hits, false, withAt(i))
		}
		res, err := r.run(ctx, until, r.breakersFor(ctx, calls), calls[0], calls[1:])
		if err != nil {
			return moderation.Replay{}, fmt.Errorf("counting in redis: %w", err)
		}
		refused := false
		for i, b := range phase {
			out := res.one
			if i > 0 {
				out = res.more[i-1]
			}
			if out.err != nil {
				return moderation.Replay{}, fmt.Errorf("counting in redis: %w", out.err)
			}
			rp, stops, err := read(out.vals, hits, b.hits, false, withAt(i))
			switch {
			case err != nil:
				return moderation.Replay{}, err
			case rp.Seen:
				return rp, nil
			}
			stored = stored || rp.Stored
			refused = refused || stops
		}
		if refused {
			break // later limits are not counted
		}
	}
	if st != nil && !strikesWith {
		if err := r.countStrikes(ctx, until, c, now, nonce, hits, st); err != nil {
			return moderation.Replay{}, err
		}
	}
	return moderation.Replay{Stored: stored}, nil
}

// unconditional reports whether every strike is given whatever the hits:
// none has a limit, and no limit comes before it.
func unconditional(st *moderation.Strikes) bool {
	for _, g := range st.Give {
		if g.Hit >= 0 || g.After > 0 {
			return false
		}
	}
	return true
}

// countStrikes gives the strikes the counted hits earned and counts them,
// in a call of its own to the sender's slot.
func (r *Redis) countStrikes(ctx context.Context, until time.Time, c moderation.Claim, now time.Time, nonce string,
	hits []moderation.Hit, st *moderation.Strikes) error {
	earned := &moderation.Strikes{Read: st.Read}
	var which []int
	for i := range st.Give {
		g := st.Give[i]
		if g.Given = g.Earned(hits); g.Given {
			g.Hit, g.After = -1, 0 // decided here: the call gives it
			earned.Give = append(earned.Give, g)
			which = append(which, i)
		}
		st.Give[i].Given = false
	}
	call := r.call(moderation.Claim{Sender: c.Sender}, false, "", now, nonce, nil, nil, false, earned)
	res, err := r.run(ctx, until, r.breakersFor(ctx, []scriptCall{call}), call, nil)
	if err != nil {
		return fmt.Errorf("counting strikes in redis: %w", err)
	}
	if _, _, err := read(res.one.vals, nil, nil, false, earned); err != nil {
		return err
	}
	for k, i := range which {
		st.Give[i].Given = earned.Give[k].Given
	}
	return nil
}

// scriptCall is one countScript call.
type scriptCall struct {
	keys []string
	args []any
}

// call builds a countScript call: the claim or not, the hits of idx (all:
// every hit), and the strikes st (nil: none).
func (r *Redis) call(c moderation.Claim, claim bool, answer string, now time.Time, nonce string, hits []moderation.Hit, idx []int, all bool,
	st *moderation.Strikes) scriptCall {
	n := len(idx)
	if all {
		n = len(hits)
	}
	keys := make([]string, 1, 2+n)
	claimTTL := int64(0)
	if claim {
		keys[0] = r.claimKey(c)
		claimTTL = max(c.TTL.Milliseconds(), 1)
	} else {
		answer = ""
	}
	args := make([]any, 0, 5+3*n)
	args = append(args, now.UnixMilli(), claimTTL, nonce, answer, n)
	for k := range n {
		h := &hits[k]
		if !all {
			h = &hits[idx[k]]
		}
		keys = append(keys, r.counterKey(h))
		stop := 0
		if h.Stop {
			stop = 1
		}
		args = append(args, h.Limit, max(h.Window.Milliseconds(), 1), stop)
	}
	if st != nil {
		keys = append(keys, r.strikesKey(c.Sender))
		args = append(args, len(st.Give))
		for _, g := range st.Give {
			args = append(args, g.Count, max(g.Decay.Milliseconds(), 1), flag(g.Observed), g.Hit+1, g.After)
		}
		args = append(args, len(st.Read))
		for _, rd := range st.Read {
			args = append(args, max(rd.Window.Within.Milliseconds(), 1), flag(rd.Window.Observed))
		}
	}
	if !claim {
		keys[0] = keys[1] // any key of the slot routes the call
	}
	return scriptCall{keys: keys, args: args}
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// breakersFor returns the breakers of the servers the calls go to.
func (r *Redis) breakersFor(ctx context.Context, calls []scriptCall) []*breaker {
	if r.cluster == nil {
		return r.single
	}
	out := make([]*breaker, 0, len(calls))
	for _, c := range calls {
		addr := ""
		if node, err := r.cluster.MasterForKey(ctx, c.keys[0]); err == nil {
			addr = node.Options().Addr
		}
		out = append(out, r.breakers.get(addr))
	}
	return out
}

// callResult is the answer to one call.
type callResult struct {
	vals []any
	err  error
}

// scriptResult is the answers to one call and to the calls made with it.
type scriptResult struct {
	one  callResult
	more []callResult
}

// err is the first call's error, or nil.
func (s *scriptResult) errAt(i int) error {
	if i == 0 {
		return s.one.err
	}
	return s.more[i-1].err
}

// run makes a call and the calls made with it (at once, one per slot: a
// phase on a Cluster) and waits for their answers until `until`, whatever
// the client does: a black-holed connection must not hold a message past
// its deadline. A call to a server whose breaker is open fails at once.
// brs are the breakers of the calls' servers, in order.
func (r *Redis) run(ctx context.Context, until time.Time, brs []*breaker, first scriptCall, more []scriptCall) (scriptResult, error) {
	now := time.Now()
	wait := until.Sub(now)
	if wait <= 0 {
		return scriptResult{}, context.DeadlineExceeded // no time left to ask: no fault of Redis's
	}
	for _, b := range brs {
		if !b.allow(now) {
			return scriptResult{}, ErrCircuitOpen
		}
	}
	// A pooled timer rather than context.WithTimeout: a timer made and
	// stopped for every message showed in the profile. The call itself
	// keeps ctx, and the client's own timeouts end it if Redis never
	// answers; its answer, however late, tells the breakers.
	done := resultPool.Get().(chan scriptResult)
	go func() {
		res := r.eval(ctx, first, more)
		for i, b := range brs {
			if e := res.errAt(i); serverDown(e) {
				b.failure(time.Now())
			} else if !errors.Is(e, context.Canceled) {
				b.success()
			}
		}
		done <- res
	}()
	t := timerPool.Get().(*time.Timer)
	t.Reset(wait)
	defer timerPool.Put(t)
	select {
	case res := <-done:
		t.Stop()
		resultPool.Put(done)
		if res.one.err != nil {
			return scriptResult{}, res.one.err
		}
		return res, nil
	case <-t.C:
		// done is left to the call still running: it is buffered.
		for _, b := range brs {
			b.failure(time.Now())
		}
		return scriptResult{}, fmt.Errorf("no answer within the message's deadline: %w", context.DeadlineExceeded)
	case <-ctx.Done():
		t.Stop() // the caller gave up: no fault of Redis's
		return scriptResult{}, ctx.Err()
	}
}

// eval makes the calls: one with the script's hash (its text when Redis
// lost it), several in one pipeline that the client splits by server.
func (r *Redis) eval(ctx context.Context, first scriptCall, more []scriptCall) scriptResult {
	var res scriptResult
	if len(more) == 0 {
		res.one.vals, res.one.err = countScript.Run(ctx, r.counts, first.keys, first.args...).Slice()
		return res
	}
	calls := append([]scriptCall{first}, more...)
	cmds := make([]*redis.Cmd, len(calls))
	r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range calls {
			cmds[i] = countScript.EvalSha(ctx, p, c.keys, c.args...)
		}
		return nil
	})
	res.more = make([]callResult, len(more))
	for i, cmd := range cmds {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			cmd = countScript.Eval(ctx, r.client, calls[i].keys, calls[i].args...)
		}
		out := &res.one
		if i > 0 {
			out = &res.more[i-1]
		}
		out.vals, out.err = cmd.Slice()
	}
	return res
}

// serverDown reports whether an error says the server is unreachable,
// slow or unable to serve, rather than that it refused one command.
func serverDown(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		for _, p := range []string{"CLUSTERDOWN", "TRYAGAIN", "LOADING", "MASTERDOWN", "READONLY", "BUSY"} {
			if redis.HasErrorPrefix(err, p) {
				return true
			}
		}
		return false
	}
	return true
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

// Remember implements moderation.Answers. The write is queued and done in
// the background with others; when the queue is full the answer is dropped
// (and counted), and a retry is then evaluated again without being counted.
func (r *Redis) Remember(_ context.Context, c moderation.Claim, answer []byte) error {
	w := answerWrite{key: r.claimKey(c), answer: append([]byte(nil), answer...), ttl: c.TTL}
	select {
	case r.answers <- w:
		return nil
	default:
		r.queueFull.Add(1)
		return errors.New("storing a webhook answer: the write queue is full")
	}
}

// writeAnswers writes queued answers in pipelined batches until Close.
// Answers Redis does not take are dropped and counted.
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
		write := func(eval func(redis.Pipeliner, answerWrite) *redis.Cmd) []*redis.Cmd {
			cmds := make([]*redis.Cmd, 0, len(batch))
			r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, w := range batch {
					cmds = append(cmds, eval(p, w))
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
			if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
				cmds = write(func(p redis.Pipeliner, w answerWrite) *redis.Cmd {
					return answerScript.Eval(ctx, p, []string{w.key}, w.answer, w.ttl.Milliseconds())
				})
				break
			}
		}
		for _, c := range cmds {
			if c.Err() != nil {
				r.writeFailed.Add(1)
			}
		}
		cancel()
	}
}

// AnswersDropped counts the answers not stored for retries: because the
// write queue was full, and because Redis did not take the write.
func (r *Redis) AnswersDropped() (queueFull, writeFailed uint64) {
	return r.queueFull.Load(), r.writeFailed.Load()
}

// String describes the store for logs.
func (r *Redis) String() string {
	kind := "redis"
	switch r.client.(type) {
	case *redis.ClusterClient:
		kind = "redis cluster"
	}
	return kind + " (prefix " + strconv.Quote(strings.TrimSuffix(r.base, ":")) + ")"
}
