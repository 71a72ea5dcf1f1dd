package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/modgate/modgate/moderation"
)

// TestPlan: a message's claim and hits are grouped into calls so that the
// outcome is that of one script in order.
func TestPlan(t *testing.T) {
	u := func(key string, stop bool) moderation.Hit { return moderation.Hit{Key: key, Group: "ann", Stop: stop} }
	other := func(key, group string, stop bool) moderation.Hit {
		return moderation.Hit{Key: key, Group: group, Stop: stop}
	}
	cases := []struct {
		name  string
		claim moderation.Claim
		hits  []moderation.Hit
		want  string // phases split by " / ", calls by " + ", a call as tag[claim]:hits
	}{
		{"claim only", moderation.Claim{ID: "wh", Sender: "ann"}, nil, "ann[claim]:"},
		{"claim without a sender", moderation.Claim{ID: "wh"}, nil, "wh[claim]:"},
		{"limits by user: one call", moderation.Claim{ID: "wh", Sender: "ann"}, []moderation.Hit{u("flood", true), u("repeats", true)}, "ann[claim]:0,1"},
		{"a channel limit after the claim waits for it", moderation.Claim{ID: "wh", Sender: "ann"},
			[]moderation.Hit{u("flood", true), other("chan", "general", true), u("repeats", true)}, "ann[claim]:0 / general:1 / ann:2"},
		{"no claim, no stop: one phase", moderation.Claim{}, []moderation.Hit{other("ip", "192.0.2.1", false), u("flood", false), other("dev", "d1", false)},
			"192.0.2.1:0 + ann:1 + d1:2"},
		{"a stop hit splits what follows elsewhere", moderation.Claim{}, []moderation.Hit{other("ip", "192.0.2.1", false), u("flood", true), u("repeats", true), other("dev", "d1", false)},
			"192.0.2.1:0 + ann:1,2 / d1:3"},
		{"a group without a value is the key's", moderation.Claim{}, []moderation.Hit{{Key: "k1"}, {Key: "k2"}}, "k1:0 + k2:1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var phases []string
			for _, ph := range plan(tc.claim, tc.hits) {
				var calls []string
				for _, b := range ph {
					c := b.tag
					if b.claim {
						c += "[claim]"
					}
					var hs []string
					for _, i := range b.hits {
						hs = append(hs, fmt.Sprint(i))
					}
					calls = append(calls, c+":"+strings.Join(hs, ","))
				}
				phases = append(phases, strings.Join(calls, " + "))
			}
			if got := strings.Join(phases, " / "); got != tc.want {
				t.Fatalf("plan %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTag(t *testing.T) {
	for _, v := range []string{"", "a}b", "{x}", strings.Repeat("u", 100)} {
		got := tag(v)
		if got == "" || strings.ContainsAny(got, "{}") || len(got) > 64 {
			t.Errorf("tag(%q) = %q", v, got)
		}
	}
	if tag("ann") != "ann" {
		t.Error("a plain value is its own tag")
	}
}

// TestBreaker: one failure, or two, does not stop calls; three in a row do,
// for a pause, after which one call probes; any answer closes it.
func TestBreaker(t *testing.T) {
	now := time.Now()
	var b breaker
	b.failure(now)
	b.failure(now)
	if !b.allow(now) {
		t.Fatal("two failures stopped calls")
	}
	b.success()
	b.failure(now)
	b.failure(now)
	if !b.allow(now) {
		t.Fatal("an answer between failures must start the count again")
	}
	b.failure(now)
	if b.allow(now) || !b.open(now) {
		t.Fatal("three failures in a row must stop calls")
	}
	later := now.Add(breakerPause)
	if !b.allow(later) {
		t.Fatal("after the pause one call probes")
	}
	if b.allow(later) {
		t.Fatal("only one call probes at a time")
	}
	b.failure(later)
	if b.allow(later.Add(breakerPause / 2)) {
		t.Fatal("a failed probe stops calls for another pause")
	}
	b.success() // a late answer
	if !b.allow(later) || b.open(later) {
		t.Fatal("an answer closes the breaker")
	}
}

// slowProxy forwards TCP to a Redis, holding each answer back by delay.
func slowProxy(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(up, c); up.Close() }()
			go func() {
				defer wg.Done()
				buf := make([]byte, 32<<10)
				for {
					n, err := up.Read(buf)
					if n > 0 {
						time.Sleep(delay)
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestRedisWaitsUntilTheDeadline: a call is not abandoned while the
// message still has time (an answer slower than the 50 ms calls used to be
// given is waited for), past the deadline it gives up, and one such slow
// answer does not stop the calls that follow.
func TestRedisWaitsUntilTheDeadline(t *testing.T) {
	base, err := url.Parse(testRedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	base.Host = slowProxy(t, base.Host, 100*time.Millisecond)
	r, err := OpenRedis(base.String(), RedisOptions{Prefix: uniquePrefix(), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	// The first connection's handshake takes several slow round trips.
	if err := r.client.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	count := func(id string, deadline time.Time) error {
		hits := []moderation.Hit{{Key: "slow", Group: "ann", Limit: 5, Window: time.Minute}}
		_, err := r.Count(ctx, moderation.Claim{ID: id, Sender: "ann", TTL: time.Minute}, nil, time.Now(), deadline, hits)
		return err
	}
	if err := count("w1", time.Now().Add(30*time.Second)); err != nil {
		t.Fatalf("a slow answer within the deadline: %v", err)
	}
	if err := count("w2", time.Now().Add(20*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("past the deadline: %v, want DeadlineExceeded", err)
	}
	if err := count("w3", time.Now().Add(30*time.Second)); err != nil {
		t.Fatalf("the call after one slow answer: %v", err)
	}
	if err := count("w4", time.Now().Add(-time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("no time left: %v", err)
	}
	deleteKeys(ctx, r, strings.TrimSuffix(r.base, ":"))
}

// TestClusterSpreadsKeys: on a three-master Cluster, the keys of 1,000
// senders (a claim and two limits by user each) spread over the masters:
// none holds more than half.
func TestClusterSpreadsKeys(t *testing.T) {
	r := newTestRedisAt(t, testClusterURL(t))
	ctx := context.Background()
	for i := range 1000 {
		sender := fmt.Sprintf("user-%d", i)
		hits := []moderation.Hit{
			{Key: "flood|user=" + sender, Group: sender, Limit: 5, Window: time.Minute, Stop: true},
			{Key: "repeats|user=" + sender + "|text=abc", Group: sender, Limit: 3, Window: time.Minute, Stop: true},
		}
		if _, err := r.Count(ctx, moderation.Claim{ID: fmt.Sprint("wh-", i), Sender: sender, TTL: time.Minute}, nil, time.Now(), time.Time{}, hits); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	per := map[string]int{}
	total := 0
	err := r.cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		n := 0
		iter := c.Scan(ctx, 0, r.base+"*", 1000).Iterator()
		for iter.Next(ctx) {
			n++
		}
		mu.Lock()
		per[c.Options().Addr] = n
		total += n
		mu.Unlock()
		return iter.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for addr, n := range per {
		lines = append(lines, fmt.Sprintf("%s %d (%.0f%%)", addr, n, 100*float64(n)/float64(total)))
		if n > total/2 {
			t.Errorf("master %s holds %d of %d keys", addr, n, total)
		}
	}
	sort.Strings(lines)
	t.Logf("%d keys: %s", total, strings.Join(lines, ", "))
	if total != 3000 || len(per) < 3 {
		t.Fatalf("%d keys on %d masters, want 3000 on 3", total, len(per))
	}
}

// TestRedisLog: go-redis's messages become JSON log lines, at most one per
// kind per interval, with the count of those held back.
func TestRedisLog(t *testing.T) {
	var buf strings.Builder
	l := NewRedisLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	now := time.Now()
	l.now = func() time.Time { return now }
	ctx := context.Background()
	l.Printf(ctx, "redis: %s:%d: connection refused\n", "127.0.0.1", 6379)
	l.Printf(ctx, "redis: %s:%d: connection refused\n", "127.0.0.1", 6379)
	l.Printf(ctx, "sentinel: new master=%q addr=%q", "m", "127.0.0.1:6392")
	now = now.Add(11 * time.Second)
	l.Printf(ctx, "redis: %s:%d: connection refused\n", "127.0.0.1", 6379)
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		lines = append(lines, m)
	}
	if len(lines) != 3 || lines[0]["detail"] != "redis: 127.0.0.1:6379: connection refused" || lines[0]["level"] != "WARN" ||
		lines[2]["similar_lines_held_back"] != float64(1) {
		t.Fatalf("lines %v", lines)
	}
}

// TestCheckSeesFailedCalls: a Check fails while a breaker is open, and once
// after a breaker opened since the last Check, even when the servers answer
// it by then (a fail-over shorter than a check).
func TestCheckSeesFailedCalls(t *testing.T) {
	r := newTestRedis(t)
	ctx := context.Background()
	if err := r.Check(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for range breakerTrips {
		r.breaker.failure(now)
	}
	if err := r.Check(ctx); err == nil {
		t.Fatal("Check passed with the breaker open")
	}
	r.breaker.success()
	if err := r.Check(ctx); err != nil {
		t.Fatalf("the trip was reported already: %v", err)
	}
	for range breakerTrips {
		r.breaker.failure(now)
	}
	r.breaker.success() // a late answer closed it before the check
	if err := r.Check(ctx); err == nil {
		t.Fatal("Check passed though calls failed since the last check")
	}
	if err := r.Check(ctx); err != nil {
		t.Fatalf("second check: %v", err)
	}
}
