package storage

import (
	"sync"
	"time"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// Strikes are kept per sender: each strike with when it was given, until
// when it is remembered, how many it counts for and whether a rule in
// observe mode gave it. A count reads those given within its window and
// still remembered, to the millisecond (as Redis keeps them). A sender
// keeps at most maxSenderStrikes entries, the oldest going first.

// maxSenderStrikes bounds the strikes kept for one sender: a sender who
// earns more than this is past every ladder anyway.
const maxSenderStrikes = 1000

// DefaultStrikeSenders is how many senders' strikes Memory keeps by default.
const DefaultStrikeSenders = 100_000

// strikeEntry is one strike given, times in unix milliseconds.
type strikeEntry struct {
	at, until int64
	count     int32
	observed  bool
}

// strikeShard holds the strikes of the senders whose ids hash to it.
type strikeShard struct {
	mu      sync.Mutex
	senders map[uint64][]strikeEntry
	maxN    int
	added   int // new senders since the last sweep
}

// strikes gives and counts one message's strikes for its sender, hits
// being counted; under the shard's lock, so one message's strikes come out
// as one step.
func (s *strikeShard) strikes(sender uint64, st *moderation.Strikes, hits []moderation.Hit, now time.Time) {
	ms := now.UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	list, ok := s.senders[sender]
	if !ok && len(st.Give) > 0 {
		if s.added++; len(s.senders) >= s.maxN || s.added >= max(64, s.maxN/8) {
			s.evict(ms)
			s.added = 0
		}
	}
	list = forget(list, ms)
	for i := range st.Give {
		g := &st.Give[i]
		g.Given = g.Earned(hits)
		if g.Given {
			list = append(list, strikeEntry{at: ms, until: ms + g.Decay.Milliseconds(), count: int32(g.Count), observed: g.Observed})
		}
	}
	if n := len(list) - maxSenderStrikes; n > 0 {
		list = append(list[:0], list[n:]...)
	}
	for i := range st.Read {
		st.Read[i].Count = countStrikes(list, st.Read[i].Window, ms)
	}
	switch {
	case len(list) > 0:
		s.senders[sender] = list
	case ok:
		delete(s.senders, sender)
	}
}

// forget drops the strikes no longer remembered at ms, in place.
func forget(list []strikeEntry, ms int64) []strikeEntry {
	kept := list[:0]
	for _, e := range list {
		if e.until > ms {
			kept = append(kept, e)
		}
	}
	return kept
}

// remembered reports whether a strike of list is remembered still at ms.
func remembered(list []strikeEntry, ms int64) bool {
	for _, e := range list {
		if e.until > ms {
			return true
		}
	}
	return false
}

// countStrikes counts the strikes of list given within w before ms and
// remembered still.
func countStrikes(list []strikeEntry, w rules.StrikeWindow, ms int64) int {
	from := ms - w.Within.Milliseconds()
	n := 0
	for _, e := range list {
		if e.at > from && e.until > ms && (w.Observed || !e.observed) {
			n += int(e.count)
		}
	}
	return n
}

// evict drops the senders whose strikes are all forgotten and, when the
// shard is still full, one in eight chosen at random.
func (s *strikeShard) evict(ms int64) {
	for k, list := range s.senders {
		if !remembered(list, ms) {
			delete(s.senders, k)
		}
	}
	for k := range s.senders {
		if len(s.senders) < s.maxN-s.maxN/8 {
			break
		}
		delete(s.senders, k)
	}
}
