package hook

import (
	"log/slog"
	"sync"
	"time"
)

// rateLimitedLog logs at most one line per interval and says how many it
// held back, so a failing dependency cannot flood the log.
type rateLimitedLog struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time
	mu       sync.Mutex
	last     time.Time
	held     int
}

func newRateLimitedLog(log *slog.Logger, interval time.Duration) *rateLimitedLog {
	return &rateLimitedLog{log: log, interval: interval, now: time.Now}
}

func (l *rateLimitedLog) Warn(msg string, args ...any) {
	l.mu.Lock()
	now := l.now()
	if now.Sub(l.last) < l.interval {
		l.held++
		l.mu.Unlock()
		return
	}
	held := l.held
	l.last, l.held = now, 0
	l.mu.Unlock()
	if held > 0 {
		args = append(args, "similar_lines_held_back", held)
	}
	l.log.Warn(msg, args...)
}
