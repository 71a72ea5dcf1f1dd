package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

var ruleKeys = []string{"id", "description", "when", "exempt", "limit", "action", "reply", "rewrite", "mode",
	"active", "on_error", "tests", "strikes", "consequences", "rejected_reply"}

// rules reads the list of rules, in order.
func (p *parser) rules(n *yaml.Node, deviceKey string) {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "rules: must be a list of rules")
		return
	}
	if len(n.Content) > MaxRules {
		p.errorf(n, "rules: %d rules is more than the %d a file may hold", len(n.Content), MaxRules)
		return
	}
	seen := map[string]int{} // ids, and the line of the rule that took each
	for i, rn := range n.Content {
		if r := p.rule(rn, i, seen, deviceKey); r != nil {
			p.set.Rules = append(p.set.Rules, r)
		}
	}
	p.ruleID = ""
}

// rule reads the i-th rule. It returns nil for a rule that is not even a
// mapping; a rule with problems is still returned, its problems noted.
func (p *parser) rule(rn *yaml.Node, i int, seen map[string]int, deviceKey string) *Rule {
	problemsBefore := len(p.problems)
	p.incomplete = false
	// Name the rule in every message about it, even those found before its
	// id is read; only a rule without an id is named by position.
	p.ruleID = peekID(rn)
	where := fmt.Sprintf("rules[%d]", i)
	if p.ruleID != "" {
		where = "rule"
	}
	m := p.mapping(rn, where, ruleKeys...)
	if m == nil {
		return nil
	}
	r := &Rule{Line: rn.Line, OnError: ActionAllow}
	p.id(rn, m, where, seen, r)
	if v, ok := m["description"]; ok {
		r.Description, _ = p.str(v, "description")
	}
	p.ruleAction(rn, m, r)
	p.ruleConditions(m, r)
	if v, ok := m["limit"]; ok {
		r.Limit = p.limit(v, deviceKey)
	}
	if v, ok := m["mode"]; ok {
		r.Mode = p.mode(v)
	}
	if v, ok := m["active"]; ok {
		r.Active = p.window(v)
	}
	if v, ok := m["on_error"]; ok {
		p.onError(v, r)
	}
	p.ruleRewrite(rn, m, r)
	if v, ok := m["reply"]; ok {
		p.reply(v, r)
	}
	p.ruleSanctions(m, r)
	p.checkMask(rn, m, r)
	// Examples run only on a rule compiled whole: one with a problem of its
	// own, or that names a broken list, would fail them for nothing.
	if v, ok := m["tests"]; ok && len(p.problems) == problemsBefore && !p.incomplete {
		p.tests(v, r)
	}
	return r
}

// id reads a rule's id: present, well formed and not taken by an earlier
// rule.
func (p *parser) id(rn *yaml.Node, m map[string]*yaml.Node, where string, seen map[string]int, r *Rule) {
	v, ok := m["id"]
	if !ok {
		p.errorf(rn, "%s: id: missing", where)
		return
	}
	id, ok := p.str(v, strings.TrimPrefix(where+".id", "rule."))
	if !ok {
		return
	}
	r.ID = id
	if !idPattern.MatchString(id) {
		p.errorf(v, "id: %q must be letters, digits, '-', '_' or '.', at most 64", id)
	} else if line, dup := seen[id]; dup {
		p.errorf(v, "id: %q is already used by the rule on line %d", id, line)
	}
	seen[id] = rn.Line
}

func (p *parser) ruleAction(rn *yaml.Node, m map[string]*yaml.Node, r *Rule) {
	v, ok := m["action"]
	if !ok {
		p.errorf(rn, "action: missing (one of: %s)", strings.Join(actionNames(), ", "))
		return
	}
	s, ok := p.str(v, "action")
	if !ok {
		return
	}
	a, ok := ParseAction(s)
	if !ok {
		p.errorf(v, "action: %q is not an action (one of: %s)", s, strings.Join(actionNames(), ", "))
	}
	r.Action = a
}

