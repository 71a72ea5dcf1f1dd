package rules

import (
	"encoding/json"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxExamples bounds the `tests` examples of one rule, in match and in
// no_match each.
const MaxExamples = 100

// tests runs a rule's `tests` examples against its `when` when the file is
// loaded: every `match` example must meet the condition and no `no_match`
// example may. Exemptions, limits, schedules and modes are not part of it.
// An example is a text, or a mapping shaped like a hook payload whose
// `text` key is a shortcut for message.text:
//
//	tests:
//	  match: ["you n1gg@", {text: "hi", user: {role: guest}}]
//	  no_match: ["a niggling doubt"]
func (p *parser) tests(n *yaml.Node, r *Rule) {
	m := p.mapping(n, "tests", "match", "no_match")
	for _, key := range []string{"match", "no_match"} {
		v, ok := m[key]
		if !ok {
			continue
		}
		list := resolve(v)
		if list.Kind != yaml.SequenceNode {
			p.errorf(v, "tests.%s: must be a list of examples", key)
			continue
		}
		if len(list.Content) > MaxExamples {
			p.errorf(v, "tests.%s: more than %d examples", key, MaxExamples)
			continue
		}
		for i, ex := range list.Content {
			in, label, err := exampleInput(ex, p.now())
			if err != nil {
				p.errorf(ex, "tests.%s[%d]: %v", key, i, err)
				continue
			}
			matched := true
			if r.When != nil {
				_, t := r.When.Match(in, nil)
				matched = t == True
			}
			in.Text.Release()
			switch {
			case key == "match" && !matched:
				p.errorf(ex, "tests.match[%d]: %s does not match the rule, but should", i, label)
			case key == "no_match" && matched:
				p.errorf(ex, "tests.no_match[%d]: %s matches the rule, but should not", i, label)
			}
		}
	}
}

func exampleInput(n *yaml.Node, now time.Time) (*Input, string, error) {
	n = resolve(n)
	in := &Input{Hook: "before_send", Now: now}
	if n.Kind == yaml.ScalarNode {
		in.Text = Analyze(n.Value)
		in.Message, _ = json.Marshal(map[string]string{"text": n.Value})
		return in, fmt.Sprintf("%q", n.Value), nil
	}
	var ex map[string]any
	if err := n.Decode(&ex); err != nil {
		return nil, "", fmt.Errorf("an example is a text or a mapping: %w", err)
	}
	msg, _ := ex["message"].(map[string]any)
	if msg == nil {
		msg = map[string]any{}
	}
	if text, ok := ex["text"]; ok {
		msg["text"] = text
	}
	text, _ := msg["text"].(string)
	in.Text = Analyze(text)
	var err error
	encode := func(key string) []byte {
		v, ok := ex[key]
		if !ok || err != nil {
			return nil
		}
		var b []byte
		b, err = json.Marshal(jsonable(v))
		return b
	}
	in.Message, err = json.Marshal(jsonable(msg))
	in.User = encode("user")
	in.Channel = encode("channel")
	in.RequestInfo = encode("request_info")
	in.Metadata = encode("metadata")
	if h, ok := ex["hook"].(string); ok {
		in.Hook = h
	}
	for key := range ex {
		switch key {
		case "text", "message", "user", "channel", "request_info", "metadata", "hook":
		default:
			in.Text.Release()
			return nil, "", fmt.Errorf("unknown key %q in an example (text, message, user, channel, request_info, metadata, hook)", key)
		}
	}
	if err != nil {
		in.Text.Release()
		return nil, "", err
	}
	return in, fmt.Sprintf("%q", text), nil
}
