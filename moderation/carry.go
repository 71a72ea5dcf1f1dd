package moderation

import (
	"context"
	"errors"
	"time"
)

// Decisions are carried out to Stream by Decide when a moderator makes
// them. The rules' decisions about pending messages are carried out in the
// background just after the hook answered (Hold starts them), and Pass
// finds in the queue those that did not reach Stream: modgate stopped, or
// Stream failed. Run makes a pass at start and then regularly.

// DefaultPassEvery is how often Run looks for decisions left to carry out.
const DefaultPassEvery = 30 * time.Second

// Run carries out the decisions left in the queue now and every interval
// (0: DefaultPassEvery), until ctx ends. report, when not nil, is told what
// each pass did.
func (r *Reviews) Run(ctx context.Context, every time.Duration, report func(carried int, err error)) {
	if every <= 0 {
		every = DefaultPassEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		pass, cancel := context.WithTimeout(ctx, every*5/6)
		n, err := r.Pass(pass)
		cancel()
		if report != nil {
			report(n, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Pass carries out the decisions the rules made for pending messages that
// are still queued (waiting, or failed when Stream did not confirm). It
// returns how many it carried out and the last error. Until a pass of this
// process has gone through cleanly, passes read the whole queue (items
// queued by an older modgate may be in no index of decisions); later ones
// only the items with a decision.
func (r *Reviews) Pass(ctx context.Context) (int, error) {
	var lastErr error
	done := 0
	f := QueueFilter{Limit: MaxQueuePage, Decided: r.carried.Load()}
	for {
		page, next, err := r.Queue.List(ctx, f, r.now())
		if err != nil {
			return done, err
		}
		for _, h := range page {
			if h.Decision == "" || h.State == HeldDeciding {
				continue
			}
			_, err := r.Decide(ctx, h.ID, h.Decision, "modgate", "rules")
			if err != nil && !errors.Is(err, ErrConflict) && !errors.Is(err, ErrNotFound) {
				lastErr = err
				continue
			}
			done++
		}
		if next == "" {
			if lastErr == nil {
				r.carried.Store(true) // whole passes until one went through cleanly
			}
			return done, lastErr
		}
		f.Cursor = next
	}
}

// carryLater carries out a decision of the rules in the background, on a
// context of its own: the hook has answered already.
func (r *Reviews) carryLater(id string, d Decision) {
	r.background.Add(1)
	go func() {
		defer r.background.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := r.Decide(ctx, id, d, "modgate", "rules"); err != nil && !errors.Is(err, ErrNotFound) {
			r.log().Warn("a pending message's decision did not reach Stream; it stays queued and is tried again",
				"message_id", id, "decision", string(d), "err", err)
		}
	}()
}

// Wait waits for the decisions started in the background to finish.
func (r *Reviews) Wait() { r.background.Wait() }
