package moderation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"
)

// Carrying decisions out. Decide starts the first try of a moderator's
// decision, Hold the first try of a decision the rules made for a pending
// message; Pass, which Run makes at start and then regularly, closes the
// items past their deadline and tries again every decision that is due: a
// failed try's retry time has come, or a try's lease ran out because its
// process died or it hung.

// DefaultPassEvery is how often Run makes a pass.
const DefaultPassEvery = 10 * time.Second

// passBatch is how many items a pass reads at a time; passTries how many
// tries it runs at once.
const (
	passBatch = 100
	passTries = 8
)

// Run makes a pass now and every interval (0: DefaultPassEvery) until ctx
// ends; then it stops the tries under way (they are settled as tries to
// make again, at once, by the next process) and waits for them. report,
// when not nil, is told what each pass did.
func (r *Reviews) Run(ctx context.Context, every time.Duration, report func(carried int, err error)) {
	r.base()
	// The tries stop with ctx, even those of a pass under way.
	unregister := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.stop()
		r.mu.Unlock()
	})
	defer unregister()
	t := time.NewTicker(or(every, DefaultPassEvery))
	defer t.Stop()
	for {
		n, err := r.Pass(ctx)
		if report != nil && ctx.Err() == nil {
			report(n, err)
		}
		select {
		case <-ctx.Done():
			r.Wait()
			return
		case <-t.C:
		}
	}
}

// Wait waits for the tries under way to settle.
func (r *Reviews) Wait() { r.tries.Wait() }

