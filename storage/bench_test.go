package storage

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/modgate/modgate/moderation"
)

// roundTrips counts the commands and pipelines a client sends.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

func benchHits(n int, user int) []moderation.Hit {
	hits := make([]moderation.Hit, n)
	for i := range hits {
		hits[i] = moderation.Hit{Key: fmt.Sprintf("rule-%d|user=u%d", i, user), Group: fmt.Sprint("u", user), Limit: 1_000_000, Window: time.Minute}
	}
	return hits
}

// BenchmarkCount measures one message's limit checks, with 1 and 5 limit
// rules, in memory and against the test Redis, and reports round trips per
// message.
func BenchmarkCount(b *testing.B) {
	for _, limits := range []int{1, 5} {
		b.Run(fmt.Sprintf("memory/%d-limits", limits), func(b *testing.B) {
			m := NewMemory(MemoryOptions{})
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				hits := benchHits(limits, i%1000)
				m.Count(ctx, moderation.Claim{}, nil, time.Now(), time.Time{}, hits)
				i++
			}
		})
		b.Run(fmt.Sprintf("redis/%d-limits", limits), func(b *testing.B) {
			r := newTestRedis(b)
			rt := &roundTrips{}
			r.client.AddHook(rt)
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				hits := benchHits(limits, i%1000)
				if _, err := r.Count(ctx, moderation.Claim{ID: fmt.Sprint("wh-", i), Sender: fmt.Sprint("u", i%1000), TTL: time.Minute}, nil, time.Now(), time.Time{}, hits); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(rt.n.Load())/float64(i), "round-trips/msg")
		})
	}
}
