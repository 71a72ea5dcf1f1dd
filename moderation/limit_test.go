package moderation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
	"github.com/modgate/modgate/storage"
)

// countingState wraps a State, counting calls and failing on demand.
type countingState struct {
	moderation.State
	mu     sync.Mutex
	calls  int
	hits   [][]string
	groups [][]string
	claims []moderation.Claim
	fail   error
}

func (c *countingState) Count(ctx context.Context, claim moderation.Claim, ifAllowed []byte, now, deadline time.Time, hits []moderation.Hit) (moderation.Replay, error) {
	c.mu.Lock()
	c.calls++
	keys, groups := make([]string, len(hits)), make([]string, len(hits))
	for i, h := range hits {
		keys[i], groups[i] = strings.Clone(h.Key), strings.Clone(h.Group) // views, valid during the call
	}
	c.hits, c.groups = append(c.hits, keys), append(c.groups, groups)
	c.claims = append(c.claims, moderation.Claim{ID: strings.Clone(claim.ID), Sender: strings.Clone(claim.Sender), TTL: claim.TTL})
	fail := c.fail
	c.mu.Unlock()
	if fail != nil {
		return moderation.Replay{}, fail
	}
	return c.State.Count(ctx, claim, ifAllowed, now, deadline, hits)
}

const limitRules = `
version: 1
settings: {device_key: dev}
rules:
  - id: slurs
    when: {text: {contains: [slurword]}}
    action: reject
  - id: flood
    limit: {count: 3, per: 10s, by: user}
    action: reject
    reply: "Slow down: at most {{limit.count}} messages every {{limit.per}}; try again in {{retry_after}}."
  - id: repeats
    limit: {count: 2, per: 1m, by: [user, text]}
    action: reject
    reply: "Same message again."
  - id: per-ip
    limit: {count: 100, per: 1m, by: ip}
    action: flag
  - id: per-device
    limit: {count: 100, per: 1m, by: device}
    action: flag
  - id: per-channel-links
    when: {links: {count_over: 0}}
    limit: {count: 1, per: 1m, by: channel}
    action: hold
    on_error: hold
  - id: observe-burst
    limit: {count: 1, per: 1m, by: user}
    action: reject
    mode: observe
`

type limitFixture struct {
	engine *moderation.Engine
	state  *countingState
	now    time.Time
}

func newLimitFixture(t *testing.T) *limitFixture {
	f := &limitFixture{now: time.Now().UTC().Truncate(time.Second)}
	f.state = &countingState{State: storage.NewMemory(storage.MemoryOptions{})}
	f.engine = moderation.NewEngine(mustSet(t, limitRules), moderation.EngineOptions{
		Now: func() time.Time { return f.now }, State: f.state,
	})
	return f
}

func (f *limitFixture) send(user, text string) moderation.Verdict {
	v, _ := f.deliver("", user, text)
	return v
}

// deliver sends a message as a hook call with a webhook id ("" for none).
func (f *limitFixture) deliver(webhookID, user, text string) (moderation.Verdict, moderation.Result) {
	return f.engine.Evaluate(context.Background(), f.message(user, text), moderation.Options{WebhookID: webhookID})
}

// message is a message of user with text.
func (f *limitFixture) message(user, text string) *moderation.Message {
	obj, _ := json.Marshal(map[string]string{"text": text})
	return &moderation.Message{Text: text, Object: obj, User: []byte(`{"id":"` + user + `"}`),
		Channel: []byte(`{"cid":"messaging:general"}`), RequestInfo: []byte(`{"ip":"192.0.2.1","ext":"dev=phone-1"}`)}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	f := newLimitFixture(t)
	for i, text := range []string{"one", "two", "three"} {
		if v := f.send("ann", text); v.Refused() {
			t.Fatalf("message %d refused: %+v", i, v)
		}
		f.now = f.now.Add(time.Second)
	}
	v := f.send("ann", "four")
	if v.Action != rules.ActionReject || v.RuleID != "flood" ||
		v.Reply != "Slow down: at most 3 messages every 10 seconds; try again in 7 seconds." {
		t.Fatalf("fourth message: %+v", v)
	}
	if v := f.send("bob", "four"); v.Refused() {
		t.Fatalf("another user is counted apart: %+v", v)
	}
	f.now = f.now.Add(8 * time.Second)
	if v := f.send("ann", "five"); v.Refused() {
		t.Fatalf("after the window: %+v", v)
	}
}

func TestRepeatsAreNearIdentical(t *testing.T) {
	t.Parallel()
	f := newLimitFixture(t)
	for i, text := range []string{"BUY NOW at 555-1234", "buy now at 555-9876", "buuuy n0w!!! at 555 0000"} {
		v := f.send("ann", text)
		f.now = f.now.Add(5 * time.Second) // slower than the flood limit
		if (i < 2) == v.Refused() {
			t.Fatalf("message %d %q: %+v", i, text, v)
		}
		if i == 2 && v.RuleID != "repeats" {
			t.Fatalf("refused by %s", v.RuleID)
		}
	}
}

