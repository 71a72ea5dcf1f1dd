package moderation

import (
	"slices"
	"testing"

	"github.com/modgate/modgate/rules"
)

// TestStoredAnswers: an answer is stored in the compact form that every
// version of modgate sharing a Redis reads, and reads back into a verdict
// that answers the same.
func TestStoredAnswers(t *testing.T) {
	t.Parallel()
	field := func(k, js string) rules.FieldValue { return rules.FieldValue{Key: k, JSON: []byte(js)} }
	cases := []struct {
		name   string
		v      Verdict
		stored string
		back   Verdict
	}{
		{"no rule", Verdict{}, "A", Verdict{}},
		{"allowed", Verdict{Action: rules.ActionAllow, Fired: []Firing{{RuleID: "ok"}}}, "A", Verdict{}},
		{"rejected", Verdict{Action: rules.ActionReject, Reply: "Nope, é", RuleID: "slurs"}, "RNope, é",
			Verdict{Action: rules.ActionReject, Reply: "Nope, é"}},
		{"held", Verdict{Action: rules.ActionHold, Reply: "Wait"}, "RWait", Verdict{Action: rules.ActionReject, Reply: "Wait"}},
		{"masked", Verdict{Action: rules.ActionMask, Text: `a **** "q"`, TextChanged: true}, `P{"text":"a **** \"q\""}`,
			Verdict{Action: rules.ActionRewrite, Text: `a **** "q"`, TextChanged: true}},
		{"flagged", Verdict{Action: rules.ActionFlag, Fields: []rules.FieldValue{field("modgate_flags", `["r1"]`), field("silent", "true")}},
			`P{"fields":[["modgate_flags",["r1"]],["silent",true]]}`,
			Verdict{Action: rules.ActionRewrite, Fields: []rules.FieldValue{field("modgate_flags", `["r1"]`), field("silent", "true")}}},
		{"emptied text", Verdict{Action: rules.ActionRewrite, Text: "", TextChanged: true}, `P{"text":""}`,
			Verdict{Action: rules.ActionRewrite, TextChanged: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stored := appendAnswer(nil, &tc.v)
			if string(stored) != tc.stored {
				t.Fatalf("stored %q, want %q", stored, tc.stored)
			}
			back, ok := readAnswer(stored)
			if !ok {
				t.Fatal("not readable")
			}
			if back.Action != tc.back.Action || back.Reply != tc.back.Reply || back.Text != tc.back.Text ||
				back.TextChanged != tc.back.TextChanged || !slices.EqualFunc(back.Fields, tc.back.Fields, sameField) {
				t.Fatalf("read back %+v, want %+v", back, tc.back)
			}
			if back.Refused() != tc.v.Refused() || back.Changed() != tc.v.Changed() {
				t.Fatalf("read back %+v answers otherwise than %+v", back, tc.v)
			}
		})
	}
}

func sameField(a, b rules.FieldValue) bool { return a.Key == b.Key && string(a.JSON) == string(b.JSON) }

// TestUnreadableStoredAnswers: what this version did not write is not
// read as an answer.
func TestUnreadableStoredAnswers(t *testing.T) {
	t.Parallel()
	for _, stored := range []string{"", "\x00", "\xff", "Z", "P", "P{", `P{"fields":[["k"]]}`, `P{"fields":[[1,2]]}`, `P{"text":5}`} {
		if v, ok := readAnswer([]byte(stored)); ok {
			t.Errorf("%q read as %+v", stored, v)
		}
	}
}
