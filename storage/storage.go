// Package storage keeps modgate's state behind the interfaces that package
// moderation declares: in memory for one process (the default), or in Redis
// for several processes that must behave as one.
//
// # Redis keys
//
// Counters, webhook claims and a sender's strikes are named
// "PREFIX:{TAG}:rl:NAME", "PREFIX:{TAG}:wh:ID" and "PREFIX:{TAG}:st". The
// hash tag decides where a key lives on a Redis Cluster, and is chosen by
// what one script must see together: the sender for a claim, for the
// sender's strikes and for every limit by user (alone or with other scopes),
// the first value counted by for other limits (the channel, the IP, the
// device, the text), and the webhook id for a claim without a sender. Keys
// thus spread over the masters by sender. The review queue and the audit
// log keep the one tag "{PREFIX}" (their scripts see several of their keys).
//
// # One message, one outcome
//
// A message's claim, hits and strikes must come out as one script over all
// its keys in rule order would: a retried webhook id counts and gives
// nothing; a limit that refuses the message and stops it (Hit.Stop) keeps
// every later limit from counting and every later rule from giving
// strikes; the answer stored with the claim is kept only when every limit
// allowed. On one server or a Sentinel group, one script does all of it,
// whatever the tags. On a Cluster, plan groups the keys into calls, one
// per tag, and the calls into phases:
//
//   - the claim opens the first call, with the sender's counters: a message
//     that meets only limits by user, the common case, is one call;
//   - a call runs only once every earlier call it depends on answered: a
//     hit whose tag differs from that of the claim or of a Stop hit before
//     it in the phase waits for the next phase, which runs only if that
//     phase refused nothing that stops; calls that depend on nothing run
//     together in one pipeline, one per slot;
//   - with several calls, the claim is made without the answer, which the
//     engine then writes (Remember), so that a retry never reads an answer
//     a later call would have refused;
//   - the strikes go with the claim's call when it is the message's only
//     one, or when no strike depends on a hit (its rule has no limit and no
//     limit comes before it); otherwise a last call to the sender's slot
//     gives the strikes the counted hits earned (moderation.Strike.Earned)
//     and counts them.
//
// The outcome is that of the single script. What differs is failure: when a
// later call fails after an earlier one counted, the earlier counts stay
// (the message used up quota in those limits though on_error decided), and
// the claim stays, so a retry is not counted again.
//
// # Time and failures
//
// A call waits until the message's deadline (and at most
// RedisOptions.Timeout): an answer that is merely slow is still used. One
// breaker per server (per master on a Cluster, so a failing master stops
// only the calls to its slots) opens after several failures in a row with
// no answer between them, makes calls fail at once for a short pause, then
// lets one call probe; any answer closes it, even one that arrives after
// its caller gave up.
package storage
