package storage

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modgate/modgate/moderation"
)

type store struct {
	name string
	new  func(t *testing.T) moderation.State
}

// stores are the implementations the contract holds for: memory, one
// Redis server, the same counting group by group as on a Cluster, a Redis
// Cluster and a Sentinel group.
func stores() []store {
	return []store{
		{"memory", func(t *testing.T) moderation.State { return NewMemory(MemoryOptions{}) }},
		{"redis", func(t *testing.T) moderation.State { return newTestRedis(t) }},
		{"redis-spread", func(t *testing.T) moderation.State { r := newTestRedis(t); r.spread = true; return r }},
		{"redis-cluster", func(t *testing.T) moderation.State { return newTestRedisAt(t, testClusterURL(t)) }},
		{"redis-sentinel", func(t *testing.T) moderation.State { return newTestRedisAt(t, testSentinelURL(t)) }},
	}
}

// forEachStore runs one contract test against every implementation.
func forEachStore(t *testing.T, test func(t *testing.T, s moderation.State)) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			test(t, st.new(t))
		})
	}
}

// t0 is now, to the second: the Redis queue expires items on Redis's own
// clock, so the times the tests give must be near it.
var t0 = time.Now().UTC().Truncate(time.Second)

func hit(s moderation.State, t *testing.T, key string, limit int, window time.Duration, at time.Time) moderation.Hit {
	t.Helper()
	hits := []moderation.Hit{{Key: key, Limit: limit, Window: window}}
	if _, err := s.Count(context.Background(), moderation.Claim{}, nil, at, time.Time{}, hits); err != nil {
		t.Fatal(err)
	}
	return hits[0]
}

func TestContractSlidingWindow(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s moderation.State) {
		w := 10 * time.Second
		for i := range 3 {
			if h := hit(s, t, "k", 3, w, t0.Add(time.Duration(i)*time.Second)); !h.Done || !h.Allowed || h.Count != i+1 {
				t.Fatalf("hit %d: %+v", i, h)
			}
		}
		h := hit(s, t, "k", 3, w, t0.Add(3*time.Second))
		if h.Allowed || h.Count != 3 || h.RetryAfter != 7*time.Second {
			t.Fatalf("fourth hit in the window: %+v", h)
		}
		// A refused hit is not counted: the window still holds three.
		if h := hit(s, t, "k", 3, w, t0.Add(9999*time.Millisecond)); h.Allowed {
			t.Fatalf("just inside the window: %+v", h)
		}
		// At exactly t0+10s the first message leaves the window.
		if h := hit(s, t, "k", 3, w, t0.Add(10*time.Second)); !h.Allowed || h.Count != 3 {
			t.Fatalf("at the window's edge: %+v", h)
		}
		if h := hit(s, t, "k", 3, w, t0.Add(10*time.Second)); h.Allowed || h.RetryAfter != time.Second {
			t.Fatalf("after the edge: %+v", h)
		}
		// Other keys count on their own.
		if h := hit(s, t, "other", 3, w, t0.Add(3*time.Second)); !h.Allowed || h.Count != 1 {
			t.Fatalf("other key: %+v", h)
		}
	})
}

func TestContractStopsAtARefusal(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s moderation.State) {
		hit(s, t, "a", 1, time.Minute, t0)
		hits := []moderation.Hit{
			{Key: "b", Limit: 5, Window: time.Minute},
			{Key: "a", Limit: 1, Window: time.Minute, Stop: true},
			{Key: "c", Limit: 5, Window: time.Minute},
		}
		if _, err := s.Count(context.Background(), moderation.Claim{}, nil, t0, time.Time{}, hits); err != nil {
			t.Fatal(err)
		}
		if !hits[0].Done || !hits[0].Allowed || !hits[1].Done || hits[1].Allowed || hits[2].Done {
			t.Fatalf("hits %+v", hits)
		}
		if h := hit(s, t, "c", 1, time.Minute, t0); !h.Allowed || h.Count != 1 {
			t.Fatalf("c must not have been counted: %+v", h)
		}
	})
}

