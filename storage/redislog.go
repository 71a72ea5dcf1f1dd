package storage

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// RedisLog writes go-redis's own messages (reconnections, a Sentinel
// switching masters, a Cluster reloading its map) to a slog logger as
// warnings, instead of go-redis's plain-text lines on standard error. A
// message is logged at most once every interval per kind (its format), with
// the count of those held back, so a Redis that is down does not flood the
// log. Install it with redis.SetLogger, once per process: go-redis's logger
// is global.
type RedisLog struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time
	mu       sync.Mutex
	kinds    map[string]*logKind
}

type logKind struct {
	last time.Time
	held int
}

// NewRedisLog returns a go-redis logger writing to log.
func NewRedisLog(log *slog.Logger) *RedisLog {
	return &RedisLog{log: log, interval: 10 * time.Second, now: time.Now, kinds: map[string]*logKind{}}
}

// maxLogKinds bounds the formats remembered; go-redis has a few dozen.
const maxLogKinds = 256

// Printf implements go-redis's logging interface.
func (l *RedisLog) Printf(ctx context.Context, format string, v ...any) {
	now := l.now()
	l.mu.Lock()
	k := l.kinds[format]
	if k == nil {
		if len(l.kinds) >= maxLogKinds {
			l.kinds = map[string]*logKind{}
		}
		k = &logKind{}
		l.kinds[format] = k
	}
	if !k.last.IsZero() && now.Sub(k.last) < l.interval {
		k.held++
		l.mu.Unlock()
		return
	}
	held := k.held
	k.last, k.held = now, 0
	l.mu.Unlock()
	args := []any{"detail", strings.TrimSpace(fmt.Sprintf(format, v...))}
	if held > 0 {
		args = append(args, "similar_lines_held_back", held)
	}
	l.log.WarnContext(ctx, "redis client", args...)
}
