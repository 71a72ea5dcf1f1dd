package storage

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/modgate/modgate/moderation"
)

// Memory keeps state in this process: rate-limit counters, senders'
// strikes and the answers given to webhook ids. It is bounded (MemoryOptions): when a counter shard
// is full, what expired goes first, then counters chosen at random; webhook
// ids live for one to two replay TTLs, less when their store is full. It starts no
// goroutines. Entries are values in maps, not linked objects, to keep the
// garbage collector's work small under load. Everything is lost when the
// process stops, and nothing is shared with other processes: run several
// modgates with Redis.
type Memory struct {
	now      func() time.Time
	seed     maphash.Seed
	replays  [memoryShards]replayShard
	counters [memoryShards]counterShard
	strikes  [memoryShards]strikeShard
}

var _ moderation.State = (*Memory)(nil)

const memoryShards = 32

// Defaults of MemoryOptions.
const (
	DefaultReplayEntries  = 1_000_000
	DefaultReplayBytes    = 64 << 20
	DefaultCounterEntries = 250_000
)

// MemoryOptions bound Memory; zero values take the defaults.
type MemoryOptions struct {
	Now            func() time.Time // the clock of Remember; Count gets the engine's
	ReplayEntries  int              // webhook ids kept at most
	ReplayBytes    int              // bytes of stored answers kept at most
	CounterEntries int              // rate-limit counters kept at most
	StrikeSenders  int              // senders whose strikes are kept at most
}

// NewMemory returns in-process state.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ReplayEntries <= 0 {
		opts.ReplayEntries = DefaultReplayEntries
	}
	if opts.ReplayBytes <= 0 {
		opts.ReplayBytes = DefaultReplayBytes
	}
	if opts.CounterEntries <= 0 {
		opts.CounterEntries = DefaultCounterEntries
	}
	if opts.StrikeSenders <= 0 {
		opts.StrikeSenders = DefaultStrikeSenders
	}
	m := &Memory{now: opts.Now, seed: maphash.MakeSeed()}
	for i := range m.replays {
		s := &m.replays[i]
		s.maxN = max(1, opts.ReplayEntries/memoryShards/2)
		s.maxBytes = max(1, opts.ReplayBytes/memoryShards)
	}
	for i := range m.counters {
		c := &m.counters[i]
		c.entries = map[uint64]counter{}
		c.more = map[uint64][]int64{}
		c.maxN = max(1, opts.CounterEntries/memoryShards)
	}
	for i := range m.strikes {
		st := &m.strikes[i]
		st.senders = map[uint64][]strikeEntry{}
		st.maxN = max(1, opts.StrikeSenders/memoryShards)
	}
	return m
}

// hashOf names a key by its 64-bit hash: maps keyed by numbers are faster
// and smaller than maps keyed by strings, and with a random seed two keys
// share a hash with odds of about n²/2⁶⁵ (one in thirty million for a
// million keys), when they would share a counter.
func (m *Memory) hashOf(key string) (h uint64, shard uint64) {
	h = maphash.String(m.seed, key)
	return h, h % memoryShards
}

// Count implements moderation.Counter.
func (m *Memory) Count(_ context.Context, c moderation.Claim, ifAllowed []byte, now, _ time.Time, hits []moderation.Hit) (moderation.Replay, error) {
	id, ttl := c.ID, c.TTL
	var idHash, idShard uint64
	claim := markPending
	if id != "" {
		idHash, idShard = m.hashOf(id)
		if short, ok := shortMark(ifAllowed); ok {
			claim = short // the answer, unless a limit refuses below; a longer one is Remembered
		}
		if r := m.replays[idShard].claim(idHash, ttl, now, claim); r.Seen {
			return r, nil
		}
	}
	allowed := true
	for i := range hits {
		h := &hits[i]
		key, shard := m.hashOf(h.Key)
		m.counters[shard].hit(key, h, now)
		allowed = allowed && h.Allowed
		if h.Stop && !h.Allowed {
			break
		}
	}
	if c.Strikes != nil && c.Sender != "" {
		sender, shard := m.hashOf(c.Sender)
		m.strikes[shard].strikes(sender, c.Strikes, hits, now)
	}
	if claim == markPending {
		return moderation.Replay{}, nil
	}
	if !allowed {
		m.replays[idShard].pending(idHash)
		return moderation.Replay{}, nil
	}
	return moderation.Replay{Stored: true}, nil
}

// Remember implements moderation.Answers: it stores the answer of an id
// claimed before, unless the claim expired.
func (m *Memory) Remember(_ context.Context, c moderation.Claim, answer []byte) error {
	h, shard := m.hashOf(c.ID)
	m.replays[shard].remember(h, answer, m.now())
	return nil
}

