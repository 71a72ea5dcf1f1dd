package storage

import (
	"container/list"
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/modgate/modgate/moderation"
)

// Memory keeps state in this process: rate-limit counters and the answers
// given to webhook ids. It is bounded (MemoryOptions), drops what expired
// when it meets it and the least recently used entries when full, and starts
// no goroutines. Everything is lost when the process stops, and nothing is
// shared with other processes: run several modgates with Redis.
type Memory struct {
	now      func() time.Time
	seed     maphash.Seed
	replays  [memoryShards]replayShard
	counters [memoryShards]counterShard
}

var _ moderation.State = (*Memory)(nil)

const memoryShards = 16

// Defaults of MemoryOptions.
const (
	DefaultReplayEntries  = 200_000
	DefaultReplayBytes    = 128 << 20
	DefaultCounterEntries = 1_000_000
)

// MemoryOptions bound Memory; zero values take the defaults.
type MemoryOptions struct {
	Now            func() time.Time // the clock of Remember; Count gets the engine's
	ReplayEntries  int              // answers kept at most
	ReplayBytes    int              // bytes of answers kept at most
	CounterEntries int              // rate-limit counters kept at most
}

// NewMemory returns in-process state.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.ReplayEntries <= 0 {
		opts.ReplayEntries = DefaultReplayEntries
	}
	if opts.ReplayBytes <= 0 {
		opts.ReplayBytes = DefaultReplayBytes
	}
	if opts.CounterEntries <= 0 {
		opts.CounterEntries = DefaultCounterEntries
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Memory{now: opts.Now, seed: maphash.MakeSeed()}
	for i := range m.replays {
		s := &m.replays[i]
		s.entries = map[string]*list.Element{}
		s.maxN = max(1, opts.ReplayEntries/memoryShards)
		s.maxBytes = max(1, opts.ReplayBytes/memoryShards)
	}
	for i := range m.counters {
		c := &m.counters[i]
		c.entries = map[string]*list.Element{}
		c.maxN = max(1, opts.CounterEntries/memoryShards)
	}
	return m
}

func (m *Memory) shardOf(key string) uint64 { return maphash.String(m.seed, key) % memoryShards }

// Count implements moderation.Counter.
func (m *Memory) Count(_ context.Context, id string, ttl time.Duration, now time.Time, hits []moderation.Hit) (moderation.Replay, error) {
	if id != "" {
		if r := m.replays[m.shardOf(id)].claim(id, ttl, now); r.Seen {
			return r, nil
		}
	}
	for i := range hits {
		h := &hits[i]
		m.counters[m.shardOf(h.Key)].hit(h, now)
		if h.Stop && !h.Allowed {
			break
		}
	}
	return moderation.Replay{}, nil
}

// Remember implements moderation.Answers: it stores the answer of an id
// claimed before, unless the claim expired.
func (m *Memory) Remember(_ context.Context, id string, answer []byte, ttl time.Duration) error {
	m.replays[m.shardOf(id)].remember(id, answer, ttl, m.now())
	return nil
}

// A counter is a sliding-window log: the times of the messages counted in
// the last window, oldest first.
type counterShard struct {
	mu      sync.Mutex
	entries map[string]*list.Element
	order   list.List // front: most recently used
	maxN    int
}

type counter struct {
	key   string
	times []time.Time
}

func (s *counterShard) hit(h *moderation.Hit, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h.Done = true
	var c *counter
	if el, ok := s.entries[h.Key]; ok {
		c = el.Value.(*counter)
		s.order.MoveToFront(el)
	} else {
		for s.order.Len() >= s.maxN {
			back := s.order.Back()
			s.order.Remove(back)
			delete(s.entries, back.Value.(*counter).key)
		}
		c = &counter{key: h.Key}
		s.entries[h.Key] = s.order.PushFront(c)
	}
	start := now.Add(-h.Window)
	drop := 0
	for drop < len(c.times) && !c.times[drop].After(start) {
		drop++
	}
	c.times = append(c.times[:0], c.times[drop:]...)
	if len(c.times) < h.Limit {
		c.times = append(c.times, now)
		h.Allowed, h.Count = true, len(c.times)
		return
	}
	h.Count = len(c.times)
	h.RetryAfter = c.times[0].Add(h.Window).Sub(now)
}

type replayShard struct {
	mu       sync.Mutex
	entries  map[string]*list.Element
	order    list.List // front: newest
	bytes    int
	maxN     int
	maxBytes int
}

type replayEntry struct {
	id      string
	answer  []byte // nil while the first attempt runs
	expires time.Time
}

// claim marks id as seen, or returns what was stored for it.
func (s *replayShard) claim(id string, ttl time.Duration, now time.Time) moderation.Replay {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.entries[id]; ok {
		e := el.Value.(*replayEntry)
		if now.Before(e.expires) {
			return moderation.Replay{Seen: true, Answer: e.answer}
		}
		s.remove(el)
	}
	s.insert(&replayEntry{id: id, expires: now.Add(ttl)}, now)
	return moderation.Replay{}
}

func (s *replayShard) remember(id string, answer []byte, ttl time.Duration, now time.Time) {
	size := len(id) + len(answer)
	if size > s.maxBytes {
		return // larger than the whole shard: not worth evicting everything
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.entries[id]
	if !ok {
		return // never claimed here, or evicted since
	}
	e := el.Value.(*replayEntry)
	if e.answer != nil {
		return // the first answer stays
	}
	s.remove(el)
	e.answer = append([]byte(nil), answer...)
	s.insert(e, now)
}

// insert adds e at the front, first making room: the oldest entries sit at
// the back; they expire first and go first.
func (s *replayShard) insert(e *replayEntry, now time.Time) {
	size := len(e.id) + len(e.answer)
	for back := s.order.Back(); back != nil; back = s.order.Back() {
		full := s.order.Len() >= s.maxN || s.bytes+size > s.maxBytes
		if !full && now.Before(back.Value.(*replayEntry).expires) {
			break
		}
		s.remove(back)
	}
	s.entries[e.id] = s.order.PushFront(e)
	s.bytes += size
}

func (s *replayShard) remove(el *list.Element) {
	e := el.Value.(*replayEntry)
	s.order.Remove(el)
	delete(s.entries, e.id)
	s.bytes -= len(e.id) + len(e.answer)
}