func TestOneCallPerMessageAndRefusedMessagesAreNotCounted(t *testing.T) {
	t.Parallel()
	f := newLimitFixture(t)
	f.send("ann", "hello")
	if f.state.calls != 1 {
		t.Fatalf("%d calls for one message", f.state.calls)
	}
	if got := strings.Join(f.state.hits[0], " "); got != "flood|user=ann repeats|user=ann|text="+got[strings.Index(got, "text=")+5:strings.Index(got, " per-ip")]+" per-ip|ip=192.0.2.1 per-device|device=phone-1 observe-burst|user=ann" {
		t.Fatalf("keys %q", got)
	}
	// A message the slurs rule rejects counts against no limit.
	f.send("ann", "slurword")
	if f.state.calls != 1 {
		t.Fatalf("a refused message reached the counters (%d calls)", f.state.calls)
	}
}

func TestLimitOnErrorAndObserve(t *testing.T) {
	t.Parallel()
	f := newLimitFixture(t)
	v := f.send("ann", "first")
	if len(v.Fired) != 0 {
		t.Fatalf("first message fired %+v", v.Fired)
	}
	v = f.send("ann", "second")
	if v.Refused() || len(v.Fired) != 1 || v.Fired[0].RuleID != "observe-burst" || !v.Fired[0].Observed {
		t.Fatalf("observe rule past its limit: %+v", v)
	}
	f.state.fail = errors.New("redis: connection refused")
	v, res := f.deliver("", "ann", "third")
	if res.StateErr == nil || v.Refused() {
		t.Fatalf("state down, on_error allow: %+v %+v", v, res)
	}
	v = f.send("ann", "see https://x.example.com")
	if v.Action != rules.ActionHold || v.RuleID != "per-channel-links" || !v.Fired[0].OnError {
		t.Fatalf("state down, on_error hold: %+v", v)
	}
}

func TestRetriesGetTheFirstAnswer(t *testing.T) {
	t.Parallel()
	f := newLimitFixture(t)
	// A message only limits matched: its answer goes with the claim.
	if v, res := f.deliver("wh-1", "ann", "hello"); res.Retry || !res.Stored || v.Refused() {
		t.Fatalf("first attempt: %+v %+v", v, res)
	}
	if v, res := f.deliver("wh-1", "ann", "hello"); !res.Replayed || v.Refused() || v.Changed() {
		t.Fatalf("retry: %+v %+v, want the first answer", v, res)
	}
	// A refused message: its answer is Remembered once given.
	first, res := f.deliver("wh-2", "ann", "a slurword")
	if res.Retry || res.Stored || first.Action != rules.ActionReject {
		t.Fatalf("first attempt: %+v %+v", first, res)
	}
	// A retry while the first is still running: evaluated, nothing counted.
	v, retry := f.deliver("wh-2", "ann", "a slurword")
	if !retry.Retry || retry.Replayed || v.Reply != first.Reply {
		t.Fatalf("retry in flight: %+v %+v", v, retry)
	}
	if err := f.engine.Remember(context.Background(), f.message("ann", "a slurword"), "wh-2", &v, &retry); err != nil {
		t.Fatal(err)
	}
	if err := f.engine.Remember(context.Background(), f.message("ann", "a slurword"), "wh-2", &first, &res); err != nil {
		t.Fatal(err)
	}
	v, res = f.deliver("wh-2", "ann", "a slurword")
	if !res.Retry || !res.Replayed || v.Action != rules.ActionReject || v.Reply != first.Reply || len(v.Fired) != 0 {
		t.Fatalf("retry after the answer: %+v %+v, want the first answer read back", v, res)
	}
	// Only the first attempt was counted.
	for range 2 {
		f.send("ann", "x")
	}
	if v := f.send("ann", "y"); v.RuleID != "flood" {
		t.Fatalf("the flood limit counted retries: %+v", v)
	}
}

