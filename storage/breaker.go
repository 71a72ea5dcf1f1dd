package storage

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrCircuitOpen is returned without asking Redis while the server that
// holds the keys has failed several times in a row.
var ErrCircuitOpen = errors.New("redis failed several times in a row; not asking again yet")

// Breaker defaults. One slow or failed answer does not open a breaker:
// under load a busy host delays single answers, and each message already
// waits no longer than its deadline. Several failures in a row with no
// answer between them do, and then calls fail at once instead of each
// waiting for its deadline; after breakerPause one call probes, and any
// answer, even one that arrives after its caller gave up, closes it.
const (
	breakerTrips = 3
	breakerPause = 250 * time.Millisecond
)

// breaker stops calls to a Redis server that keeps failing. Its healthy
// path is two atomic loads.
type breaker struct {
	trips    *atomic.Uint64 // counts the times a breaker opened; may be nil
	failures atomic.Int32   // in a row
	mu       sync.Mutex
	until    time.Time // open until then
	probing  bool      // one call is finding out whether the server is back
}

func (b *breaker) allow(now time.Time) bool {
	if b.failures.Load() < breakerTrips {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures.Load() < breakerTrips {
		return true
	}
	if now.Before(b.until) || b.probing {
		return false
	}
	b.probing = true
	return true
}

func (b *breaker) success() {
	if b.failures.Load() == 0 {
		return
	}
	b.mu.Lock()
	b.failures.Store(0)
	b.probing = false
	b.mu.Unlock()
}

func (b *breaker) failure(now time.Time) {
	b.mu.Lock()
	if n := b.failures.Add(1); n >= breakerTrips {
		b.until = now.Add(breakerPause)
		if n == breakerTrips && b.trips != nil {
			b.trips.Add(1)
		}
	}
	b.probing = false
	b.mu.Unlock()
}

// open reports whether calls are refused now.
func (b *breaker) open(now time.Time) bool {
	if b.failures.Load() < breakerTrips {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return now.Before(b.until) || b.probing
}

// breakers are one breaker per server, by address: on a Redis Cluster a
// failing master stops the calls to its slots only.
type breakers struct {
	trips *atomic.Uint64 // given to each breaker
	mu    sync.Mutex
	m     map[string]*breaker
}

func (bs *breakers) get(addr string) *breaker {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b := bs.m[addr]
	if b == nil {
		if bs.m == nil {
			bs.m = map[string]*breaker{}
		}
		b = &breaker{trips: bs.trips}
		bs.m[addr] = b
	}
	return b
}