func TestContractConcurrentHitsCountExactly(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s moderation.State) {
		const goroutines, each, limit = 20, 25, 300
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					hits := []moderation.Hit{{Key: "hot", Limit: limit, Window: time.Hour}}
					at := t0.Add(time.Duration(g*each+i) * time.Millisecond)
					if _, err := s.Count(context.Background(), moderation.Claim{}, nil, at, time.Time{}, hits); err != nil {
						t.Error(err)
						return
					}
					if hits[0].Allowed {
						allowed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if got := allowed.Load(); got != limit {
			t.Fatalf("%d of %d hits allowed with a limit of %d", got, goroutines*each, limit)
		}
	})
}

func TestContractCountersExpire(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s moderation.State) {
		hit(s, t, "e", 1, time.Second, t0)
		if h := hit(s, t, "e", 1, time.Second, t0.Add(500*time.Millisecond)); h.Allowed {
			t.Fatal("limit not applied")
		}
		if h := hit(s, t, "e", 1, time.Second, t0.Add(1500*time.Millisecond)); !h.Allowed || h.Count != 1 {
			t.Fatalf("after the window: %+v", h)
		}
		if r, ok := s.(*Redis); ok {
			ttl := r.client.PTTL(context.Background(), r.counterKey(&moderation.Hit{Key: "e"})).Val()
			if ttl <= 0 || ttl > time.Second {
				t.Fatalf("counter key TTL %v, want at most the window", ttl)
			}
		}
	})
}

func TestContractWebhookClaims(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s moderation.State) {
		ctx := context.Background()
		counted := func(id string) (moderation.Replay, moderation.Hit) {
			hits := []moderation.Hit{{Key: "wh-counter", Limit: 100, Window: time.Hour}}
			rp, err := s.Count(ctx, moderation.Claim{ID: id, TTL: time.Minute}, nil, t0, time.Time{}, hits)
			if err != nil {
				t.Fatal(err)
			}
			return rp, hits[0]
		}
		rp, h := counted("wh-1")
		if rp.Seen || !h.Allowed || h.Count != 1 {
			t.Fatalf("first call: %+v %+v", rp, h)
		}
		rp, h = counted("wh-1")
		if !rp.Seen || rp.Answer != nil || h.Done {
			t.Fatalf("retry while the first runs: %+v %+v (nothing may be counted)", rp, h)
		}
		if err := s.Remember(ctx, moderation.Claim{ID: "wh-1", TTL: time.Minute}, []byte(`{"message":{"text":"a"}}`)); err != nil {
			t.Fatal(err)
		}
		s.Remember(ctx, moderation.Claim{ID: "wh-1", TTL: time.Minute}, []byte(`{"message":{"text":"second"}}`))
		var got []byte
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if rp, _ = counted("wh-1"); rp.Answer != nil {
				got = rp.Answer
				break
			}
		}
		if string(got) != `{"message":{"text":"a"}}` {
			t.Fatalf("stored answer %q: the first answer must be kept", got)
		}
		if _, h = counted("wh-2"); !h.Allowed || h.Count != 2 {
			t.Fatalf("a new id counts: %+v", h)
		}
		// An answer for an id never claimed is not stored.
		s.Remember(ctx, moderation.Claim{ID: "never-claimed", TTL: time.Minute}, []byte("x"))
		if rp, _ := counted("never-claimed"); rp.Seen {
			t.Fatal("an unclaimed id was stored")
		}
	})
}

func TestContractClaimsExpire(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s moderation.State) {
		ctx := context.Background()
		now := time.Now()
		if rp, err := s.Count(ctx, moderation.Claim{ID: "short", TTL: 100 * time.Millisecond}, nil, now, time.Time{}, nil); err != nil || rp.Seen {
			t.Fatalf("%+v %v", rp, err)
		}
		// Memory keeps an id one to two TTLs, by the clock it is given;
		// Redis by its own TTL.
		time.Sleep(250 * time.Millisecond)
		s.Count(ctx, moderation.Claim{ID: "other", TTL: 100 * time.Millisecond}, nil, now.Add(150*time.Millisecond), time.Time{}, nil)
		if rp, err := s.Count(ctx, moderation.Claim{ID: "short", TTL: 100 * time.Millisecond}, nil, now.Add(250*time.Millisecond), time.Time{}, nil); err != nil || rp.Seen {
			t.Fatalf("claim did not expire: %+v %v", rp, err)
		}
	})
}