// TestUnchangedAnswerStoredWithTheClaim: when only limit rules match and all
// allow the message, its answer goes with the claim (Result.Stored) and a
// retry gets it; a message another rule matched, or a limit refused, is
// left for Remember.
func TestUnchangedAnswerStoredWithTheClaim(t *testing.T) {
	t.Parallel()
	f := newLimitFixture(t)
	if v, res := f.deliver("wh-1", "ann", "hello"); !res.Stored || v.Refused() || v.Changed() {
		t.Fatalf("clean message: %+v %+v, want its answer stored with the claim", v, res)
	}
	if v, res := f.deliver("wh-1", "ann", "hello"); !res.Replayed || v.Refused() || v.Changed() {
		t.Fatalf("retry: %+v %+v, want the stored answer", v, res)
	}
	if v, res := f.deliver("wh-2", "cat", "a slurword here"); res.Stored || !v.Refused() {
		t.Fatalf("rejected by a rule: %+v %+v, want nothing stored", v, res)
	}
	for i := range 3 {
		f.deliver(fmt.Sprint("wh-flood-", i), "dan", fmt.Sprint("message ", i))
	}
	if v, res := f.deliver("wh-flood-3", "dan", "one more"); res.Stored || v.RuleID != "flood" {
		t.Fatalf("refused by a limit: %+v %+v, want nothing stored", v, res)
	}
	if v, res := f.deliver("wh-flood-3", "dan", "one more"); !res.Retry || res.Replayed || v.Refused() {
		t.Fatalf("retry of the refused message: %+v %+v, want its answer pending and nothing counted", v, res)
	}
	// The retries of a pending call are answered from the review queue:
	// nothing is stored with its claim.
	pending := f.message("eve", "hello")
	pending.Hook = moderation.HookPending
	for i, retry := range []bool{false, true} {
		_, res := f.engine.Evaluate(context.Background(), pending, moderation.Options{WebhookID: "wh-pending"})
		if res.Stored || res.Replayed || res.Retry != retry {
			t.Fatalf("pending call %d: %+v, want nothing stored", i+1, res)
		}
	}
}

// TestUnreadableAnswerIsARetry: a stored answer this version cannot read
// (another version of modgate wrote it into a shared Redis) makes a retry
// whose answer is not known: evaluated again, and not counted again.
func TestUnreadableAnswerIsARetry(t *testing.T) {
	t.Parallel()
	f := newLimitFixture(t)
	ctx := context.Background()
	for i, stored := range []string{"\xff", "Z?", "P{not json", `P{"fields":[["k"]]}`} {
		t.Run(strconv.Quote(stored), func(t *testing.T) {
			id, user := fmt.Sprint("wh-unreadable-", i), fmt.Sprint("eve-", i)
			if _, err := f.state.Count(ctx, moderation.Claim{ID: id, Sender: user, TTL: time.Minute}, nil, f.now, time.Time{}, nil); err != nil {
				t.Fatal(err)
			}
			if err := f.state.Remember(ctx, moderation.Claim{ID: id, Sender: user, TTL: time.Minute}, []byte(stored)); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if v, res := f.deliver(id, user, "one"); !res.Retry || res.Replayed || v.Refused() {
					t.Fatalf("%+v %+v, want a retry evaluated again", v, res)
				}
			}
			// The retries were not counted: the flood limit (3 every 10
			// seconds) lets three more messages through.
			for _, text := range []string{"apples", "pears", "plums"} {
				if v := f.send(user, text); v.Refused() {
					t.Fatalf("%q refused: the retries were counted: %+v", text, v)
				}
			}
			if v := f.send(user, "too many"); v.RuleID != "flood" {
				t.Fatalf("the fourth message: %+v, want the flood limit", v)
			}
		})
	}
}

// TestHitGroups: the engine names the sender as the claim's and as the
// group of every limit by user (alone or with other scopes), and the first
// value of other limits, so that shared state can keep what one script must
// see together.
func TestHitGroups(t *testing.T) {
	f := newLimitFixture(t)
	obj := []byte(`{"text":"see https://example.com"}`)
	msg := moderation.Message{Text: "see https://example.com", Object: obj, User: []byte(`{"name":"Ann","id":"ann-1"}`),
		Channel: []byte(`{"cid":"messaging:general"}`), RequestInfo: []byte(`{"ip":"192.0.2.1","ext":"dev=phone-1"}`)}
	f.engine.Evaluate(context.Background(), &msg, moderation.Options{WebhookID: "wh-g"})
	if len(f.state.claims) != 1 || f.state.claims[0].ID != "wh-g" || f.state.claims[0].Sender != "ann-1" {
		t.Fatalf("claims %+v", f.state.claims)
	}
	want := map[string]string{"flood": "ann-1", "repeats": "ann-1", "per-ip": "192.0.2.1", "per-device": "phone-1",
		"per-channel-links": "messaging:general", "observe-burst": "ann-1"}
	keys, groups := f.state.hits[0], f.state.groups[0]
	if len(keys) != len(want) {
		t.Fatalf("hits %v", keys)
	}
	for i, k := range keys {
		rule, _, _ := strings.Cut(k, "|")
		if groups[i] != want[rule] {
			t.Errorf("rule %s (key %q): group %q, want %q", rule, k, groups[i], want[rule])
		}
	}
	// No sender: the claim names none.
	anon := moderation.Message{Text: "hi", Object: []byte(`{"text":"hi"}`)}
	f.engine.Evaluate(context.Background(), &anon, moderation.Options{WebhookID: "wh-anon"})
	if c := f.state.claims[len(f.state.claims)-1]; c.ID != "wh-anon" || c.Sender != "" {
		t.Fatalf("claim without a user %+v", c)
	}
}
