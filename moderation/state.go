package moderation

import (
	"context"
	"time"
)

// Hit is one message counted against one rate limit. The engine fills the
// request; the Counter fills the result.
type Hit struct {
	Key    string        // the counter: rule and scope (user, channel, ...); valid during the call only
	Group  string        // what the counter is counted by first: the sender for limits by user; valid during the call only
	Limit  int           // messages allowed per Window
	Window time.Duration // the sliding window
	Stop   bool          // when this hit is refused, later hits are not counted: the message is stopped here

	// Results.
	Done       bool          // the counter looked at this hit (false: an earlier Stop hit was refused)
	Allowed    bool          // counted, and within the limit
	Count      int           // messages in the window, this one included when allowed
	RetryAfter time.Duration // when refused: until the oldest counted message leaves the window
}

// Replay is what a Counter knows of a webhook id it was asked to claim.
type Replay struct {
	Seen   bool   // the id was claimed before: this is a retry
	Answer []byte // the answer given the first time; nil while the first attempt is still running

	// Stored: the id was claimed now with the answer ifAllowed, every limit
	// having allowed the message; nothing is left to Remember.
	Stored bool
}

// Claim is the webhook id a message claims, and who sent the message.
// Shared state that spreads its keys over several servers keeps a claim
// beside its sender's counters (the Group of limits by user), so that one
// atomic step claims the id and counts those limits.
type Claim struct {
	ID     string        // Stream's X-Webhook-Id; "" for none
	Sender string        // the sender's user id; "" when unknown
	TTL    time.Duration // how long the claim and its answer are kept

	// Strikes, when not nil, are the strikes the message gives its sender
	// and the counts of them its rules read: given once the hits are
	// counted (see Strike.Earned), then counted, in the same step. Nothing
	// is given or counted for an id claimed before. Valid during the call
	// only; the Counter fills in the results.
	Strikes *Strikes
}

// Counter counts messages against rate limits and claims webhook ids, in
// one step, so a message costs one round trip to shared state however many
// limits it meets (on a Redis Cluster, one per group of limits that live
// apart). Hits are processed in order.
//
// Count claims c.ID (unless "") for c.TTL; when it was claimed before it
// counts nothing and returns what it knows of it. Otherwise it counts the
// hits, then gives and counts c.Strikes (kept per c.Sender, beside the
// claim and the limits by user), and when ifAllowed is not nil and every
// hit counted was allowed, it
// may store ifAllowed as the id's answer with the claim (Replay.Stored):
// the engine passes it when the answer is known unless a limit refuses,
// which spares most messages a second write.
//
// Implementations bound their own time: shared state waits until deadline
// (the message's, zero for none) at the most, and the engine then applies
// the limit rules' on_error.
type Counter interface {
	Count(ctx context.Context, c Claim, ifAllowed []byte, now, deadline time.Time, hits []Hit) (Replay, error)
}

// Answers stores the answer given for a claimed webhook id, for retries.
// An answer is bytes whose meaning is the engine's; it is valid during the
// call only.
type Answers interface {
	Remember(ctx context.Context, c Claim, answer []byte) error
}

// State is what the engine needs from storage.
type State interface {
	Counter
	Answers
}
