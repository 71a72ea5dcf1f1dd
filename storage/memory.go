package storage

import (
	"container/list"
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/modgate/modgate/moderation"
)

// Memory keeps state in this process. It is bounded: the replay store holds
// at most MaxEntries answers and MaxBytes bytes, dropping the least recently
// stored first, and entries expire after their TTL. It starts no goroutines.
// Everything is lost when the process stops.
type Memory struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [memoryShards]replayShard
}

var _ moderation.Replays = (*Memory)(nil)

const memoryShards = 16

// Memory limits for the replay store, split evenly over its shards.
const (
	DefaultReplayEntries = 200_000
	DefaultReplayBytes   = 128 << 20
)

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
	answer  []byte
	expires time.Time
}

// MemoryOptions tune Memory; zero values take the defaults.
type MemoryOptions struct {
	Now           func() time.Time // the clock
	ReplayEntries int              // answers kept at most
	ReplayBytes   int              // bytes of answers kept at most
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
	m := &Memory{now: opts.Now, seed: maphash.MakeSeed()}
	for i := range m.shards {
		s := &m.shards[i]
		s.entries = map[string]*list.Element{}
		s.maxN = max(1, opts.ReplayEntries/memoryShards)
		s.maxBytes = max(1, opts.ReplayBytes/memoryShards)
	}
	return m
}

func (m *Memory) shard(id string) *replayShard {
	return &m.shards[maphash.String(m.seed, id)%memoryShards]
}

// Recall implements moderation.Replays.
func (m *Memory) Recall(_ context.Context, id string) ([]byte, bool, error) {
	s := m.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.entries[id]
	if !ok {
		return nil, false, nil
	}
	e := el.Value.(*replayEntry)
	if !m.now().Before(e.expires) {
		s.remove(el)
		return nil, false, nil
	}
	return e.answer, true, nil
}

// Remember implements moderation.Replays. The first answer stored for an id wins.
func (m *Memory) Remember(_ context.Context, id string, answer []byte, ttl time.Duration) error {
	s := m.shard(id)
	size := len(id) + len(answer)
	if size > s.maxBytes {
		return nil // larger than the whole shard: not worth evicting everything
	}
	now := m.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.entries[id]; ok {
		if now.Before(el.Value.(*replayEntry).expires) {
			return nil
		}
		s.remove(el)
	}
	// The oldest entries sit at the back; they expire first and go first.
	for back := s.order.Back(); back != nil; back = s.order.Back() {
		full := s.order.Len() >= s.maxN || s.bytes+size > s.maxBytes
		if !full && now.Before(back.Value.(*replayEntry).expires) {
			break
		}
		s.remove(back)
	}
	e := &replayEntry{id: id, answer: append([]byte(nil), answer...), expires: now.Add(ttl)}
	s.entries[id] = s.order.PushFront(e)
	s.bytes += size
	return nil
}

func (s *replayShard) remove(el *list.Element) {
	e := el.Value.(*replayEntry)
	s.order.Remove(el)
	delete(s.entries, e.id)
	s.bytes -= len(e.id) + len(e.answer)
}