func TestMemoryIsBounded(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryOptions{ReplayEntries: memoryShards * 10, ReplayBytes: memoryShards * 1000, CounterEntries: memoryShards * 10})
	ctx := context.Background()
	for i := range 10_000 {
		id := fmt.Sprint("id-", i)
		m.Count(ctx, moderation.Claim{ID: id, TTL: time.Hour}, nil, t0, time.Time{}, []moderation.Hit{{Key: fmt.Sprint("k-", i), Limit: 5, Window: time.Hour}})
		m.Remember(ctx, moderation.Claim{ID: id, TTL: time.Hour}, make([]byte, 50))
	}
	for i := range m.replays {
		s := &m.replays[i]
		if len(s.cur.marks)+len(s.prev.marks) > 2*s.maxN || s.bytes > s.maxBytes+s.maxBytes/4 {
			t.Fatalf("replay shard %d holds %d entries, %d bytes", i, len(s.cur.marks)+len(s.prev.marks), s.bytes)
		}
		if c := &m.counters[i]; len(c.entries) > c.maxN {
			t.Fatalf("counter shard %d holds %d", i, len(c.entries))
		}
	}
	if rp, _ := m.Count(ctx, moderation.Claim{ID: "id-9999", TTL: time.Hour}, nil, t0, time.Time{}, nil); !rp.Seen || rp.Answer == nil {
		t.Fatal("the newest answer was evicted")
	}
}

func TestMemoryLargeLimits(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryOptions{})
	for i := range 20 {
		h := hit(m, t, "big", 15, time.Minute, t0.Add(time.Duration(i)*time.Second))
		if h.Allowed != (i < 15) || (h.Allowed && h.Count != i+1) {
			t.Fatalf("hit %d: %+v", i, h)
		}
	}
	// Past the window of the first ones, room again.
	if h := hit(m, t, "big", 15, time.Minute, t0.Add(61*time.Second)); !h.Allowed || h.Count != 14 {
		t.Fatalf("after a minute: %+v", h)
	}
}

