package moderation_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// stepClock is a clock that moves on by step every time it is read, and
// counts the readings: the tests below know what the engine saw without
// depending on how fast this machine is.
type stepClock struct {
	start time.Time
	step  time.Duration
	reads atomic.Int64
}

func newStepClock(step time.Duration) *stepClock {
	return &stepClock{start: time.Now().UTC().Truncate(time.Second), step: step}
}

func (c *stepClock) now() time.Time {
	n := c.reads.Add(1)
	return c.start.Add(time.Duration(n-1) * c.step)
}

// costlyAboveSlurs is twelve patterns that cost 35 ms each on 5,000
// letters, above a slurs rule.
func costlyAboveSlurs(onError string) string {
	var b strings.Builder
	b.WriteString("version: 1\nlists:\n  slurs: {builtin: slurs-en}\nrules:\n")
	for i := range 12 {
		fmt.Fprintf(&b, "  - id: costly-%d\n    when: {text: {matches: '[a-z]{1000}[0-9]'}}\n    action: reject\n    reply: costly\n", i)
		if onError != "" {
			fmt.Fprintf(&b, "    on_error: %s\n", onError)
		}
	}
	b.WriteString("  - id: slurs\n    when: {text: {contains: [list.slurs]}}\n    action: reject\n    reply: no slurs\n")
	return b.String()
}

// slurAttack is 5,000 characters: a slur after a long run of letters that
// makes every costly pattern work to the end of the text.
var slurAttack = strings.Repeat("a", 4990) + " n1gg3r"

// TestSlurRejectedWhateverPatternsStandAbove: twelve costly patterns above
// the slurs rule once used up the deadline and let a 5,000-character slur
// through as "deadline". Word lists are evaluated before any pattern, so the
// slur is rejected however much time the patterns take, and the patterns
// that had no time follow their on_error.
func TestSlurRejectedWhateverPatternsStandAbove(t *testing.T) {
	t.Parallel()
	set := mustSet(t, costlyAboveSlurs(""))
	cases := []struct {
		name     string
		step     time.Duration // how far the clock moves at each reading
		deadline time.Duration // from the first reading
		cut      bool          // the deadline passes during the patterns
	}{
		{"no deadline", time.Millisecond, 0, false},
		{"time for everything", time.Microsecond, time.Hour, false},
		{"deadline passes in the first pattern", 10 * time.Millisecond, 25 * time.Millisecond, true},
		{"deadline passes in the sixth pattern", time.Millisecond, 150 * time.Millisecond, true},
		{"deadline passes as the patterns start", time.Second, 500 * time.Millisecond, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newStepClock(tc.step)
			e := moderation.NewEngine(set, moderation.EngineOptions{Now: clock.now})
			opt := moderation.Options{}
			if tc.deadline > 0 {
				opt.Deadline = clock.start.Add(tc.deadline)
			}
			v, _ := e.Evaluate(context.Background(), &moderation.Message{Text: slurAttack}, opt)
			if v.Action != rules.ActionReject || v.RuleID != "slurs" || v.Reply != "no slurs" {
				t.Fatalf("verdict %s by %q (%q), want reject by slurs", v.Action, v.RuleID, v.Reply)
			}
			if v.DeadlineHit != tc.cut {
				t.Fatalf("DeadlineHit %v, want %v", v.DeadlineHit, tc.cut)
			}
		})
	}
}