// counterShard holds sliding-window logs: the times (unix nanoseconds) of
// the messages counted in the last window, oldest first.
type counterShard struct {
	mu      sync.Mutex
	entries map[uint64]counter // holds no pointers: the garbage collector skips it
	more    map[uint64][]int64 // the times of counters whose limit is above inlineTimes
	maxN    int
	added   int // new counters since the last sweep
}

// inlineTimes is how many times a counter keeps without a separate slice:
// most limits are small.
const inlineTimes = 6

// maxInlineWindow is the longest window whose times a counter keeps inline,
// as milliseconds in a uint32 (the times of a window span at most it).
const maxInlineWindow = int64(30 * 24 * time.Hour)

// counter is one sliding-window log, 48 bytes (about 100 with its key and
// the map's room: TestCounterMemory). Inline, its times are kept
// to the millisecond after the oldest (as Redis keeps them); past
// inlineTimes or maxInlineWindow they move to counterShard.more.
type counter struct {
	base   int64 // inline: the oldest time kept (unix ns), origin of offs; big: the newest time
	window int64 // nanoseconds
	offs   [inlineTimes]uint32
	n      uint8 // inline: how many offs are in use
	big    bool  // the times are in counterShard.more
}

// at is the time of the i-th inline entry.
func (c *counter) at(i int) int64 { return c.base + int64(c.offs[i])*int64(time.Millisecond) }

func (c *counter) last() int64 {
	if c.big || c.n == 0 {
		return c.base
	}
	return c.at(int(c.n) - 1)
}

func (c *counter) expired(now int64, more map[uint64][]int64, key uint64) bool {
	if c.big {
		return len(more[key]) == 0 || c.base <= now-c.window
	}
	return c.n == 0 || c.last() <= now-c.window
}

// slideInline drops the inline times at or before cutoff and makes the
// oldest one left the origin.
func (c *counter) slideInline(cutoff int64) {
	drop := 0
	for drop < int(c.n) && c.at(drop) <= cutoff {
		drop++
	}
	if drop == 0 {
		return
	}
	if drop == int(c.n) {
		c.n = 0
		return
	}
	origin := c.offs[drop]
	c.base = c.at(drop)
	for i := drop; i < int(c.n); i++ {
		c.offs[i-drop] = c.offs[i] - origin
	}
	c.n -= uint8(drop)
}

// addInline appends ns, which is not before the times kept.
func (c *counter) addInline(ns int64) {
	if c.n == 0 {
		c.base, c.offs[0], c.n = ns, 0, 1
		return
	}
	c.offs[c.n] = uint32(max(ns-c.base, 0) / int64(time.Millisecond))
	c.n++
}

func (s *counterShard) hit(key uint64, h *moderation.Hit, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h.Done = true
	ns, window := now.UnixNano(), int64(h.Window)
	c, ok := s.entries[key]
	if !ok {
		// Sweep out what expired now and then, so the map follows the
		// counters in use rather than everything ever counted.
		if s.added++; len(s.entries) >= s.maxN || s.added >= max(64, s.maxN/8) {
			s.evict(ns)
			s.added = 0
		}
	}
	c.window = window
	if !c.big && c.n > 0 && window > maxInlineWindow {
		s.moveOut(key, &c)
	}
	if c.big || window > maxInlineWindow {
		var times []int64
		if c.big {
			times = slide(s.more[key], ns-window)
		}
		if len(times) < h.Limit {
			times = append(times, ns)
			c.base = ns
			h.Allowed = true
		} else {
			h.RetryAfter = time.Duration(times[0] + window - ns)
		}
		s.more[key], c.big, h.Count = times, true, len(times)
		s.entries[key] = c
		return
	}
	c.slideInline(ns - window)
	switch n := int(c.n); {
	case n >= h.Limit:
		h.RetryAfter = time.Duration(c.base + window - ns)
		h.Count = n
	case n == inlineTimes:
		s.moveOut(key, &c)
		s.more[key] = append(s.more[key], ns)
		c.base, h.Allowed, h.Count = ns, true, n+1
	default:
		c.addInline(ns)
		h.Allowed, h.Count = true, n+1
	}
	s.entries[key] = c
}

// moveOut moves a counter's inline times to s.more.
func (s *counterShard) moveOut(key uint64, c *counter) {
	times := make([]int64, c.n, 2*inlineTimes)
	for i := range times {
		times[i] = c.at(i)
	}
	s.more[key] = times
	c.base, c.big, c.n = c.last(), true, 0
}

// slide drops the times at or before cutoff from the front of times, in
// place, and returns what is left.
func slide(times []int64, cutoff int64) []int64 {
	drop := 0
	for drop < len(times) && times[drop] <= cutoff {
		drop++
	}
	if drop == 0 {
		return times
	}
	n := copy(times, times[drop:])
	return times[:n]
}

