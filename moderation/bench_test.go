package moderation_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// patternRules are the shipped rules with a few patterns of the usual
// kind in front of them.
const patternRules = `
  - id: card-numbers
    when: {text: {matches: '\b(?:\d[ -]?){13,16}\b'}}
    action: mask
  - id: emails
    when: {text: {matches: '\w{3,30}@\w{3,30}\.\w{2,5}'}}
    action: flag
  - id: coins
    when: {text: {matches: '(?i)free\s+coins'}}
    action: hold
`

// BenchmarkEvaluate is the engine alone, without state or deadline, over a
// clean and an abusive message, with the shipped rules and with patterns
// added to them.
func BenchmarkEvaluate(b *testing.B) {
	shipped, err := rules.Load(filepath.Join("..", "rules.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join("..", "rules.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	withPatterns, err := rules.Parse(filepath.Join("..", "rules.yaml"), []byte(strings.Replace(string(src), "\nrules:\n", "\nrules:\n"+patternRules, 1)), nil)
	if err != nil {
		b.Fatal(err)
	}
	msgs := map[string]*moderation.Message{
		"clean":   {Text: "good morning everyone, see you at the standup in ten minutes", User: []byte(`{"id":"u1","role":"user"}`)},
		"abusive": {Text: "what the f.u.c.k is this sh1t", User: []byte(`{"id":"u1","role":"user"}`)},
	}
	for _, set := range []struct {
		name string
		set  *rules.Set
	}{{"shipped", shipped}, {"patterns", withPatterns}} {
		e := moderation.NewEngine(set.set, moderation.EngineOptions{})
		for _, name := range []string{"clean", "abusive"} {
			msg := msgs[name]
			b.Run(set.name+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					e.Evaluate(context.Background(), msg, moderation.Options{Deadline: time.Now().Add(time.Second)})
				}
			})
		}
	}
}

// BenchmarkCostlyPatternsAboveSlurs is the attack: twelve patterns that
// cost 35 ms each on 5,000 letters above the slurs rule, a 5,000-character
// slur, the default deadline of 300 ms on the real clock. It reports the
// time to the verdict and whether the slur was rejected.
func BenchmarkCostlyPatternsAboveSlurs(b *testing.B) {
	e := moderation.NewEngine(mustSet(b, costlyAboveSlurs("")), moderation.EngineOptions{})
	msg := &moderation.Message{Text: slurAttack}
	rejected := 0
	n := 0
	for b.Loop() {
		v, _ := e.Evaluate(context.Background(), msg, moderation.Options{Deadline: time.Now().Add(300 * time.Millisecond)})
		if v.Action == rules.ActionReject && v.RuleID == "slurs" {
			rejected++
		}
		n++
	}
	b.ReportMetric(float64(rejected)/float64(n), "rejected/op")
}
