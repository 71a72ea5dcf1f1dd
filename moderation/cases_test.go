package moderation_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/modgate/modgate/hook/stream"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rawjson"
	"github.com/modgate/modgate/rules"
)

// caseFile is a data-driven fixture under rules/testdata/cases: a rules
// file, and messages with the rules expected to fire and the verdict.
type caseFile struct {
	Now   time.Time  `yaml:"now"`
	Rules string     `yaml:"rules"`
	Cases []caseSpec `yaml:"cases"`
}

type caseSpec struct {
	Name     string         `yaml:"name"`
	Now      time.Time      `yaml:"now"`
	Hook     string         `yaml:"hook"`
	Payload  map[string]any `yaml:"payload"`
	Fired    []string       `yaml:"fired"`
	NotFired []string       `yaml:"not_fired"`
	Verdict  string         `yaml:"verdict"`
	Text     *string        `yaml:"text"`
	Reply    *string        `yaml:"reply"`
	Fields   map[string]any `yaml:"fields"`
}

func TestRuleFixtures(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "rules", "testdata", "cases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var cf caseFile
			dec := yaml.NewDecoder(bytesReader(data))
			dec.KnownFields(true)
			if err := dec.Decode(&cf); err != nil {
				t.Fatalf("fixture: %v", err)
			}
			set, err := rules.Parse(file, []byte(cf.Rules), nil)
			if err != nil {
				t.Fatalf("rules: %v", err)
			}
			for _, c := range cf.Cases {
				t.Run(c.Name, func(t *testing.T) { runCase(t, set, cf.Now, c) })
			}
		})
	}
}

func sameVerdict(a, b moderation.Verdict) bool {
	ids := func(v moderation.Verdict) (out []string) {
		for _, f := range v.Fired {
			out = append(out, f.RuleID+"/"+f.Action.String())
		}
		return out
	}
	return a.Action == b.Action && a.RuleID == b.RuleID && a.Reply == b.Reply && a.Text == b.Text &&
		a.TextChanged == b.TextChanged && reflect.DeepEqual(ids(a), ids(b)) && reflect.DeepEqual(a.Fields, b.Fields)
}

func runCase(t *testing.T, set *rules.Set, now time.Time, c caseSpec) {
	if !c.Now.IsZero() {
		now = c.Now
	}
	engine := moderation.NewEngine(set, moderation.EngineOptions{Now: func() time.Time { return now }})
	part := func(key string) []byte {
		v, ok := c.Payload[key]
		if !ok {
			return nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	msg := moderation.Message{Hook: c.Hook, Object: part("message"), User: part("user"), Channel: part("channel"),
		RequestInfo: part("request_info"), Metadata: part("metadata")}
	msg.Text = rawjson.String(rawjson.Lookup(msg.Object, "text"))
	msg.ID = rawjson.String(rawjson.Lookup(msg.Object, "id"))
	v, _ := engine.Evaluate(context.Background(), &msg, moderation.Options{})

	// The before-send hook hands the engine the members its payload scan
	// found; the verdict must not change.
	if msg.Object != nil && msg.Object[0] == '{' {
		body, err := json.Marshal(c.Payload)
		if err != nil {
			t.Fatal(err)
		}
		var p stream.Payload
		if err := p.Parse(body); err != nil {
			t.Fatalf("payload: %v", err)
		}
		known := msg
		known.Object, known.User, known.Channel, known.RequestInfo, known.Members = p.Message, p.User, p.Channel, p.RequestInfo, &p.Members
		fresh := moderation.NewEngine(set, moderation.EngineOptions{Now: func() time.Time { return now }})
		if w, _ := fresh.Evaluate(context.Background(), &known, moderation.Options{}); !sameVerdict(v, w) {
			t.Errorf("with the payload's members: %+v\nscanning the objects: %+v", w, v)
		}
	}

	// The explanation walks the rules as the evaluation does: the same
	// verdict, every rule reported, each that fired as reached and matched.
	w, explained := engine.Explain(&msg)
	if !sameVerdict(v, w) || len(explained) != len(set.Rules) {
		t.Errorf("explained: %+v (%d rules)\nevaluated: %+v", w, len(explained), v)
	}
	fired := map[string]bool{}
	for _, f := range v.Fired {
		fired[f.RuleID] = true
	}
	for _, r := range explained {
		if fired[r.RuleID] && !v.DeadlineHit && (!r.Reached || !r.Matched || r.Skipped != "") {
			t.Errorf("explained %+v, but the rule fired", r)
		}
	}
	for _, id := range c.Fired {
		if !fired[id] {
			t.Errorf("rule %s did not fire (fired: %v)", id, keys(fired))
		}
	}
	for _, id := range c.NotFired {
		if fired[id] {
			t.Errorf("rule %s fired", id)
		}
	}
	if c.Verdict != "" {
		got := "allow"
		if v.Refused() || v.Changed() {
			got = v.Action.String()
		}
		if got != c.Verdict {
			t.Errorf("verdict %s, want %s", got, c.Verdict)
		}
	}
	if c.Text != nil && (!v.TextChanged || v.Text != *c.Text) {
		t.Errorf("text %q (changed %v), want %q", v.Text, v.TextChanged, *c.Text)
	}
	if c.Reply != nil && v.Reply != *c.Reply {
		t.Errorf("reply %q, want %q", v.Reply, *c.Reply)
	}
	for key, want := range c.Fields {
		var got any
		found := false
		for _, f := range v.Fields {
			if f.Key == key {
				found = true
				if err := json.Unmarshal(f.JSON, &got); err != nil {
					t.Fatal(err)
				}
			}
		}
		wantJSON, _ := json.Marshal(want)
		var wantAny any
		json.Unmarshal(wantJSON, &wantAny)
		if !found || !reflect.DeepEqual(got, wantAny) {
			t.Errorf("field %s = %v (set: %v), want %v", key, got, found, wantAny)
		}
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type byteReader struct {
	b []byte
	i int
}

func (r *byteReader) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}

func bytesReader(b []byte) io.Reader { return &byteReader{b: b} }