// TestCostlyPatternIsInterruptedInsideTheMatch: the clock is read inside
// one long match, not only between rules, and a pattern cut short follows
// its on_error.
func TestCostlyPatternIsInterruptedInsideTheMatch(t *testing.T) {
	t.Parallel()
	src := `version: 1
rules:
  - id: costly
    when: {text: {matches: '[a-z]{1000}[0-9]'}}
    action: reject
    reply: costly
    on_error: hold
`
	set := mustSet(t, src)
	text := strings.Repeat("b", 5000)

	clock := newStepClock(time.Nanosecond)
	e := moderation.NewEngine(set, moderation.EngineOptions{Now: clock.now})
	v, _ := e.Evaluate(context.Background(), &moderation.Message{Text: text}, moderation.Options{Deadline: clock.start.Add(time.Hour)})
	if v.Action != rules.ActionNone || v.DeadlineHit {
		t.Fatalf("with time enough: %+v", v)
	}
	if n := clock.reads.Load(); n < 10 {
		t.Fatalf("the clock was read %d times over one long match, want it watched inside it", n)
	}

	clock = newStepClock(time.Millisecond)
	e = moderation.NewEngine(set, moderation.EngineOptions{Now: clock.now})
	v, _ = e.Evaluate(context.Background(), &moderation.Message{Text: text}, moderation.Options{Deadline: clock.start.Add(2500 * time.Microsecond)})
	if !v.DeadlineHit || v.Action != rules.ActionHold || v.RuleID != "costly" {
		t.Fatalf("cut short: %+v, want its on_error (hold) to decide", v)
	}
	if n := clock.reads.Load(); n != 4 {
		t.Fatalf("the clock was read %d times: the match should stop at the first reading past the deadline (the 4th)", n)
	}
}

// TestTwoPassesKeepTheOrderOfRules: with costly tests put off, the rules
// still decide as the file says, for every rule that was evaluated.
func TestTwoPassesKeepTheOrderOfRules(t *testing.T) {
	t.Parallel()
	src := `version: 1
lists:
  swears: {terms: [damn]}
  worse: {terms: [blast]}
rules:
  - id: mask-swears
    when: {text: {contains: [list.swears]}}
    action: mask
  - id: pattern-allow
    when: {text: {matches: '#vip\d+'}}
    action: allow
  - id: pattern-mask
    when: {all: [{text: {matches: 'x{3}'}}, {text: {contains: [xxx]}}]}
    action: mask
  - id: pattern-or-word
    when: {any: [{text: {matches: 'zz+top'}}, {text: {contains: [zounds]}}]}
    action: reject
    reply: pattern or word
  - id: reject-worse
    when: {text: {contains: [list.worse]}}
    action: reject
    reply: worse
  - id: pattern-below
    when: {text: {matches: 'never reached'}}
    action: reject
`
	e := moderation.NewEngine(mustSet(t, src), moderation.EngineOptions{})
	cases := []struct {
		name, text string
		action     rules.Action
		rule, out  string
		fired      []string
	}{
		{"a pattern above a word decides first", "#vip7 blast", rules.ActionAllow, "", "", []string{"pattern-allow"}},
		{"a pattern that does not match passes", "#vip blast", rules.ActionReject, "reject-worse", "worse", []string{"reject-worse"}},
		{"masks above and below a pattern add up", "damn xxx", rules.ActionMask, "", "**** ***", []string{"mask-swears", "pattern-mask"}},
		{"any: the word decides without the pattern", "zounds blast", rules.ActionReject, "pattern-or-word", "pattern or word", []string{"pattern-or-word"}},
		{"any: the pattern decides", "zzztop blast", rules.ActionReject, "pattern-or-word", "pattern or word", []string{"pattern-or-word"}},
		{"below the decision nothing runs", "blast never reached", rules.ActionReject, "reject-worse", "worse", []string{"reject-worse"}},
		{"nothing", "hello", rules.ActionNone, "", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, _ := e.Evaluate(context.Background(), &moderation.Message{Text: tc.text}, moderation.Options{})
			var fired []string
			for _, f := range v.Fired {
				fired = append(fired, f.RuleID)
			}
			if v.Action != tc.action || v.RuleID != tc.rule || strings.Join(fired, ",") != strings.Join(tc.fired, ",") {
				t.Fatalf("%s by %q, fired %v; want %s by %q, fired %v", v.Action, v.RuleID, fired, tc.action, tc.rule, tc.fired)
			}
			if out := v.Reply + v.Text; out != tc.out {
				t.Fatalf("reply/text %q, want %q", out, tc.out)
			}
		})
	}
}

