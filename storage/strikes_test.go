package storage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// The strikes part of the contract: given in the message's one call, after
// its hits, as the hits earned them; counted by window and track; nothing
// for a retry; exact under concurrency.

var (
	within10m = rules.StrikeWindow{Within: 10 * time.Minute}
	within1h  = rules.StrikeWindow{Within: time.Hour}
	observed  = rules.StrikeWindow{Within: time.Hour, Observed: true}
)

// strike gives sender the strikes gives (each with no limit, unless it
// names one) at at, with hits, and returns what was given and counted.
func strike(t *testing.T, s moderation.State, c moderation.Claim, at time.Time, hits []moderation.Hit, gives []moderation.Strike,
	reads ...rules.StrikeWindow) (moderation.Replay, *moderation.Strikes) {
	t.Helper()
	st := &moderation.Strikes{Give: gives}
	for _, w := range reads {
		st.Read = append(st.Read, moderation.StrikeRead{Window: w})
	}
	c.Strikes = st
	if c.TTL == 0 {
		c.TTL = time.Minute
	}
	rp, err := s.Count(context.Background(), c, nil, at, time.Time{}, hits)
	if err != nil {
		t.Fatal(err)
	}
	return rp, st
}

func one(decay time.Duration) []moderation.Strike {
	return []moderation.Strike{{Count: 1, Decay: decay, Hit: -1}}
}

func counts(st *moderation.Strikes) []int {
	out := make([]int, len(st.Read))
	for i, r := range st.Read {
		out[i] = r.Count
	}
	return out
}

func TestContractStrikesCountByWindowAndDecay(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s moderation.State) {
		u := moderation.Claim{Sender: "u-1"}
		for i, want := range []int{1, 2, 3} {
			_, st := strike(t, s, u, t0.Add(time.Duration(i)*time.Minute), nil, one(time.Hour), within10m, within1h)
			if !st.Give[0].Given || !slices.Equal(counts(st), []int{want, want}) {
				t.Fatalf("message %d: given %v, counts %v", i, st.Give[0].Given, counts(st))
			}
		}
		// Eleven minutes after the first: the first two are outside 10
		// minutes (a window leaves out its start, as a limit's does), not an hour.
		_, st := strike(t, s, u, t0.Add(11*time.Minute), nil, one(time.Hour), within10m, within1h)
		if got := counts(st); !slices.Equal(got, []int{2, 4}) {
			t.Fatalf("at +11m: %v, want [2 4]", got)
		}
		// A strike remembered five minutes is forgotten after, whatever the window.
		strike(t, s, moderation.Claim{Sender: "u-2"}, t0, nil, one(5*time.Minute))
		if _, st := strike(t, s, moderation.Claim{Sender: "u-2"}, t0.Add(5*time.Minute), nil, nil, within1h); counts(st)[0] != 0 {
			t.Fatalf("a strike past its decay counts: %v", counts(st))
		}
		// Weights, and other senders apart.
		_, st = strike(t, s, moderation.Claim{Sender: "u-3"}, t0, nil, []moderation.Strike{{Count: 3, Decay: time.Hour, Hit: -1}}, within1h)
		if got := counts(st); got[0] != 3 {
			t.Fatalf("a strike of 3: %v", got)
		}
	})
}

func TestContractObservedStrikesAreApart(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s moderation.State) {
		u := moderation.Claim{Sender: "u-obs"}
		strike(t, s, u, t0, nil, one(time.Hour))
		_, st := strike(t, s, u, t0.Add(time.Second), nil, []moderation.Strike{{Count: 2, Decay: time.Hour, Observed: true, Hit: -1}},
			within1h, observed)
		if got := counts(st); !slices.Equal(got, []int{1, 3}) {
			t.Fatalf("enforced and observed counts: %v, want [1 3]", got)
		}
	})
}

func TestContractStrikesFollowTheHits(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s moderation.State) {
		ctx := context.Background()
		// Fill a channel limit, so that the next hit of it is refused.
		if _, err := s.Count(ctx, moderation.Claim{}, nil, t0, time.Time{},
			[]moderation.Hit{{Key: "flood|channel=c1", Group: "c1", Limit: 1, Window: time.Hour}}); err != nil {
			t.Fatal(err)
		}
		hits := func() []moderation.Hit {
			return []moderation.Hit{
				{Key: "quiet|user=u-h", Group: "u-h", Limit: 100, Window: time.Hour},            // allows
				{Key: "flood|channel=c1", Group: "c1", Limit: 1, Window: time.Hour, Stop: true}, // refuses and stops
				{Key: "later|user=u-h", Group: "u-h", Limit: 100, Window: time.Hour},            // not counted
			}
		}
		gives := []moderation.Strike{
			{Count: 1, Decay: time.Hour, Hit: 0},            // its limit allowed: not given
			{Count: 2, Decay: time.Hour, Hit: 1, After: 1},  // its limit refused: given
			{Count: 4, Decay: time.Hour, Hit: -1, After: 1}, // above the refusal: given
			{Count: 8, Decay: time.Hour, Hit: -1, After: 2}, // below it: not
			{Count: 16, Decay: time.Hour, Hit: 2, After: 2}, // its limit was never counted: not
		}
		hs := hits()
		_, st := strike(t, s, moderation.Claim{ID: "wh-hits", Sender: "u-h"}, t0.Add(time.Second), hs, slices.Clone(gives), within1h)
		var given []bool
		for _, g := range st.Give {
			given = append(given, g.Given)
		}
		if !slices.Equal(given, []bool{false, true, true, false, false}) || counts(st)[0] != 6 {
			t.Fatalf("given %v, count %v; hits %+v", given, counts(st), hs)
		}
		// The same webhook id again: nothing given, nothing counted.
		rp, st := strike(t, s, moderation.Claim{ID: "wh-hits", Sender: "u-h"}, t0.Add(2*time.Second), hits(), slices.Clone(gives), within1h)
		if !rp.Seen || slices.ContainsFunc(st.Give, func(g moderation.Strike) bool { return g.Given }) {
			t.Fatalf("a retry gave strikes: %+v %+v", rp, st.Give)
		}
		if _, st := strike(t, s, moderation.Claim{Sender: "u-h"}, t0.Add(3*time.Second), nil, nil, within1h); counts(st)[0] != 6 {
			t.Fatalf("after the retry: %v, want 6", counts(st))
		}
	})
}

