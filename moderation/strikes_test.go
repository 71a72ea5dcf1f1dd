package moderation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
	"github.com/modgate/modgate/storage"
)

// Strikes and consequences in the engine: strikes given in the message's
// one call to state, its own counting for its ladder; a retry counts
// nothing and leads to nothing; observe mode says "would".

func escalation(t *testing.T) *rules.Set {
	t.Helper()
	set, err := rules.Load(filepath.Join("..", "examples", "escalation.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func strikeMessage(user, text string) *moderation.Message {
	u, _ := json.Marshal(map[string]string{"id": user, "name": "Ann"})
	m, _ := json.Marshal(map[string]string{"text": text})
	return &moderation.Message{Text: text, Hook: moderation.HookBeforeSend, Object: m, User: u,
		Channel: []byte(`{"cid":"messaging:general","type":"messaging","id":"general"}`)}
}

// ladder says what each verdict's consequences were: "-" for none, else
// "do/minutes/strikes" for each, "would-" before an observed one.
func ladder(vs []moderation.Verdict) string {
	var out []string
	for _, v := range vs {
		if len(v.Consequences) == 0 {
			out = append(out, "-")
			continue
		}
		var cs []string
		for _, c := range v.Consequences {
			s := fmt.Sprintf("%s/%d/%d", c.Do, c.Minutes, c.Strikes)
			if c.Observed {
				s = "would-" + s
			}
			cs = append(cs, s)
		}
		out = append(out, strings.Join(cs, "+"))
	}
	return strings.Join(out, " ")
}

func TestEscalationLadder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mode string // "", or "observe" to put the rule in observe mode
		want string
	}{
		{"enforced", "", "- - ban/15/3 - shadow_ban/1440/5 -"},
		{"observed", "observe", "- - would-ban/15/3 - would-shadow_ban/1440/5 -"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set := escalation(t)
			if tc.mode == "observe" {
				data, err := os.ReadFile(filepath.Join("..", "examples", "escalation.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				src := strings.Replace(string(data), "    action: reject\n", "    action: reject\n    mode: observe\n", 1)
				if set, err = rules.Parse("escalation.yaml", []byte(src), nil); err != nil {
					t.Fatal(err)
				}
			}
			now := time.Now().UTC()
			engine := moderation.NewEngine(set, moderation.EngineOptions{Now: func() time.Time { return now },
				State: storage.NewMemory(storage.MemoryOptions{})})
			var vs []moderation.Verdict
			for i := range 6 {
				now = now.Add(30 * time.Second)
				v, res := engine.Evaluate(context.Background(), strikeMessage("u-1", "what the fuck"),
					moderation.Options{WebhookID: fmt.Sprint("wh-", i)})
				if res.StateErr != nil || res.Retry {
					t.Fatalf("message %d: %+v", i, res)
				}
				wantAction := rules.ActionReject
				if tc.mode == "observe" {
					wantAction = rules.ActionNone
				}
				if v.Action != wantAction {
					t.Fatalf("message %d: %s", i, v.Action)
				}
				vs = append(vs, v)
			}
			if got := ladder(vs); got != tc.want {
				t.Fatalf("ladder %q, want %q", got, tc.want)
			}
			if r := vs[2].Consequences[0].Reason; r != "Rule profanity: a third message refused within 10 minutes" {
				t.Fatalf("reason %q", r)
			}
			if c := vs[4].Consequences[0]; c.StrikesWithin != "1 hour" || c.RuleID != "profanity" {
				t.Fatalf("shadow ban %+v", c)
			}
			// Another sender climbs a ladder of their own.
			v, _ := engine.Evaluate(context.Background(), strikeMessage("u-2", "fuck"), moderation.Options{WebhookID: "wh-u2"})
			if len(v.Consequences) != 0 {
				t.Fatalf("another sender: %+v", v.Consequences)
			}
		})
	}
}

// TestARetryCountsNoStrike: Stream delivering the third message's call
// again gives no fourth strike and no second ban, whether the first answer
// was kept or not.
func TestARetryCountsNoStrike(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	engine := moderation.NewEngine(escalation(t), moderation.EngineOptions{Now: func() time.Time { return now },
		State: storage.NewMemory(storage.MemoryOptions{})})
	send := func(id string) (moderation.Verdict, moderation.Result) {
		now = now.Add(time.Second)
		msg := strikeMessage("u-1", "shit")
		v, res := engine.Evaluate(context.Background(), msg, moderation.Options{WebhookID: id})
		if id != "wh-2-unkept" {
			engine.Remember(context.Background(), msg, id, &v, &res)
		}
		return v, res
	}
	send("wh-0")
	send("wh-1")
	if v, _ := send("wh-2-unkept"); len(v.Consequences) != 1 || v.Consequences[0].Do != rules.DoBan {
		t.Fatalf("the third: %+v", v.Consequences)
	}
	for _, id := range []string{"wh-2-unkept", "wh-1"} {
		v, res := send(id)
		if !res.Retry || len(v.Consequences) != 0 {
			t.Fatalf("retry of %s: %+v %+v", id, res, v.Consequences)
		}
	}
	// The next new message is the fourth strike, not the fifth or sixth.
	if v, _ := send("wh-3"); len(v.Consequences) != 0 {
		t.Fatalf("the fourth: %+v", v.Consequences)
	}
	if v, _ := send("wh-4"); len(v.Consequences) != 1 || v.Consequences[0].Do != rules.DoShadowBan || v.Consequences[0].Strikes != 5 {
		t.Fatalf("the fifth: %+v", v.Consequences)
	}
}

const orderRules = `
version: 1
rules:
  - id: vip
    when: {user.role: vip}
    action: allow
  - id: flood
    limit: {count: 2, per: 1h, by: user}
    action: reject
    strikes: 2
    consequences:
      - when: {user.strikes: {within: 1h, over: 0}}
        do: flag
  - id: swears
    when: {text: {contains: [darn]}}
    action: mask
    strikes: 1
  - id: slurs
    when: {text: {contains: [slurword]}}
    action: reject
    strikes: {count: 10, decay: 2h}
    consequences:
      - do: ban
        for: forever
      - when: {user.strikes: {within: 1h, reaches: 3}}
        do: timeout
        for: 5m
        mode: observe
  - id: after
    when: {text: {contains: [slurword]}}
    action: mask
    strikes: 100
`

// TestStrikesFollowTheDecision: only the rules that act give strikes: not
// those below the rule that ends the check, not a limit rule within its
// limit, nor anything for an exempt sender.
func TestStrikesFollowTheDecision(t *testing.T) {
	t.Parallel()
	set, err := rules.Parse("rules.yaml", []byte(orderRules), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	state := storage.NewMemory(storage.MemoryOptions{})
	engine := moderation.NewEngine(set, moderation.EngineOptions{Now: func() time.Time { return now }, State: state})
	strikes := func(user string) int {
		st := &moderation.Strikes{Read: []moderation.StrikeRead{{Window: rules.StrikeWindow{Within: 24 * time.Hour}}}}
		state.Count(context.Background(), moderation.Claim{Sender: user, Strikes: st}, nil, now, time.Time{}, nil)
		return st.Read[0].Count
	}
	eval := func(user, role, text string) moderation.Verdict {
		now = now.Add(time.Second)
		msg := strikeMessage(user, text)
		msg.User, _ = json.Marshal(map[string]string{"id": user, "role": role})
		v, _ := engine.Evaluate(context.Background(), msg, moderation.Options{})
		return v
	}
	// The mask gives 1, the slur 10, and the rule below the slur nothing;
	// the ban has no condition; the timeout in observe mode reaches 3:
	// this message took the count from 0 past it, to 11.
	v := eval("a", "user", "darn slurword")
	if got := ladder([]moderation.Verdict{v}); got != "ban/0/0+would-timeout/5/11" || strikes("a") != 11 {
		t.Fatalf("consequences %s, strikes %d", got, strikes("a"))
	}
	// The flood limit: within it, no strike; past it, two, and its flag.
	eval("b", "user", "hello")
	eval("b", "user", "hello")
	if strikes("b") != 0 {
		t.Fatalf("within the limit: %d strikes", strikes("b"))
	}
	v = eval("b", "user", "hello")
	if got := ladder([]moderation.Verdict{v}); v.Action != rules.ActionReject || got != "flag/0/2" || strikes("b") != 2 {
		t.Fatalf("past the limit: %s %s, %d strikes", v.Action, got, strikes("b"))
	}
	// A refused message cannot be flagged in Stream: its sender is.
	if !v.Consequences[0].FlagUser {
		t.Fatalf("flag of a refused message: %+v", v.Consequences[0])
	}
	// A VIP is let through by the first rule: nothing below acts.
	if v := eval("c", "vip", "darn slurword"); len(v.Consequences) != 0 || strikes("c") != 0 {
		t.Fatalf("vip: %+v, %d strikes", v.Consequences, strikes("c"))
	}
	// Again: 21 strikes, the timeout reached before.
	if v := eval("a", "user", "slurword"); ladder([]moderation.Verdict{v}) != "ban/0/0" || strikes("a") != 21 {
		t.Fatalf("again: %s, %d strikes", ladder([]moderation.Verdict{v}), strikes("a"))
	}
	// The dry run counts nothing: the ban, which reads no strikes, shows;
	// the timeout, which does, cannot be told.
	v, _ = engine.Explain(strikeMessage("d", "slurword"))
	if got := ladder([]moderation.Verdict{v}); got != "ban/0/0" || strikes("d") != 0 {
		t.Fatalf("dry run: %s, %d strikes", got, strikes("d"))
	}
}

// TestStrikesWithFailingState: state that fails gives and reads nothing;
// a consequence that reads strikes is not carried out, one that reads none
// is.
func TestStrikesWithFailingState(t *testing.T) {
	t.Parallel()
	set, err := rules.Parse("rules.yaml", []byte(orderRules), nil)
	if err != nil {
		t.Fatal(err)
	}
	engine := moderation.NewEngine(set, moderation.EngineOptions{State: &countingState{State: storage.NewMemory(storage.MemoryOptions{}),
		fail: fmt.Errorf("redis: connection refused")}})
	v, res := engine.Evaluate(context.Background(), strikeMessage("a", "slurword"), moderation.Options{WebhookID: "wh"})
	if res.StateErr == nil || ladder([]moderation.Verdict{v}) != "ban/0/0" {
		t.Fatalf("%+v %s", res, ladder([]moderation.Verdict{v}))
	}
}

// TestStrikesRideInTheOneCall: a message that gives strikes and meets
// limits makes one call to state.
func TestStrikesRideInTheOneCall(t *testing.T) {
	t.Parallel()
	set, err := rules.Parse("rules.yaml", []byte(orderRules), nil)
	if err != nil {
		t.Fatal(err)
	}
	state := &countingState{State: storage.NewMemory(storage.MemoryOptions{})}
	engine := moderation.NewEngine(set, moderation.EngineOptions{State: state})
	engine.Evaluate(context.Background(), strikeMessage("a", "darn slurword"), moderation.Options{WebhookID: "wh-1"})
	if state.calls != 1 {
		t.Fatalf("%d calls to state", state.calls)
	}
}