// TestRulesWithoutTimeFollowTheirOnError: a rule the deadline left out
// decides in its place when its on_error refuses, is passed over when it
// allows, and what the rules before it changed stays.
func TestRulesWithoutTimeFollowTheirOnError(t *testing.T) {
	t.Parallel()
	src := `version: 1
rules:
  - id: mask-swears
    when: {text: {contains: [damn]}}
    action: mask
  - id: costly-allow
    when: {text: {matches: '[a-z]{1000}[0-9]'}}
    action: reject
  - id: costly-hold
    when: {text: {matches: '[b-z]{1000}[0-9]'}}
    action: reject
    on_error: %s
    reply: held for lack of time
`
	text := "damn " + strings.Repeat("c", 5000)
	for _, tc := range []struct {
		onError string
		action  rules.Action
		out     string
	}{
		{"allow", rules.ActionMask, "**** " + strings.Repeat("c", 5000)},
		{"hold", rules.ActionHold, "held for lack of time"},
	} {
		t.Run(tc.onError, func(t *testing.T) {
			t.Parallel()
			clock := newStepClock(time.Millisecond)
			e := moderation.NewEngine(mustSet(t, fmt.Sprintf(src, tc.onError)), moderation.EngineOptions{Now: clock.now})
			v, _ := e.Evaluate(context.Background(), &moderation.Message{Text: text}, moderation.Options{Deadline: clock.start.Add(5 * time.Millisecond)})
			out := v.Text // a hold also carries what the rules above it changed
			if v.Refused() {
				out = v.Reply
			}
			if !v.DeadlineHit || v.Action != tc.action || out != tc.out || v.Text != "**** "+strings.Repeat("c", 5000) {
				t.Fatalf("verdict %s %q%q deadline %v, want %s %q", v.Action, v.Reply, v.Text, v.DeadlineHit, tc.action, tc.out)
			}
		})
	}
}

// TestCheapTestsWatchTheDeadlineOnLongTexts: word lists over a long text
// are work too. The clock is read before each of them, and the rules not
// reached in time follow their on_error; over a short text it is not read
// at all between rules.
func TestCheapTestsWatchTheDeadlineOnLongTexts(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("version: 1\nrules:\n")
	for i := range 10 {
		fmt.Fprintf(&b, "  - {id: words-%d, when: {text: {contains: [absent%c]}}, action: flag}\n", i, 'a'+i)
	}
	b.WriteString("  - {id: last, when: {text: {contains: [never]}}, action: flag, on_error: hold}\n")
	set := mustSet(t, b.String())
	long := strings.Repeat("some words ", 10_000) // 110 KB: each word list counts as over a millisecond of work

	clock := newStepClock(time.Millisecond)
	e := moderation.NewEngine(set, moderation.EngineOptions{Now: clock.now})
	v, _ := e.Evaluate(context.Background(), &moderation.Message{Text: long}, moderation.Options{Deadline: clock.start.Add(5500 * time.Microsecond)})
	if !v.DeadlineHit || v.Action != rules.ActionHold || v.RuleID != "last" {
		t.Fatalf("verdict %+v, want the last rule's on_error", v)
	}

	clock = newStepClock(time.Millisecond)
	e = moderation.NewEngine(set, moderation.EngineOptions{Now: clock.now})
	v, _ = e.Evaluate(context.Background(), &moderation.Message{Text: "some words"}, moderation.Options{Deadline: clock.start.Add(time.Hour)})
	if v.DeadlineHit || v.Action != rules.ActionNone || clock.reads.Load() != 1 {
		t.Fatalf("short text: %+v, %d readings of the clock", v, clock.reads.Load())
	}
}
