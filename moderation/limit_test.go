package moderation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	obj, _ := json.Marshal(map[string]string{"text": text})
	msg := moderation.Message{Text: text, Object: obj, User: []byte(`{"id":"` + user + `"}`),
		Channel: []byte(`{"cid":"messaging:general"}`), RequestInfo: []byte(`{"ip":"192.0.2.1","ext":"dev=phone-1"}`)}
	return f.engine.Evaluate(context.Background(), &msg, moderation.Options{})
}

func TestLimits(t *testing.T) {
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
	v = f.send("ann", "third")
	if v.StateErr == nil || v.Refused() {
		t.Fatalf("state down, on_error allow: %+v", v)
	}
	v = f.send("ann", "see https://x.example.com")
	if v.Action != rules.ActionHold || v.RuleID != "per-channel-links" || !v.Fired[0].OnError {
		t.Fatalf("state down, on_error hold: %+v", v)
	}
}

func TestRetriesGetTheFirstAnswer(t *testing.T) {
	f := newLimitFixture(t)
	obj := []byte(`{"text":"hello"}`)
	msg := moderation.Message{Text: "hello", Object: obj, User: []byte(`{"id":"ann"}`)}
	v := f.engine.Evaluate(context.Background(), &msg, moderation.Options{WebhookID: "wh-1"})
	if v.Replay != nil || v.Retry {
		t.Fatalf("first attempt: %+v", v)
	}
	// A retry while the first is still running: evaluated, nothing counted.
	v = f.engine.Evaluate(context.Background(), &msg, moderation.Options{WebhookID: "wh-1"})
	if !v.Retry || v.Replay != nil {
		t.Fatalf("retry in flight: %+v", v)
	}
	f.engine.Remember(context.Background(), &msg, "wh-1", []byte("ANSWER"))
	v = f.engine.Evaluate(context.Background(), &msg, moderation.Options{WebhookID: "wh-1"})
	if string(v.Replay) != "ANSWER" {
		t.Fatalf("retry after the answer: %+v", v)
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
// allow the message, its answer goes with the claim (Verdict.Stored) and a
// retry gets it; a message another rule matched, or a limit refused, is
// left for Remember.
func TestUnchangedAnswerStoredWithTheClaim(t *testing.T) {
	f := newLimitFixture(t)
	send := func(id, user, text string) moderation.Verdict {
		obj, _ := json.Marshal(map[string]string{"text": text})
		msg := moderation.Message{Text: text, Object: obj, User: []byte(`{"id":"` + user + `"}`),
			Channel: []byte(`{"cid":"messaging:general"}`), RequestInfo: []byte(`{"ip":"192.0.2.1","ext":"dev=phone-1"}`)}
		return f.engine.Evaluate(context.Background(), &msg, moderation.Options{WebhookID: id, Unchanged: []byte("A")})
	}
	if v := send("wh-1", "ann", "hello"); !v.Stored || v.Refused() || v.Changed() {
		t.Fatalf("clean message: %+v, want its answer stored with the claim", v)
	}
	if v := send("wh-1", "ann", "hello"); string(v.Replay) != "A" {
		t.Fatalf("retry: %+v, want the stored answer", v)
	}
	if v := send("wh-2", "cat", "a slurword here"); v.Stored || !v.Refused() {
		t.Fatalf("rejected by a rule: %+v, want nothing stored", v)
	}
	for i := range 3 {
		send(fmt.Sprint("wh-flood-", i), "dan", fmt.Sprint("message ", i))
	}
	if v := send("wh-flood-3", "dan", "one more"); v.Stored || v.RuleID != "flood" {
		t.Fatalf("refused by a limit: %+v, want nothing stored", v)
	}
	if v := send("wh-flood-3", "dan", "one more"); !v.Retry || v.Replay != nil {
		t.Fatalf("retry of the refused message: %+v, want its answer pending", v)
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