// ruleConditions reads when and exempt (`exempt: none` applies the rule to
// everyone, the settings' exemption notwithstanding).
func (p *parser) ruleConditions(m map[string]*yaml.Node, r *Rule) {
	if v, ok := m["when"]; ok {
		r.When = p.cond(v, "when", 0)
	}
	if v, ok := m["exempt"]; ok {
		if s := resolve(v); s.Kind == yaml.ScalarNode && s.Value == "none" {
			r.Exempt = noExempt{}
		} else {
			r.Exempt = p.cond(v, "exempt", 0)
		}
	}
	r.textTests = textTests(r.When) + textTests(r.Exempt)
}

func (p *parser) mode(v *yaml.Node) Mode {
	s, ok := p.str(v, "mode")
	if !ok {
		return ModeEnforce
	}
	switch s {
	case "enforce":
	case "observe":
		return ModeObserve
	default:
		p.errorf(v, "mode: %q is not enforce or observe", s)
	}
	return ModeEnforce
}

func (p *parser) onError(v *yaml.Node, r *Rule) {
	s, ok := p.str(v, "on_error")
	if !ok {
		return
	}
	a, ok := ParseAction(s)
	if !ok || (a != ActionAllow && a != ActionReject && a != ActionHold) {
		p.errorf(v, "on_error: %q is not allow, reject or hold", s)
	}
	r.OnError, r.OnErrorSet = a, true
}

// ruleRewrite reads rewrite, which goes with the rewrite action and only
// with it.
func (p *parser) ruleRewrite(rn *yaml.Node, m map[string]*yaml.Node, r *Rule) {
	v, ok := m["rewrite"]
	switch {
	case ok && r.Action != ActionRewrite:
		p.errorf(v, "rewrite: only a rule whose action is rewrite rewrites")
	case ok:
		r.Rewrite = p.rewrite(v)
	case r.Action == ActionRewrite:
		p.errorf(rn, "rewrite: missing: say what the rule changes")
	}
}

func (p *parser) reply(v *yaml.Node, r *Rule) {
	s, ok := p.str(v, "reply")
	if !ok {
		return
	}
	if r.Action != ActionReject && r.Action != ActionHold && r.OnError != ActionReject && r.OnError != ActionHold {
		p.errorf(v, "reply: only a rule that rejects or holds sends a reply")
		return
	}
	t, err := parseTemplate(s)
	if err != nil {
		p.errorf(v, "reply: %v", err)
		return
	}
	if r.Limit == nil && (t.Uses("limit.count") || t.Uses("limit.per") || t.Uses("retry_after")) {
		p.errorf(v, "reply: {{limit.count}}, {{limit.per}} and {{retry_after}} need a `limit` on the rule")
	}
	r.Reply = t
}

// checkMask reports a mask rule with nothing to mask: one whose condition
// finds no spans of the text.
func (p *parser) checkMask(rn *yaml.Node, m map[string]*yaml.Node, r *Rule) {
	if r.Action != ActionMask {
		return
	}
	when, ok := m["when"]
	switch {
	case !ok:
		p.errorf(rn, "when: a mask rule needs a `contains` or `matches` on text")
	case r.When != nil && !masksText(r.When):
		p.errorf(when, "when: a mask rule needs a `contains` or `matches` on text: there is nothing to mask")
	}
}

// masksText reports whether a condition can yield spans of the text.
func masksText(c Condition) bool {
	switch c := c.(type) {
	case *containsCond:
		return c.f.text
	case *matchesCond:
		return c.f.text
	case allOf:
		return slices.ContainsFunc(c, masksText)
	case anyOf:
		return slices.ContainsFunc(c, masksText)
	}
	return false
}

// window reads when a rule is active.
func (p *parser) window(n *yaml.Node) Window {
	m := p.mapping(n, "active", "from", "until")
	var w Window
	read := func(key string) time.Time {
		v, ok := m[key]
		if !ok {
			return time.Time{}
		}
		s, ok := p.str(v, "active."+key)
		if !ok {
			return time.Time{}
		}
		for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t
			}
		}
		p.errorf(v, "active.%s: %q is not a time such as 2026-12-24 or 2026-12-24T18:00:00Z", key, s)
		return time.Time{}
	}
	w.From, w.Until = read("from"), read("until")
	if !w.From.IsZero() && !w.Until.IsZero() && !w.Until.After(w.From) {
		p.errorf(n, "active: until must come after from")
	}
	return w
}