// evict removes every expired counter and, when the shard is still full,
// one in eight chosen at random (map order). A sweep visits the whole
// shard; dropping an eighth, not a sixteenth, halves how often a full shard
// is swept (the same counters are dropped over time either way).
func (s *counterShard) evict(now int64) {
	for k, c := range s.entries {
		if c.expired(now, s.more, k) {
			s.remove(k, c)
		}
	}
	for k, c := range s.entries {
		if len(s.entries) < s.maxN-s.maxN/8 {
			break
		}
		s.remove(k, c)
	}
}

func (s *counterShard) remove(k uint64, c counter) {
	delete(s.entries, k)
	if c.big {
		delete(s.more, k)
	}
}

// replayShard keeps webhook ids in two generations: new claims go into the
// current one, and when it is older than the replay TTL (or full) it becomes
// the previous one and the previous one is dropped whole. An id is thus kept
// between one and two TTLs, and expiry costs nothing per entry. Ids and the
// one-byte answers of most messages live in pointer-free maps that the
// garbage collector skips; longer answers are kept beside them. What an
// answer says is the engine's business: here it is bytes.
type replayShard struct {
	mu       sync.Mutex
	cur      generation
	prev     generation
	started  int64 // when cur began, unix nanoseconds
	bytes    int   // of long answers in cur and prev
	maxN     int   // ids per generation
	maxBytes int
}

type generation struct {
	marks   map[uint64]mark   // id (hashed) → what is known of it
	answers map[uint64][]byte // answers longer than a byte
}

// mark is what a generation knows of a webhook id: claimed with its answer
// still to come, answered with one byte kept in the mark itself, or
// answered with a longer answer kept in answers. (A map entry takes as much
// room with a uint16 as with a byte.)
type mark uint16

const (
	markPending mark = 0
	markShort   mark = 1 << 8 // | the answer's one byte
	markLong    mark = 2 << 8
)

// shortMark returns the mark that holds a one-byte answer.
func shortMark(answer []byte) (mark, bool) {
	if len(answer) != 1 {
		return markPending, false
	}
	return markShort | mark(answer[0]), true
}

func newGeneration(size int) generation {
	return generation{marks: make(map[uint64]mark, size), answers: map[uint64][]byte{}}
}

func (g *generation) find(id uint64) (moderation.Replay, bool) {
	m, ok := g.marks[id]
	switch {
	case !ok:
		return moderation.Replay{}, false
	case m == markPending:
		return moderation.Replay{Seen: true}, true
	case m == markLong:
		return moderation.Replay{Seen: true, Answer: g.answers[id]}, true
	}
	return moderation.Replay{Seen: true, Answer: []byte{byte(m)}}, true
}

// claim marks id as seen with m (markPending, or a one-byte answer), or
// returns what was stored for it.
func (s *replayShard) claim(id uint64, ttl time.Duration, now time.Time, m mark) moderation.Replay {
	ns := now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rotate(ns, ttl)
	if r, ok := s.cur.find(id); ok {
		return r
	}
	if r, ok := s.prev.find(id); ok {
		return r
	}
	s.cur.marks[id] = m
	return moderation.Replay{}
}

// pending takes back the answer a claim was made with: the id's answer is
// not known yet after all.
func (s *replayShard) pending(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range [2]*generation{&s.cur, &s.prev} { // the claim may have aged into prev
		if _, ok := g.marks[id]; ok {
			g.marks[id] = markPending
			return
		}
	}
}

// rotate starts a new generation when the current one is older than ttl or full.
func (s *replayShard) rotate(now int64, ttl time.Duration) {
	if s.cur.marks == nil {
		s.cur, s.started = newGeneration(0), now
		return
	}
	if now-s.started < int64(ttl) && len(s.cur.marks) < s.maxN && s.bytes <= s.maxBytes {
		return
	}
	for _, a := range s.prev.answers {
		s.bytes -= len(a)
	}
	if now-s.started >= 2*int64(ttl) { // both generations are past their time
		for _, a := range s.cur.answers {
			s.bytes -= len(a)
		}
		s.prev, s.cur, s.started = generation{}, newGeneration(0), now
		return
	}
	s.prev, s.cur, s.started = s.cur, newGeneration(len(s.cur.marks)), now
}

func (s *replayShard) remember(id uint64, answer []byte, _ time.Time) {
	if len(answer) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range [2]*generation{&s.cur, &s.prev} {
		m, ok := g.marks[id]
		if !ok {
			continue
		}
		if m != markPending {
			return // the first answer stays
		}
		if short, ok := shortMark(answer); ok {
			g.marks[id] = short
			return
		}
		if len(answer) <= s.maxBytes/4 {
			g.marks[id] = markLong
			g.answers[id] = append([]byte(nil), answer...)
			s.bytes += len(answer)
		}
		return
	}
}