// TestContractStrikesCountExactly: messages of one sender at once each
// read a count of their own, the strikes given up to and with them.
func TestContractStrikesCountExactly(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s moderation.State) {
		const n = 40
		seen := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st := &moderation.Strikes{Give: one(time.Hour), Read: []moderation.StrikeRead{{Window: within1h}}}
				c := moderation.Claim{ID: fmt.Sprint("wh-", i), Sender: "u-hot", TTL: time.Minute, Strikes: st}
				if _, err := s.Count(context.Background(), c, nil, t0.Add(time.Duration(i)*time.Millisecond), time.Time{}, nil); err != nil {
					t.Error(err)
					return
				}
				seen[i] = st.Read[0].Count
			}()
		}
		wg.Wait()
		slices.Sort(seen)
		for i, c := range seen {
			if c != i+1 {
				t.Fatalf("counts read %v: each message must see its own", seen)
			}
		}
	})
}

func TestMemoryStrikesAreBounded(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryOptions{StrikeSenders: memoryShards * 10})
	for i := range 5000 {
		st := &moderation.Strikes{Give: one(time.Hour)}
		m.Count(context.Background(), moderation.Claim{Sender: fmt.Sprint("u-", i), Strikes: st}, nil, t0, time.Time{}, nil)
	}
	for i := range m.strikes {
		if s := &m.strikes[i]; len(s.senders) > s.maxN {
			t.Fatalf("strike shard %d holds %d senders", i, len(s.senders))
		}
	}
	// One sender's strikes are bounded too.
	for i := range maxSenderStrikes + 50 {
		st := &moderation.Strikes{Give: one(time.Hour)}
		m.Count(context.Background(), moderation.Claim{Sender: "u-many", Strikes: st}, nil, t0.Add(time.Duration(i)*time.Millisecond), time.Time{}, nil)
	}
	_, st := strike(t, m, moderation.Claim{Sender: "u-many"}, t0.Add(time.Minute), nil, nil, within1h)
	if got := counts(st)[0]; got != maxSenderStrikes {
		t.Fatalf("a sender keeps %d strikes, want %d", got, maxSenderStrikes)
	}
}

// TestClusterStrikesRideWithTheSender: on a Cluster, a message whose
// limits are all by user gives and counts its strikes in its one script
// call; one that also meets a limit that lives apart gives them in a last
// call, once that limit is counted.
func TestClusterStrikesRideWithTheSender(t *testing.T) {
	t.Parallel()
	r := newTestRedisAt(t, testClusterURL(t))
	calls := &commandCounter{count: map[string]int{}}
	r.cluster.AddHook(calls)
	ctx := context.Background()
	scripts := func() int {
		calls.mu.Lock()
		defer calls.mu.Unlock()
		n := calls.count["evalsha"] + calls.count["eval"]
		calls.count = map[string]int{}
		return n
	}
	for _, tc := range []struct {
		name  string
		hits  []moderation.Hit
		calls int
	}{
		{"limits by user", []moderation.Hit{{Key: "flood|user=u-c", Group: "u-c", Limit: 5, Window: time.Minute, Stop: true}}, 1},
		{"no limit", nil, 1},
		{"a limit by channel, strikes above it", []moderation.Hit{{Key: "chan|channel=c9", Group: "c9", Limit: 5, Window: time.Minute, Stop: true}}, 2},
		{"a limit by channel, strikes below it", []moderation.Hit{{Key: "chan|channel=c9", Group: "c9", Limit: 5, Window: time.Minute, Stop: true}}, 3},
	} {
		scripts()
		give := one(time.Hour)
		if strings.HasSuffix(tc.name, "below it") {
			give[0].After = 1 // given only if the channel's limit did not stop the message
		}
		st := &moderation.Strikes{Give: give, Read: []moderation.StrikeRead{{Window: within1h}}}
		c := moderation.Claim{ID: "wh-" + tc.name, Sender: "u-c", TTL: time.Minute, Strikes: st}
		if _, err := r.Count(ctx, c, nil, t0, time.Time{}, tc.hits); err != nil {
			t.Fatal(err)
		}
		if n := scripts(); n != tc.calls || !st.Give[0].Given {
			t.Errorf("%s: %d script calls (want %d), given %v", tc.name, n, tc.calls, st.Give[0].Given)
		}
	}
}
