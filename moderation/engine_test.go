package moderation_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

func mustSet(t testing.TB, src string) *rules.Set {
	t.Helper()
	set, err := rules.Parse("test.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

const engineRules = `
version: 1
settings: {reject_reply: "default reply"}
lists:
  swears: {terms: [damn, heck]}
  worse: {terms: [blast]}
rules:
  - id: vip
    when: {text: {contains: ["#vip"]}}
    action: allow
  - id: mask-swears
    when: {text: {contains: [list.swears]}}
    action: mask
  - id: mask-more
    when: {text: {contains: [crikey]}}
    action: mask
  - id: late-allow
    when: {text: {contains: [pardon]}}
    action: allow
  - id: reject-worse
    when: {text: {contains: [list.worse]}}
    action: reject
  - id: reject-custom
    when: {text: {contains: [zounds]}}
    action: reject
    reply: "custom reply"
`

func TestEvaluateOrderAndPrecedence(t *testing.T) {
	t.Parallel()
	e := moderation.NewEngine(mustSet(t, engineRules), moderation.EngineOptions{})
	cases := []struct {
		name   string
		text   string
		action rules.Action
		out    string // masked text or reply
		fired  []string
	}{
		{"clean", "hello there", rules.ActionNone, "", nil},
		{"mask", "damn it", rules.ActionMask, "**** it", []string{"mask-swears"}},
		{"masks add up", "damn, crikey and heck", rules.ActionMask, "****, ****** and ****", []string{"mask-swears", "mask-more"}},
		{"allow first ends the check", "#vip blast damn", rules.ActionAllow, "", []string{"vip"}},
		{"allow later keeps earlier masks", "damn, pardon, blast", rules.ActionMask, "****, pardon, blast", []string{"mask-swears", "late-allow"}},
		{"reject after masks wins", "damn blast", rules.ActionReject, "default reply", []string{"mask-swears", "reject-worse"}},
		{"rule reply", "zounds", rules.ActionReject, "custom reply", []string{"reject-custom"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := e.Evaluate(context.Background(), &moderation.Message{Text: tc.text}, moderation.Options{})
			if v.Action != tc.action {
				t.Fatalf("action %s, want %s", v.Action, tc.action)
			}
			switch tc.action {
			case rules.ActionMask:
				if v.Text != tc.out {
					t.Fatalf("text %q, want %q", v.Text, tc.out)
				}
			case rules.ActionReject:
				if v.Reply != tc.out {
					t.Fatalf("reply %q, want %q", v.Reply, tc.out)
				}
			}
			if len(v.Fired) != len(tc.fired) {
				t.Fatalf("fired %+v, want %v", v.Fired, tc.fired)
			}
			for i, id := range tc.fired {
				if v.Fired[i].RuleID != id {
					t.Fatalf("fired %+v, want %v", v.Fired, tc.fired)
				}
			}
			if v.RulesVersion == "" {
				t.Fatal("verdict without a rules version")
			}
		})
	}
}

// TestAHoldCarriesTheChangesAboveIt: a hold is still a hold, and carries
// what the mask, rewrite and flag rules above the holding rule changed
// (what a moderator's approval of a pending message applies); the rules
// below it are not evaluated.
func TestAHoldCarriesTheChangesAboveIt(t *testing.T) {
	e := moderation.NewEngine(mustSet(t, `
version: 1
rules:
  - {id: mask, when: {text: {contains: [damn]}}, action: mask}
  - {id: tag, when: {text: {contains: [promo]}}, action: flag}
  - {id: review, when: {text: {contains: [review]}}, action: hold}
  - {id: mask-below, when: {text: {contains: [heck]}}, action: mask}
`), moderation.EngineOptions{})
	v, _ := e.Evaluate(context.Background(), &moderation.Message{Text: "damn promo review heck"}, moderation.Options{})
	if v.Action != rules.ActionHold || !v.Refused() || v.Changed() || v.RuleID != "review" || !v.TextChanged ||
		v.Text != "**** promo review heck" || len(v.Fields) != 1 || v.Fields[0].Key != "modgate_flags" ||
		string(v.Fields[0].JSON) != `["tag"]` {
		t.Fatalf("verdict %+v", v)
	}
	if v, _ := e.Evaluate(context.Background(), &moderation.Message{Text: "review heck"}, moderation.Options{}); v.Action != rules.ActionHold || v.TextChanged || len(v.Fields) != 0 {
		t.Fatalf("a hold with nothing changed above it: %+v", v)
	}
}

func TestEvaluateExplainsMatches(t *testing.T) {
	t.Parallel()
	e := moderation.NewEngine(mustSet(t, engineRules), moderation.EngineOptions{})
	v, _ := e.Evaluate(context.Background(), &moderation.Message{Text: "well d.a.m.n"}, moderation.Options{})
	if len(v.Fired) != 1 || len(v.Fired[0].Matches) != 1 {
		t.Fatalf("fired %+v", v.Fired)
	}
	m := v.Fired[0].Matches[0]
	if m.Term != "damn" || m.List != "swears" || m.Steps&rules.StepSeparators == 0 || m.Start != 5 || m.End != 12 {
		t.Fatalf("match %+v", m)
	}
}

// TestEvaluateDeadline: a deadline that passed before the first rule
// leaves every rule to its on_error; without one that refuses, the message
// goes through unchanged.
func TestEvaluateDeadline(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return now.Add(time.Second) }
	e := moderation.NewEngine(mustSet(t, engineRules), moderation.EngineOptions{Now: clock})
	v, _ := e.Evaluate(context.Background(), &moderation.Message{Text: "damn blast"}, moderation.Options{Deadline: now})
	if !v.DeadlineHit || v.Action != rules.ActionNone || len(v.Fired) != 0 {
		t.Fatalf("verdict %+v: past the deadline the message goes through unchanged", v)
	}
}

func TestSwapIsAtomic(t *testing.T) {
	t.Parallel()
	e := moderation.NewEngine(mustSet(t, engineRules), moderation.EngineOptions{})
	old := e.Swap(mustSet(t, "version: 1\nrules: []\n"))
	if old == nil || len(e.Rules().Rules) != 0 {
		t.Fatal("swap did not take")
	}
	if v, _ := e.Evaluate(context.Background(), &moderation.Message{Text: "damn"}, moderation.Options{}); v.Action != rules.ActionNone {
		t.Fatalf("old rules still used: %+v", v)
	}
}

// TestExemptionsOfSeveralTests: an exemption, in the settings or on a rule,
// may be any condition: several tests, all, any, not. Comparing the rule's
// exemption with the settings' one panicked for those that are lists, on
// every message.
func TestExemptionsOfSeveralTests(t *testing.T) {
	t.Parallel()
	exemptions := map[string]string{
		"two tests": `{user.role: [admin], user.banned: true}`,
		"all":       `{all: [{user.role: [admin]}, {user.banned: true}]}`,
		"any":       `{any: [{user.role: [admin]}, {user.id: [root]}]}`,
		"not":       `{not: {user.role: [user, guest]}}`,
	}
	for name, exempt := range exemptions {
		for _, where := range []string{"settings", "rule"} {
			t.Run(name+" in "+where, func(t *testing.T) {
				t.Parallel()
				src := "version: 1\nsettings: {exempt: " + exempt + "}\nrules:\n  - {id: bad, when: {text: {contains: [bad]}}, action: reject}\n"
				if where == "rule" {
					src = "version: 1\nrules:\n  - {id: bad, when: {text: {contains: [bad]}}, action: reject, exempt: " + exempt + "}\n"
				}
				e := moderation.NewEngine(mustSet(t, src), moderation.EngineOptions{})
				user := &moderation.Message{Text: "bad", User: []byte(`{"id":"u1","role":"user","banned":false}`)}
				if v, _ := e.Evaluate(context.Background(), user, moderation.Options{}); v.RuleID != "bad" {
					t.Fatalf("a user who is not exempt: %+v", v)
				}
				admin := &moderation.Message{Text: "bad", User: []byte(`{"id":"root","role":"admin","banned":true}`)}
				if v, _ := e.Evaluate(context.Background(), admin, moderation.Options{}); v.Refused() {
					t.Fatalf("an exempt admin: %+v", v)
				}
			})
		}
	}
}

// TestCostlyExemptionKeepsTheRulesMatches: an exemption with a costly test
// is asked again in the second pass, after the rule's own condition held;
// what the exemption matched on its way to False must not take the place
// of what the rule matched.
func TestCostlyExemptionKeepsTheRulesMatches(t *testing.T) {
	t.Parallel()
	src := `version: 1
settings:
  exempt: {all: [{text: {contains: [hello]}}, {text: {matches: 'zzz'}}]}
rules:
  - {id: bad, when: {text: {matches: 'bad'}}, action: mask}
`
	for _, explain := range []bool{false, true} {
		t.Run(fmt.Sprint("explain=", explain), func(t *testing.T) {
			t.Parallel()
			e := moderation.NewEngine(mustSet(t, src), moderation.EngineOptions{})
			msg := &moderation.Message{Text: "hello bad"}
			v, _ := e.Evaluate(context.Background(), msg, moderation.Options{})
			if explain {
				v, _ = e.Explain(msg)
			}
			if v.Text != "hello ***" || len(v.Fired) != 1 || v.Fired[0].Matches[0].Term != "bad" {
				t.Fatalf("verdict %+v: the rule's own match is masked", v)
			}
		})
	}
}
