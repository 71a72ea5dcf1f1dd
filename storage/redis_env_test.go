package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The Redis servers the tests use, and the addresses CI starts them on.
const (
	defaultTestRedis    = "redis://127.0.0.1:6379/15"
	defaultTestCluster  = "redis+cluster://127.0.0.1:7101?addr=127.0.0.1:7102&addr=127.0.0.1:7103"
	defaultTestSentinel = "redis+sentinel://127.0.0.1:26391/15?master_name=modgate-test"
)

// testURL returns the Redis a test uses: the variable's value, or the
// default when something answers at its address. A test skips only when the
// variable is unset and nothing answers, and says so.
func testURL(t testing.TB, variable, def, addr string) string {
	t.Helper()
	url, set := os.LookupEnv(variable)
	if !set || url == "" {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Skipf("%s is unset and nothing answers on %s: skipping (%v)", variable, addr, err)
		}
		conn.Close()
		url = def
	}
	return url
}

func testRedisURL(t testing.TB) string {
	return testURL(t, "MODGATE_TEST_REDIS_URL", defaultTestRedis, "127.0.0.1:6379")
}

func testClusterURL(t testing.TB) string {
	return testURL(t, "MODGATE_TEST_REDIS_CLUSTER_URL", defaultTestCluster, "127.0.0.1:7101")
}

func testSentinelURL(t testing.TB) string {
	return testURL(t, "MODGATE_TEST_REDIS_SENTINEL_URL", defaultTestSentinel, "127.0.0.1:26391")
}

func uniquePrefix() string {
	var b [6]byte
	rand.Read(b[:])
	return "modgate-test-" + hex.EncodeToString(b[:])
}

// newTestRedis opens the test Redis with a prefix of its own, and removes
// the prefix's keys at the end.
func newTestRedis(t testing.TB) *Redis { return newTestRedisAt(t, testRedisURL(t)) }

func newTestRedisAt(t testing.TB, url string) *Redis {
	t.Helper()
	prefix := uniquePrefix()
	// A generous timeout: these tests check what is counted, not how fast,
	// and run under the race detector on busy machines.
	r, err := OpenRedis(url, RedisOptions{Prefix: prefix, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Check(ctx); err != nil {
		t.Fatalf("test redis %s does not answer: %v", redactURL(url), err)
	}
	t.Cleanup(func() {
		deleteKeys(context.Background(), r, prefix)
		r.Close()
	})
	return r
}

// deleteKeys removes a prefix's keys, from every master of a Cluster.
func deleteKeys(ctx context.Context, r *Redis, prefix string) {
	del := func(ctx context.Context, c redis.UniversalClient) error {
		for _, pattern := range []string{prefix + ":*", "{" + prefix + "}:*"} {
			iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
		}
		return nil
	}
	if cc, ok := r.client.(*redis.ClusterClient); ok {
		cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return del(ctx, c) })
		return
	}
	del(ctx, r.client)
}
