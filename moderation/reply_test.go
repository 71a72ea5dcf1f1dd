package moderation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
	"github.com/modgate/modgate/storage"
)

// TestReplyMatchOfLinkAndFieldRules: {{match}} says what met a rule that
// does not look at the words of the text: the link, the field's value, the
// address.
func TestReplyMatchOfLinkAndFieldRules(t *testing.T) {
	t.Parallel()
	src := `version: 1
lists:
  spam: {terms: [spam.xyz]}
  ok: {terms: [example.com]}
rules:
  - id: spam-link
    when: {links: {in: [list.spam]}}
    action: reject
    reply: "{{match}} is not allowed here"
  - id: off-list-link
    when: {links: {not_in: [list.ok]}}
    action: reject
    reply: "only our own links: not {{match}}"
  - id: role
    when: {user.role: {in: [guest]}}
    action: hold
    reply: "a {{match}} waits"
  - id: network
    when: {request_info.ip: {in_cidr: [203.0.113.0/24]}}
    action: reject
    reply: "not from {{match}}"
  - id: name-word
    when: {user.name: {contains: [badname]}}
    action: reject
    reply: "not as {{match}}"
  - id: name-pattern
    when: {user.nick: {matches: 'x{3,}'}}
    action: reject
    reply: "not as {{match}}"
`
	e := moderation.NewEngine(mustSet(t, src), moderation.EngineOptions{})
	cases := []struct {
		name, text, user, info, want string
	}{
		{"a listed link", "buy at https://www.spam.xyz/now", `{"id":"u"}`, `{}`, "spam.xyz is not allowed here"},
		{"a link off the list", "see example.com and https://other.org/x", `{"id":"u"}`, `{}`, "only our own links: not other.org"},
		{"a field", "hello", `{"id":"u","role":"guest"}`, `{}`, "a guest waits"},
		{"an address", "hello", `{"id":"u"}`, `{"ip":"203.0.113.7"}`, "not from 203.0.113.7"},
		{"words of a field", "hello", `{"id":"u","name":"the B.A.D.N.A.M.E one"}`, `{}`, "not as B.A.D.N.A.M.E"},
		{"a pattern on a field", "hello", `{"id":"u","nick":"axxxxb"}`, `{}`, "not as axxxxb"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg := &moderation.Message{Text: tc.text, Object: []byte(`{"text":"x"}`), User: []byte(tc.user), RequestInfo: []byte(tc.info)}
			v, _ := e.Evaluate(context.Background(), msg, moderation.Options{})
			if !v.Refused() || v.Reply != tc.want {
				t.Fatalf("%s %q, want %q", v.Action, v.Reply, tc.want)
			}
		})
	}
}

// TestReplyWhenStateIsUnreachable: a limit rule whose on_error refuses
// cannot know when the sender may write again, and says so.
func TestReplyWhenStateIsUnreachable(t *testing.T) {
	t.Parallel()
	src := `version: 1
rules:
  - id: flood
    limit: {count: 1, per: 10s, by: user}
    action: reject
    on_error: reject
    reply: "Sorry {{user.name}}, at most {{limit.count}} every {{limit.per}}. Try again in {{retry_after}}."
`
	now := time.Now().UTC().Truncate(time.Second)
	state := &countingState{State: storage.NewMemory(storage.MemoryOptions{})}
	e := moderation.NewEngine(mustSet(t, src), moderation.EngineOptions{Now: func() time.Time { return now }, State: state})
	msg := &moderation.Message{Text: "hi", Object: []byte(`{"text":"hi"}`), User: []byte(`{"id":"u1"}`)}
	e.Evaluate(context.Background(), msg, moderation.Options{})
	if v, _ := e.Evaluate(context.Background(), msg, moderation.Options{}); v.Reply != "Sorry, at most 1 every 10 seconds. Try again in 10 seconds." {
		t.Fatalf("past the limit: %q", v.Reply)
	}
	state.fail = errors.New("redis: connection refused")
	v, _ := e.Evaluate(context.Background(), msg, moderation.Options{})
	if v.Action != rules.ActionReject || v.Reply != "Sorry, at most 1 every 10 seconds. Try again in a little while." {
		t.Fatalf("state down: %s %q", v.Action, v.Reply)
	}
}