func TestRedisURLs(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"localhost:6379", "http://x", "redis+mesh://x:1", "redis://:pw@host:notaport/0"} {
		if _, err := OpenRedis(bad, RedisOptions{}); err == nil {
			t.Errorf("%q accepted", bad)
		} else if bad == "redis://:pw@host:notaport/0" && contains(err.Error(), "pw") {
			t.Errorf("error shows the password: %v", err)
		}
	}
	for _, good := range []string{"redis://127.0.0.1:6379/0", "rediss://user:pw@127.0.0.1:6380", "redis+cluster://127.0.0.1:7000?addr=127.0.0.1:7001",
		"redis+sentinel://127.0.0.1:26379?master_name=mymaster"} {
		r, err := OpenRedis(good, RedisOptions{})
		if err != nil {
			t.Errorf("%q refused: %v", good, err)
			continue
		}
		r.Close()
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestRedisAnswersAfterScriptFlush: answers are written with EVALSHA; a
// server that lost its scripts (restart, SCRIPT FLUSH) still gets them.
func TestRedisAnswersAfterScriptFlush(t *testing.T) {
	t.Parallel()
	r := newTestRedis(t)
	ctx := context.Background()
	for i, flush := range []bool{false, true} {
		id := fmt.Sprintf("flush-%d", i)
		if rp, err := r.Count(ctx, moderation.Claim{ID: id, TTL: time.Minute}, nil, time.Now(), time.Time{}, nil); err != nil || rp.Seen {
			t.Fatalf("claim: %+v %v", rp, err)
		}
		if flush {
			if err := r.client.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Remember(ctx, moderation.Claim{ID: id, TTL: time.Minute}, []byte("A")); err != nil {
			t.Fatal(err)
		}
		var got []byte
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && got == nil; time.Sleep(5 * time.Millisecond) {
			rp, err := r.Count(ctx, moderation.Claim{ID: id, TTL: time.Minute}, nil, time.Now(), time.Time{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			got = rp.Answer
		}
		if string(got) != "A" {
			t.Fatalf("flush %v: stored answer %q", flush, got)
		}
	}
}

// TestContractAnswersAreBytes: a store keeps the bytes it is given as an
// answer, remembered after the claim or (when the store can) given with it:
// what they say is the engine's business, and no byte is a store's own.
func TestContractAnswersAreBytes(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s moderation.State) {
		cases := []struct {
			name   string
			answer []byte
		}{
			{"zero byte", []byte{0}},
			{"byte 0xff", []byte{0xff}},
			{"a letter", []byte("A")},
			{"two bytes", []byte{0xff, 0}},
			{"long", bytes.Repeat([]byte{0, 0xff, 'x'}, 100)},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				answerOf := func(id string) []byte {
					t.Helper()
					var got []byte
					for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && got == nil; time.Sleep(5 * time.Millisecond) {
						rp, err := s.Count(ctx, moderation.Claim{ID: id, TTL: time.Minute}, nil, t0, time.Time{}, nil)
						if err != nil || !rp.Seen {
							t.Fatalf("%+v %v: the id was claimed", rp, err)
						}
						got = rp.Answer
					}
					return got
				}
				claimed := fmt.Sprint("bytes-claimed-", i)
				rp, err := s.Count(ctx, moderation.Claim{ID: claimed, TTL: time.Minute}, tc.answer, t0, time.Time{}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !rp.Stored {
					s.Remember(ctx, moderation.Claim{ID: claimed, TTL: time.Minute}, tc.answer)
				}
				if got := answerOf(claimed); !bytes.Equal(got, tc.answer) {
					t.Fatalf("given with the claim: %q, want %q", got, tc.answer)
				}
				remembered := fmt.Sprint("bytes-remembered-", i)
				if _, err := s.Count(ctx, moderation.Claim{ID: remembered, TTL: time.Minute}, nil, t0, time.Time{}, nil); err != nil {
					t.Fatal(err)
				}
				if err := s.Remember(ctx, moderation.Claim{ID: remembered, TTL: time.Minute}, tc.answer); err != nil {
					t.Fatal(err)
				}
				if got := answerOf(remembered); !bytes.Equal(got, tc.answer) {
					t.Fatalf("remembered: %q, want %q", got, tc.answer)
				}
			})
		}
	})
}

// TestContractClaimWithAnswer: an answer given with the claim is kept when
// every limit allows the message, and taken back when one refuses it, so
// that the answer then written decides. The limit is by user, as the
// engine gives it: the claim and the counter are in one group.
func TestContractClaimWithAnswer(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s moderation.State) {
		ctx := context.Background()
		count := func(id string, key string, limit int) (moderation.Replay, moderation.Hit) {
			t.Helper()
			hits := []moderation.Hit{{Key: key, Group: "u-ans", Limit: limit, Window: time.Hour, Stop: true}}
			rp, err := s.Count(ctx, moderation.Claim{ID: id, Sender: "u-ans", TTL: time.Minute}, []byte("A"), t0, time.Time{}, hits)
			if err != nil {
				t.Fatal(err)
			}
			return rp, hits[0]
		}
		if rp, h := count("ans-1", "ans-user", 1); !rp.Stored || rp.Seen || !h.Allowed {
			t.Fatalf("allowed: %+v %+v, want the answer stored", rp, h)
		}
		if rp, h := count("ans-1", "ans-user", 1); !rp.Seen || string(rp.Answer) != "A" || h.Done {
			t.Fatalf("retry: %+v %+v, want the stored answer and nothing counted", rp, h)
		}
		if rp, h := count("ans-2", "ans-user", 1); rp.Stored || rp.Seen || h.Allowed {
			t.Fatalf("refused: %+v %+v, want no answer stored", rp, h)
		}
		if rp, _ := count("ans-2", "ans-user", 1); !rp.Seen || rp.Answer != nil {
			t.Fatalf("retry of a refused message: %+v, want pending", rp)
		}
		if err := s.Remember(ctx, moderation.Claim{ID: "ans-2", Sender: "u-ans", TTL: time.Minute}, []byte("Rslow down")); err != nil {
			t.Fatal(err)
		}
		var got []byte
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && got == nil; time.Sleep(5 * time.Millisecond) {
			rp, _ := count("ans-2", "ans-user", 1)
			got = rp.Answer
		}
		if string(got) != "Rslow down" {
			t.Fatalf("answer of the refused message %q", got)
		}
		// Without an id there is nothing to claim or store.
		if rp, err := s.Count(ctx, moderation.Claim{}, []byte("A"), t0, time.Time{}, []moderation.Hit{{Key: "ans-other", Limit: 5, Window: time.Hour}}); err != nil || rp.Stored {
			t.Fatalf("no id: %+v %v", rp, err)
		}
	})
}
