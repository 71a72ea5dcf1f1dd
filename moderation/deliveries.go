package moderation

import (
	"context"
	"fmt"
	"time"

	"github.com/modgate/modgate/rules"
)

// eventDone is what State keeps for a push event delivered and handled.
var eventDone = []byte{'D'}

// Once runs do for a delivery of a push event (Stream's X-Webhook-Id, the
// same on every retry), unless an earlier delivery of it was handled: a
// retry then runs nothing and Once reports false. A delivery whose
// handling failed, or is still under way elsewhere, leaves the id
// unanswered, so the next runs do again: do must do no harm done twice.
// Without state, or when State fails, do runs.
func (e *Engine) Once(ctx context.Context, id string, do func(ctx context.Context) error) (bool, error) {
	if e.state == nil || id == "" {
		return true, do(ctx)
	}
	claim := Claim{ID: "event:" + id, TTL: e.replayTTL}
	rp, stateErr := e.state.Count(ctx, claim, nil, e.now(), time.Time{}, nil)
	if stateErr == nil && rp.Seen && len(rp.Answer) > 0 {
		return false, nil
	}
	if err := do(ctx); err != nil {
		return true, err
	}
	if stateErr == nil {
		_ = e.state.Remember(ctx, claim, eventDone) // at worst a retry runs do again
	}
	return true, nil
}

// StrikeWindows are the counts of a sender's strikes the console and the
// admin API show.
var StrikeWindows = []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, rules.MaxStrikeDecay}

// SenderStrikes counts the strikes sender has within each of windows (the
// rules in force, not those in observe mode), in one call to State: what a
// moderator sees of a sender. ErrUnavailable without state.
func (e *Engine) SenderStrikes(ctx context.Context, sender string, windows []time.Duration) ([]int, error) {
	if e.state == nil {
		return nil, ErrorOf(ErrUnavailable, "this modgate keeps no state: no strikes are counted")
	}
	st := &Strikes{}
	for _, w := range windows {
		st.Read = append(st.Read, StrikeRead{Window: rules.StrikeWindow{Within: w}})
	}
	if _, err := e.state.Count(ctx, Claim{Sender: sender, Strikes: st}, nil, e.now(), time.Time{}, nil); err != nil {
		return nil, fmt.Errorf("counting the sender's strikes: %w: %w", ErrUnavailable, err)
	}
	out := make([]int, len(windows))
	for i, r := range st.Read {
		out[i] = r.Count
	}
	return out, nil
}

// Throttle counts one use by sender of what (a name no rule id can take,
// such as "!reports") against limit uses per window, in one call to State,
// and reports whether it is within the limit. Without state, or when State
// fails, it allows (and returns the error).
func (e *Engine) Throttle(ctx context.Context, sender, what string, limit int, per time.Duration) (bool, error) {
	if e.state == nil || sender == "" {
		return true, nil
	}
	hits := []Hit{{Key: what + "|user=" + sender, Group: sender, Limit: limit, Window: per, Stop: true}}
	if _, err := e.state.Count(ctx, Claim{}, nil, e.now(), time.Time{}, hits); err != nil {
		return true, fmt.Errorf("counting %s of %s: %w", what, sender, err)
	}
	return !hits[0].Done || hits[0].Allowed, nil
}