// Pass closes the open items past their deadline (writing each expiry to
// the audit log), then tries again every decision that is due, a few at a
// time, and waits for those tries. It returns how many tries Stream
// confirmed, and the last error of the queue.
func (r *Reviews) Pass(ctx context.Context) (int, error) {
	now := r.now()
	var lastErr error
	for {
		closed, err := r.Queue.Expire(ctx, now, passBatch)
		for i := range closed {
			h := &closed[i]
			reason := "no decision before the deadline"
			if h.State == HeldDeciding {
				reason = DeadlinePassed
			}
			r.record(ctx, "modgate", AuditExpired, h, reason, h.LastError)
		}
		if err != nil {
			lastErr = err
			break
		}
		if len(closed) < passBatch {
			break
		}
	}
	var mu sync.Mutex
	done := 0
	seen := map[string]bool{}
	for {
		due, err := r.Queue.Due(ctx, now, passBatch)
		if err != nil {
			return done, err
		}
		fresh := 0
		var wg sync.WaitGroup
		sem := make(chan struct{}, passTries)
		for _, h := range due {
			if seen[h.ID] {
				continue // taken in this pass already, and still due: another process holds it
			}
			seen[h.ID] = true
			fresh++
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				if s, ok := r.retry(h.ID); ok && s.State == HeldDone {
					mu.Lock()
					done++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if fresh == 0 || len(due) < passBatch || ctx.Err() != nil {
			return done, lastErr
		}
	}
}

// retry makes a try at the decision recorded for item id, when it is due,
// and reports whether it made one.
func (r *Reviews) retry(id string) (Held, bool) {
	if r.base().Err() != nil {
		// Run has ended: an item a stopped try left due is the next
		// process's to take, not this one's.
		return Held{}, false
	}
	ctx, cancel := context.WithTimeout(r.base(), 5*time.Second)
	h, err := r.take(ctx, id, Take{})
	cancel()
	if err != nil {
		if !errors.Is(err, ErrConflict) && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrExpired) {
			r.log().Warn("taking a decision to carry out failed", "item_id", id, "err", err)
		}
		return h, false
	}
	return r.carry(h), true
}

// take starts a try under a new lease.
func (r *Reviews) take(ctx context.Context, id string, t Take) (Held, error) {
	var token [12]byte
	rand.Read(token[:])
	t.Lease, t.Now = hex.EncodeToString(token[:]), r.now()
	t.LeaseUntil = t.Now.Add(or(r.Lease, DefaultLease))
	return r.Queue.Take(ctx, id, t)
}

// tryTime is how long a try may take: well inside its lease, so that it
// gives up before another process may take it over.
func (r *Reviews) tryTime() time.Duration { return or(r.Lease, DefaultLease) * 3 / 4 }

// backoff is the wait after the attempts-th try failed: RetryMin doubled
// with each try, up to RetryMax, and up to a fifth more at random so that
// items that failed together are not tried together.
func (r *Reviews) backoff(attempts int) time.Duration {
	d, limit := or(r.RetryMin, DefaultRetryMin), or(r.RetryMax, DefaultRetryMax)
	for i := 1; i < attempts && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d + time.Duration(mrand.Int64N(int64(d)/5+1))
}

// carry makes one try at carrying out h's decision, under h's lease, and
// settles it in the queue on a context of its own: the try's may have run
// out. It returns the item as settled.
func (r *Reviews) carry(h Held) Held {
	base := r.base()
	ctx, cancel := context.WithTimeout(base, r.tryTime())
	err := ctx.Err() // Run has ended since the item was taken: Stream is not called
	if err == nil {
		err = r.publish(ctx, &h)
	}
	cancel()
	now := r.now()
	s := Settle{Lease: h.Lease, Now: now}
	switch {
	case err == nil || errors.Is(err, ErrAlreadyDone):
		s.Done, s.KeepUntil = true, now.Add(or(r.KeepDone, DefaultKeepDone))
	case errors.Is(err, ErrRefused):
		s.Error = err.Error()
	default:
		s.Error = err.Error()
		s.Unsure = !errors.Is(err, ErrUnavailable) && !errors.Is(err, errNotCommitted)
		s.RetryAt = now.Add(r.backoff(h.Attempts))
		if base.Err() != nil {
			s.RetryAt = now // stopped by Run's end: the next process tries at once
		}
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	settled, serr := r.Queue.Settle(sctx, h.ID, s)
	scancel()
	switch {
	case errors.Is(serr, ErrConflict):
		// The lease ran out and another try took the item over: it settles it.
		r.log().Warn("a try outlived its lease; the try that took over settles the item", "item_id", h.ID)
		return settled
	case errors.Is(serr, ErrNotFound):
		return h // the sender deleted it meanwhile
	case serr != nil:
		// The lease runs out and a pass tries again; Stream's answers to a
		// decision made twice count as done.
		r.log().Warn("settling a decision in the queue failed; it is tried again when its lease runs out", "item_id", h.ID,
			"done", s.Done, "err", serr)
		h.LastError = s.Error
		return h
	}
	switch {
	case s.Done && settled.Kind == KindConsequence && settled.Decision == Approve:
		r.recordConsequence(context.Background(), settled.Consequence.Done(), &settled, "")
	case s.Done:
		reason := settled.Reason
		if errors.Is(err, ErrAlreadyDone) {
			reason = joinReason(reason, "Stream had done it already")
		}
		r.record(context.Background(), settled.DecidedBy, settled.Decision.past(), &settled, reason, "")
		r.tell(&settled)
	case settled.State == HeldFailed || settled.Attempts&(settled.Attempts-1) == 0:
		r.record(context.Background(), settled.DecidedBy, AuditFailed, &settled, settled.Reason, s.Error)
		r.log().Warn("a decision did not reach Stream", "item_id", h.ID, "decision", string(h.Decision),
			"attempts", settled.Attempts, "state", string(settled.State), "err", err)
	}
	return settled
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// errNotCommitted marks the failure of a pending approval before it asked
// Stream to commit: whatever reached Stream, the message is not visible.
var errNotCommitted = errors.New("the message was not committed")

// publish carries h's decision to Stream. An approved pending message is
// updated with its patch first, in the same try, so that no try commits it
// as its sender wrote it: a try that dies between the two calls leaves the
// item to a try that updates it again (the same patch, applied twice, is
// applied once) and then commits it.
func (r *Reviews) publish(ctx context.Context, h *Held) error {
	switch {
	case h.Kind == KindConsequence && h.Decision == Approve:
		return r.Publisher.Enforce(ctx, h, r.now())
	case h.Kind == KindConsequence:
		return nil // a moderator cancelled it
	case h.Kind == KindReport && h.Decision == Reject && h.MessageID != "":
		return r.Publisher.Remove(ctx, h.MessageID)
	case h.Kind == KindReport:
		return nil // dismissed, or a report of a user: nothing to change in Stream
	case h.Decision == Approve && h.Hook == HookPending:
		if h.Patch != nil {
			if err := r.Publisher.Patch(ctx, h); err != nil && !errors.Is(err, ErrAlreadyDone) {
				return fmt.Errorf("updating the message before its commit: %w: %w", errNotCommitted, err)
			}
		}
		return r.Publisher.Commit(ctx, h.MessageID)
	case h.Decision == Approve:
		return r.Publisher.Send(ctx, h)
	case h.Hook == HookPending:
		return r.Publisher.Delete(ctx, h.MessageID)
	case h.Unsure && h.MessageID == "":
		// A rejection of a new message an approval may have sent:
		// delete what it may have sent (Stream's "not found" is done).
		return r.Publisher.Delete(ctx, h.SendID())
	}
	// Stream never stored a message held on the before-send hook (an
	// edit that may have been applied stays applied: its earlier text is
	// not known).
	return nil
}
