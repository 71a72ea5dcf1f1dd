package rules

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestStrikesAndConsequences(t *testing.T) {
	t.Parallel()
	set, err := Load(filepath.Join("..", "examples", "escalation.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := set.Rules[0]
	if r.Strikes == nil || *r.Strikes != (Strikes{Count: 1, Decay: time.Hour}) {
		t.Fatalf("strikes %+v", r.Strikes)
	}
	if len(r.Consequences) != 2 {
		t.Fatalf("consequences %+v", r.Consequences)
	}
	ban, shadow := r.Consequences[0], r.Consequences[1]
	if ban.Do != DoBan || ban.Minutes() != 15 || shadow.Do != DoShadowBan || shadow.Minutes() != 24*60 {
		t.Fatalf("ban %+v, shadow ban %+v", ban, shadow)
	}
	want := []StrikeWindow{{Within: 10 * time.Minute}, {Within: time.Hour}}
	if got := r.StrikeWindows(); !slices.Equal(got, want) {
		t.Fatalf("windows %v, want %v", got, want)
	}
	if got := ban.Reason.Render(ReplyData{RuleID: "profanity"}); got != "Rule profanity: a third message refused within 10 minutes" {
		t.Fatalf("reason %q", got)
	}
}

func TestConsequenceDefaultsAndModes(t *testing.T) {
	t.Parallel()
	set, err := Parse("rules.yaml", []byte(`
version: 1
rules:
  - id: watched
    when: {text: {contains: [x]}}
    action: hold
    mode: observe
    strikes: 3
    rejected_reply: "A moderator did not let your message through, {{user.name}}."
    consequences:
      - do: flag
      - when: {user.strikes: {within: 1d, reaches: 3}}
        do: ban
        for: forever
  - id: trial
    when: {text: {contains: [y]}}
    action: reject
    consequences:
      - when: {all: [{user.strikes: {within: 1h, over: 1}}, {user.role: guest}]}
        do: timeout
        for: 1h
        mode: observe
      - when: {user.strikes: {within: 1h, under: 5}}
        do: flag
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	w, tr := set.Rules[0], set.Rules[1]
	if *w.Strikes != (Strikes{Count: 3, Decay: DefaultStrikeDecay}) {
		t.Fatalf("strikes %+v", w.Strikes)
	}
	if got := w.RejectedReply.Render(ReplyData{UserName: "Ann"}); got != "A moderator did not let your message through, Ann." {
		t.Fatalf("rejected_reply %q", got)
	}
	// A rule in observe mode puts its consequences in observe mode, and
	// they read the strikes of rules in observe mode too.
	for _, c := range w.Consequences {
		if c.Mode != ModeObserve {
			t.Fatalf("consequence of an observed rule: %+v", c)
		}
	}
	if got := w.StrikeWindows(); !slices.Equal(got, []StrikeWindow{{Within: 24 * time.Hour, Observed: true}}) {
		t.Fatalf("windows %v", got)
	}
	if got := w.Consequences[0].Reason.Render(ReplyData{RuleID: "watched"}); got != "modgate: rule watched" {
		t.Fatalf("default reason %q", got)
	}
	if w.Consequences[1].Minutes() != 0 {
		t.Fatalf("a ban for ever: %d minutes", w.Consequences[1].Minutes())
	}
	// In an enforced rule, one consequence in observe mode reads apart.
	want := []StrikeWindow{{Within: time.Hour, Observed: true}, {Within: time.Hour}}
	if got := tr.StrikeWindows(); !slices.Equal(got, want) || tr.Consequences[0].Mode != ModeObserve || tr.Consequences[1].Mode != ModeEnforce {
		t.Fatalf("windows %v, modes %v %v", got, tr.Consequences[0].Mode, tr.Consequences[1].Mode)
	}
}

func TestStrikesCondition(t *testing.T) {
	t.Parallel()
	w := StrikeWindow{Within: time.Hour}
	for _, tc := range []struct {
		name        string
		cond        strikesCond
		now, before int
		want        Truth
	}{
		{"reaches, crossed", strikesCond{window: w, reaches: 3, over: -1, under: -1}, 3, 2, True},
		{"reaches, jumped over", strikesCond{window: w, reaches: 3, over: -1, under: -1}, 5, 1, True},
		{"reaches, before", strikesCond{window: w, reaches: 3, over: -1, under: -1}, 2, 1, False},
		{"reaches, past already", strikesCond{window: w, reaches: 3, over: -1, under: -1}, 4, 3, False},
		{"over", strikesCond{window: w, reaches: -1, over: 2, under: -1}, 3, 0, True},
		{"over, not", strikesCond{window: w, reaches: -1, over: 2, under: -1}, 2, 0, False},
		{"under", strikesCond{window: w, reaches: -1, over: -1, under: 2}, 1, 0, True},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &Input{Strikes: &StrikeCounts{Windows: []StrikeWindow{w}, Counts: []int{tc.now}, Given: tc.now - tc.before}}
			if _, got := tc.cond.Match(in, nil); got != tc.want {
				t.Fatalf("%s, want %s", got, tc.want)
			}
		})
	}
	// Without counts (a dry run, failing state) the condition is unknown.
	c := strikesCond{window: w, reaches: 1, over: -1, under: -1}
	if _, got := c.Match(&Input{}, nil); got != Unknown {
		t.Fatalf("without counts: %s", got)
	}
}
