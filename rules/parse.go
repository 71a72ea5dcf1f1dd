package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Language limits.
const (
	MaxRegexLength = 1000 // bytes of one `matches` pattern
	MaxCondDepth   = 20   // nesting of all/any/not
	MaxExamples    = 100  // `tests` examples of one rule
)

// Limit keys a `by` may name.
var limitKeys = []string{"user", "channel", "ip", "device", "text"}

type compiler struct {
	set      *Set
	matchers map[string]*Matcher
	sets     map[string]map[string]struct{} // the sets of equals, in and not_in, by what they name
	networks map[string][]netip.Prefix      // the networks of in_cidr, likewise
}

func (p *parser) document(doc *yaml.Node) *Set {
	set := &Set{Settings: defaultSettings(), lists: map[string]*List{}}
	if len(doc.Content) == 0 {
		p.errorf(nil, "the file is empty: it needs at least `version: 1` and `rules:`")
		return set
	}
	top := p.mapping(doc, "top level", "version", "settings", "lists", "rules")
	if top == nil {
		return set
	}
	if v, ok := top["version"]; !ok {
		p.errorf(resolve(doc), "version: missing; write `version: 1` at the top")
	} else if s, ok := p.str(v, "version"); ok && s != "1" {
		p.errorf(v, "version: %q is not supported (this modgate reads version 1)", s)
	}
	c := &compiler{set: set, matchers: map[string]*Matcher{}, sets: map[string]map[string]struct{}{},
		networks: map[string][]netip.Prefix{}}
	if n, ok := top["lists"]; ok {
		p.lists(n, set)
	}
	deviceKey := "device-id"
	if n, ok := top["settings"]; ok {
		deviceKey = p.settings(n, &set.Settings, c)
	}
	n, ok := top["rules"]
	if !ok {
		p.errorf(resolve(doc), "rules: missing")
		return set
	}
	p.rules(n, c, deviceKey)
	return set
}

func (p *parser) settings(n *yaml.Node, s *Settings, c *compiler) (deviceKey string) {
	deviceKey = "device-id"
	m := p.mapping(n, "settings", "reject_reply", "hold_reply", "exempt", "flag_field", "device_key", "allow_censored")
	if v, ok := m["allow_censored"]; ok {
		s.AllowCensored, _ = p.boolean(v, "settings.allow_censored")
	}
	if v, ok := m["reject_reply"]; ok {
		if r, ok := p.str(v, "settings.reject_reply"); ok {
			s.RejectReply = r
		}
	}
	if v, ok := m["hold_reply"]; ok {
		if r, ok := p.str(v, "settings.hold_reply"); ok {
			s.HoldReply = r
		}
	}
	if v, ok := m["flag_field"]; ok {
		if r, ok := p.str(v, "settings.flag_field"); ok {
			switch {
			case !idPattern.MatchString(r):
				p.errorf(v, "settings.flag_field: %q is not a usable field name", r)
			case contains(messageFields, strings.ToLower(r)):
				p.errorf(v, "settings.flag_field: %q is a field of Stream's messages or of modgate's, which every answer "+
					"would overwrite; name a custom field such as %s", r, DefaultFlagField)
			}
			s.FlagField = r
		}
	}
	if v, ok := m["device_key"]; ok {
		if r, ok := p.str(v, "settings.device_key"); ok {
			deviceKey = r
		}
	}
	if v, ok := m["exempt"]; ok {
		s.Exempt = p.cond(v, "settings.exempt", c, 0)
	}
	return deviceKey
}

// messageFields are the fields of a Stream message that the flag field may
// not name, since every answer and every approved pending message sets the
// flag field: Stream's own fields (compared without case, as Stream's JSON
// decoder may match them) and modgate's approval marker.
var messageFields = []string{"id", "text", "html", "mml", "type", "user", "user_id", "cid", "channel", "member",
	"created_at", "updated_at", "deleted_at", "message_text_updated_at", "silent", "show_in_channel", "attachments",
	"mentioned_users", "mentioned_channel", "parent_id", "quoted_message_id", "quoted_message", "thread_participants",
	"reply_count", "deleted_reply_count", "latest_reactions", "own_reactions", "reaction_counts", "reaction_scores",
	"reaction_groups", "pinned", "pinned_at", "pinned_by", "pin_expires", "i18n", "image_labels", "shadowed",
	"command", "args", "poll_id", "poll", "restricted_visibility", "before_message_send_failed", "moderation",
	"moderation_details", "pending", "pending_message_metadata", "reminder", "shared_location", "draft",
	"modgate_approval"}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

var ruleKeys = []string{"id", "description", "when", "exempt", "limit", "action", "reply", "rewrite", "mode",
	"active", "on_error", "tests"}

func (p *parser) rules(n *yaml.Node, c *compiler, deviceKey string) {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "rules: must be a list of rules")
		return
	}
	if len(n.Content) > MaxRules {
		p.errorf(n, "rules: %d rules is more than the %d a file may hold", len(n.Content), MaxRules)
		return
	}
	seen := map[string]int{}
	for i, rn := range n.Content {
		problemsBefore := len(p.problems)
		p.incomplete = false
		// Name the rule in every message about it, even those found before
		// its id is read; only a rule without an id is named by position.
		p.rule = peekID(rn)
		where := fmt.Sprintf("rules[%d]", i)
		if p.rule != "" {
			where = "rule"
		}
		m := p.mapping(rn, where, ruleKeys...)
		if m == nil {
			continue
		}
		r := &Rule{Line: rn.Line, OnError: ActionAllow}
		if v, ok := m["id"]; !ok {
			p.errorf(rn, "%s: id: missing", where)
		} else if id, ok := p.str(v, strings.TrimPrefix(where+".id", "rule.")); ok {
			r.ID = id
			if !idPattern.MatchString(id) {
				p.errorf(v, "id: %q must be letters, digits, '-', '_' or '.', at most 64", id)
			} else if line, dup := seen[id]; dup {
				p.errorf(v, "id: %q is already used by the rule on line %d", id, line)
			}
			seen[id] = rn.Line
		}
		if v, ok := m["description"]; ok {
			r.Description, _ = p.str(v, "description")
		}
		p.ruleAction(rn, m, r)
		if v, ok := m["when"]; ok {
			r.When = p.cond(v, "when", c, 0)
		}
		if v, ok := m["exempt"]; ok {
			if s := resolve(v); s.Kind == yaml.ScalarNode && s.Value == "none" {
				r.Exempt = noExempt{}
			} else {
				r.Exempt = p.cond(v, "exempt", c, 0)
			}
		}
		r.textTests = textTests(r.When) + textTests(r.Exempt)
		if v, ok := m["limit"]; ok {
			r.Limit = p.limit(v, deviceKey)
		}
		if v, ok := m["mode"]; ok {
			if s, ok := p.str(v, "mode"); ok {
				switch s {
				case "enforce":
				case "observe":
					r.Mode = ModeObserve
				default:
					p.errorf(v, "mode: %q is not enforce or observe", s)
				}
			}
		}
		if v, ok := m["active"]; ok {
			r.Active = p.window(v)
		}
		if v, ok := m["on_error"]; ok {
			if s, ok := p.str(v, "on_error"); ok {
				a, ok := ParseAction(s)
				if !ok || (a != ActionAllow && a != ActionReject && a != ActionHold) {
					p.errorf(v, "on_error: %q is not allow, reject or hold", s)
				}
				r.OnError, r.OnErrorSet = a, true
			}
		}
		if v, ok := m["rewrite"]; ok {
			if r.Action != ActionRewrite {
				p.errorf(v, "rewrite: only a rule whose action is rewrite rewrites")
			} else {
				r.Rewrite = p.rewrite(v, c)
			}
		} else if r.Action == ActionRewrite {
			p.errorf(rn, "rewrite: missing: say what the rule changes")
		}
		if v, ok := m["reply"]; ok {
			p.reply(v, r)
		}
		if r.Action == ActionMask && r.When != nil && !masksText(r.When) {
			p.errorf(m["when"], "when: a mask rule needs a `contains` or `matches` on text: there is nothing to mask")
		}
		if _, hasWhen := m["when"]; r.Action == ActionMask && !hasWhen {
			p.errorf(rn, "when: a mask rule needs a `contains` or `matches` on text")
		}
		// Examples run only on a rule compiled whole: one with a problem of
		// its own, or that names a broken list, would fail them for nothing.
		if v, ok := m["tests"]; ok && len(p.problems) == problemsBefore && !p.incomplete {
			p.tests(v, r)
		}
		c.set.Rules = append(c.set.Rules, r)
	}
	p.rule = ""
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

// masksText reports whether a condition can yield spans of the text.
func masksText(c Condition) bool {
	switch c := c.(type) {
	case *containsCond:
		return c.f.text
	case *matchesCond:
		return c.f.text
	case allOf:
		for _, sub := range c {
			if masksText(sub) {
				return true
			}
		}
	case anyOf:
		for _, sub := range c {
			if masksText(sub) {
				return true
			}
		}
	}
	return false
}

func (p *parser) limit(n *yaml.Node, deviceKey string) *Limit {
	m := p.mapping(n, "limit", "count", "per", "by")
	if m == nil {
		return nil
	}
	l := &Limit{Device: deviceKey}
	if v, ok := m["count"]; !ok {
		p.errorf(n, "limit.count: missing")
	} else if s, ok := p.str(v, "limit.count"); ok {
		c, err := strconv.Atoi(s)
		if err != nil || c < 1 || c > 1_000_000 {
			p.errorf(v, "limit.count: %q is not a whole number from 1 to 1000000", s)
		}
		l.Count = c
	}
	if v, ok := m["per"]; !ok {
		p.errorf(n, "limit.per: missing")
	} else if s, ok := p.str(v, "limit.per"); ok {
		d, err := ParseDuration(s)
		switch {
		case err != nil:
			p.errorf(v, "limit.per: %v", err)
		case d < time.Second || d > 30*24*time.Hour:
			p.errorf(v, "limit.per: %q must be from 1s to 30d", s)
		}
		l.Per = d
	}
	l.By = []string{"user"}
	if v, ok := m["by"]; ok {
		l.By = p.strs(v, "limit.by")
		seen := map[string]bool{}
		for _, b := range l.By {
			if !contains(limitKeys, b) {
				p.errorf(v, "limit.by: %q is not one of %s", b, strings.Join(limitKeys, ", "))
			}
			if seen[b] {
				p.errorf(v, "limit.by: %q is named twice", b)
			}
			seen[b] = true
		}
		if len(l.By) == 0 {
			p.errorf(v, "limit.by: name at least one of %s", strings.Join(limitKeys, ", "))
		}
	}
	return l
}

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

func (p *parser) rewrite(n *yaml.Node, c *compiler) *Rewrite {
	m := p.mapping(n, "rewrite", "replace", "strip_links", "lowercase", "silent", "show_in_channel", "set")
	if m == nil {
		return nil
	}
	rw := &Rewrite{}
	boolean := func(key string) *bool {
		v, ok := m[key]
		if !ok {
			return nil
		}
		b, ok := p.boolean(v, "rewrite."+key)
		if !ok {
			return nil
		}
		return &b
	}
	if b := boolean("strip_links"); b != nil {
		rw.StripLinks = *b
	}
	if b := boolean("lowercase"); b != nil {
		rw.Lowercase = *b
	}
	rw.Silent = boolean("silent")
	rw.ShowInChannel = boolean("show_in_channel")
	if v, ok := m["replace"]; ok {
		pairs := p.mapping(v, "rewrite.replace")
		rw.Replacements = map[string]string{}
		var terms []Term
		for _, kv := range orderedPairs(resolve(v)) {
			if _, ok := pairs[kv[0].Value]; !ok {
				continue
			}
			to, ok := p.str(kv[1], "rewrite.replace."+kv[0].Value)
			if !ok {
				continue
			}
			if _, err := parseTerm(kv[0].Value); err != nil {
				p.errorf(kv[0], "rewrite.replace: term %q: %v", kv[0].Value, err)
				continue
			}
			rw.Replacements[kv[0].Value] = to
			terms = append(terms, Term{Text: kv[0].Value})
		}
		if len(terms) > 0 {
			mt, err := NewMatcher(terms)
			if err != nil {
				p.errorf(v, "rewrite.replace: %v", err)
			}
			rw.Replace = mt
		}
	}
	if v, ok := m["set"]; ok {
		p.mapping(v, "rewrite.set")
		for _, kv := range orderedPairs(resolve(v)) {
			key := kv[0].Value
			if !idPattern.MatchString(key) || contains(reservedFields, key) {
				p.errorf(kv[0], "rewrite.set: %q is not a custom field modgate may set (Stream's own fields: text, silent and show_in_channel have their own keys)", key)
				continue
			}
			var val any
			if err := kv[1].Decode(&val); err != nil {
				p.errorf(kv[1], "rewrite.set.%s: %v", key, err)
				continue
			}
			js, err := json.Marshal(jsonable(val))
			if err != nil {
				p.errorf(kv[1], "rewrite.set.%s: cannot be written as JSON: %v", key, err)
				continue
			}
			rw.Set = append(rw.Set, FieldValue{Key: key, JSON: js})
		}
	}
	if !rw.ChangesText() && rw.Silent == nil && rw.ShowInChannel == nil && len(rw.Set) == 0 {
		p.errorf(n, "rewrite: changes nothing")
	}
	return rw
}

// reservedFields are fields of a Stream message that rewrite.set may not
// touch: Stream ignores or owns them.
var reservedFields = []string{"id", "text", "html", "type", "user", "user_id", "cid", "created_at", "updated_at",
	"deleted_at", "silent", "show_in_channel", "attachments", "mentioned_users", "parent_id", "i18n", "command", "args"}

// jsonable turns YAML-decoded maps (map[string]any is what yaml.v3 gives
// for string keys) into values encoding/json accepts.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = jsonable(x)
		}
		return v
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[fmt.Sprint(k)] = jsonable(x)
		}
		return out
	case []any:
		for i, x := range v {
			v[i] = jsonable(x)
		}
	}
	return v
}

func orderedPairs(n *yaml.Node) [][2]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([][2]*yaml.Node, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
	}
	return out
}

// cond reads a condition: a mapping of fields to tests, and the combinators
// all, any and not. Several keys in one mapping must all hold.
func (p *parser) cond(n *yaml.Node, path string, c *compiler, depth int) Condition {
	n = resolve(n)
	if depth > MaxCondDepth {
		p.errorf(n, "%s: nested deeper than %d", path, MaxCondDepth)
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: must be a mapping of fields to tests (or all, any, not)", path)
		return nil
	}
	if len(n.Content) == 0 {
		p.errorf(n, "%s: is empty; leave it out to match every message", path)
		return nil
	}
	var conds []Condition
	seen := map[string]bool{}
	for _, kv := range orderedPairs(n) {
		key, v := kv[0].Value, kv[1]
		if seen[key] {
			p.errorf(kv[0], "%s: key %q is repeated", path, key)
			continue
		}
		seen[key] = true
		var sub Condition
		switch key {
		case "all", "any":
			list := resolve(v)
			if list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
				p.errorf(v, "%s.%s: must be a list of conditions", path, key)
				continue
			}
			var subs []Condition
			for i, item := range list.Content {
				if s := p.cond(item, fmt.Sprintf("%s.%s[%d]", path, key, i), c, depth+1); s != nil {
					subs = append(subs, s)
				}
			}
			if len(subs) != len(list.Content) {
				continue
			}
			if key == "all" {
				sub = cheapestFirst(subs)
			} else {
				sub = anyOf(cheapestFirst(subs))
			}
		case "not":
			if s := p.cond(v, path+".not", c, depth+1); s != nil {
				sub = notCond{s}
			}
		default:
			f, ok := resolveField(key)
			if !ok {
				p.errorf(kv[0], "%s: unknown field %q (fields start with %s, or are one of %s; or use all, any, not)",
					path, key, strings.Join(fieldRoots, ", "), strings.Join(derivedFields, ", "))
				continue
			}
			sub = p.fieldCond(f, v, path+"."+key, c)
		}
		if sub != nil {
			conds = append(conds, sub)
		}
	}
	switch {
	case len(conds) == 0:
		return nil
	case len(conds) == 1:
		return conds[0]
	}
	return cheapestFirst(conds)
}

var operators = []string{"contains", "except", "matches", "equals", "in", "not_in", "over", "under",
	"count_over", "count_under", "in_cidr", "exists", "or_empty"}

// fieldCond reads the tests on one field. A bare value means `equals`, a
// bare list `in`.
func (p *parser) fieldCond(f field, n *yaml.Node, path string, c *compiler) Condition {
	n = resolve(n)
	switch n.Kind {
	case yaml.ScalarNode:
		return p.setOp(f, n, path, c, false, false)
	case yaml.SequenceNode:
		return p.setOp(f, n, path, c, false, false)
	case yaml.MappingNode:
	default:
		p.errorf(n, "%s: must be a value, a list, or a mapping of tests", path)
		return nil
	}
	m := p.mapping(n, path, operators...)
	if m == nil {
		return nil
	}
	if len(m) == 0 {
		p.errorf(n, "%s: names no test (one of: %s)", path, strings.Join(operators, ", "))
		return nil
	}
	var conds []Condition
	add := func(c Condition) {
		if c != nil {
			conds = append(conds, c)
		}
	}
	orEmpty := false
	if v, ok := m["or_empty"]; ok {
		orEmpty, _ = p.boolean(v, path+".or_empty")
		if m["equals"] == nil && m["in"] == nil && m["not_in"] == nil {
			p.errorf(v, "%s.or_empty: goes with equals, in or not_in", path)
		}
	}
	for _, kv := range orderedPairs(n) {
		op, v := kv[0].Value, kv[1]
		if _, ok := m[op]; !ok {
			continue
		}
		at := path + "." + op
		switch op {
		case "contains":
			cc := &containsCond{f: f, terms: p.matcher(v, at, c)}
			if e, ok := m["except"]; ok {
				cc.except = p.matcher(e, path+".except", c)
			}
			if cc.terms != nil {
				add(cc)
			}
		case "except":
			if _, ok := m["contains"]; !ok {
				p.errorf(kv[0], "%s: `except` goes with `contains`", path)
			}
		case "matches":
			add(p.matchesOp(f, v, at))
		case "equals", "in":
			add(p.setOp(f, v, at, c, false, orEmpty))
		case "not_in":
			add(p.setOp(f, v, at, c, true, orEmpty))
		case "over", "under", "count_over", "count_under":
			add(p.compareOp(f, v, at, op == "over" || op == "count_over"))
		case "in_cidr":
			add(p.cidrOp(f, v, at, c))
		case "exists":
			if b, ok := p.boolean(v, at); ok {
				add(&existsCond{f: f, want: b})
			}
		}
	}
	switch len(conds) {
	case 0:
		return nil
	case 1:
		return conds[0]
	}
	return cheapestFirst(conds)
}

func (p *parser) matchesOp(f field, v *yaml.Node, path string) Condition {
	s, ok := p.str(v, path)
	if !ok {
		return nil
	}
	if len(s) > MaxRegexLength {
		p.errorf(v, "%s: the pattern is longer than %d bytes", path, MaxRegexLength)
		return nil
	}
	pat, warning, err := compilePattern(s)
	if err != nil {
		p.errorf(v, "%s: %q is not a valid RE2 regular expression: %v", path, s, unwrapRegexp(err))
		return nil
	}
	if warning != "" {
		p.warnf(v, "%s: %s", path, warning)
	}
	return &matchesCond{f: f, p: pat}
}

func unwrapRegexp(err error) string {
	var e *syntax.Error
	if errors.As(err, &e) {
		return e.Code.String() + " " + strconv.Quote(e.Expr)
	}
	return err.Error()
}

// setOp reads equals, in and not_in: a value or list of values, where
// `list.NAME` stands for a list's terms. Conditions naming the same values
// share one set, however many rules name a long list.
func (p *parser) setOp(f field, v *yaml.Node, path string, c *compiler, negate, orEmpty bool) Condition {
	items := p.setItems(f, v, path)
	if len(items) == 0 {
		return nil
	}
	domains := f.path == "links"
	key := strings.Join(items, "\x00")
	if domains {
		key = "links\x00" + key
	}
	set, shared := c.sets[key]
	if !shared {
		set = map[string]struct{}{}
		for _, item := range items {
			if name, isList := strings.CutPrefix(item, "list."); isList {
				list := p.useList(v, path, name, c)
				if list == nil {
					continue
				}
				for _, t := range list.Terms {
					set[normaliseSetItem(f, t)] = struct{}{}
				}
				continue
			}
			set[normaliseSetItem(f, item)] = struct{}{}
		}
		c.sets[key] = set
	} else {
		for _, item := range items {
			if name, isList := strings.CutPrefix(item, "list."); isList {
				p.useList(v, path, name, c)
			}
		}
	}
	return &setCond{f: f, set: set, negate: negate, domains: domains, orEmpty: orEmpty}
}

// setItems reads the values of an equals, in or not_in: one, or a list.
func (p *parser) setItems(f field, v *yaml.Node, path string) []string {
	v = resolve(v)
	var nodes []*yaml.Node
	switch v.Kind {
	case yaml.ScalarNode:
		nodes = []*yaml.Node{v}
	case yaml.SequenceNode:
		nodes = v.Content
	default:
		p.errorf(v, "%s: must be a list", path)
		return nil
	}
	out := make([]string, 0, len(nodes))
	for i, n := range nodes {
		at := path
		if v.Kind == yaml.SequenceNode {
			at = fmt.Sprintf("%s[%d]", path, i)
		}
		if s, ok := p.setItem(f, n, at); ok {
			out = append(out, s)
		}
	}
	return out
}

// useList returns the list a condition names, or nil: unknown (reported
// here), or broken (reported at the list, and the rule is incomplete).
func (p *parser) useList(n *yaml.Node, path, name string, c *compiler) *List {
	list, found := c.set.lists[name]
	switch {
	case !found:
		p.errorf(n, "%s: unknown list %q (lists: %s)", path, name, strings.Join(c.set.listNames(), ", "))
		return nil
	case list.broken:
		p.incomplete = true
		return nil
	}
	return list
}

func normaliseSetItem(f field, s string) string {
	if f.path == "links" {
		return domainOf(s)
	}
	// A number written in the file compares with numbers in the payload.
	if n, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(n, 0) && !math.IsNaN(n) {
		return strconv.FormatFloat(n, 'f', -1, 64)
	}
	return s
}

// compareOp reads over and under: a number, a percentage ("70%"), a
// duration ("24h", "7d") or a size ("64KiB").
func (p *parser) compareOp(f field, v *yaml.Node, path string, over bool) Condition {
	s, ok := p.str(v, path)
	if !ok {
		return nil
	}
	want := "number"
	switch f.path {
	case "user.account_age":
		want = "duration"
	case "text.caps_ratio":
		want = "ratio"
	case "text", "hook":
		p.errorf(v, "%s: %s is text; compare text.length instead", path, f.path)
		return nil
	}
	n, err := parseQuantity(s, want)
	if err != nil {
		p.errorf(v, "%s: %v", path, err)
		return nil
	}
	return &compareCond{f: f, limit: n, over: over}
}

func parseQuantity(s, want string) (float64, error) {
	s = strings.TrimSpace(s)
	switch want {
	case "duration":
		d, err := ParseDuration(s)
		if err != nil {
			return 0, err
		}
		return d.Seconds(), nil
	case "ratio":
		if pct, ok := strings.CutSuffix(s, "%"); ok {
			n, err := strconv.ParseFloat(pct, 64)
			if err != nil || n < 0 || n > 100 {
				return 0, fmt.Errorf("%q is not a percentage from 0%% to 100%%", s)
			}
			return n / 100, nil
		}
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || n < 0 || n > 1 {
			return 0, fmt.Errorf("%q is not a ratio from 0 to 1 or a percentage such as 70%%", s)
		}
		return n, nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return n, nil
	}
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			if n, err := strconv.ParseFloat(strings.TrimSpace(num), 64); err == nil {
				return n * u.mult, nil
			}
		}
	}
	if d, err := ParseDuration(s); err == nil {
		return d.Seconds(), nil
	}
	return 0, fmt.Errorf("%q is not a number, size (64KiB) or duration (24h)", s)
}

func (p *parser) cidrOp(f field, v *yaml.Node, path string, c *compiler) Condition {
	items := p.strs(v, path)
	key := strings.Join(items, "\x00")
	if prefixes, shared := c.networks[key]; shared {
		for _, item := range items {
			if name, isList := strings.CutPrefix(item, "list."); isList {
				p.useList(v, path, name, c)
			}
		}
		if len(prefixes) == 0 {
			return nil
		}
		return &cidrCond{f: f, prefixes: prefixes}
	}
	var prefixes []netip.Prefix
	for _, item := range items {
		if name, isList := strings.CutPrefix(item, "list."); isList {
			list := p.useList(v, path, name, c)
			if list == nil {
				continue
			}
			for i, e := range list.Terms {
				prefix, ok := parsePrefix(e)
				if !ok {
					if !p.fileTermError(list, i, "not an IP network such as 203.0.113.0/24 or 2001:db8::/32") {
						p.errorf(v, "%s: %q is not an IP network such as 203.0.113.0/24 or 2001:db8::/32", path, e)
					}
					continue
				}
				prefixes = append(prefixes, prefix)
			}
			continue
		}
		prefix, ok := parsePrefix(item)
		if !ok {
			p.errorf(v, "%s: %q is not an IP network such as 203.0.113.0/24 or 2001:db8::/32", path, item)
			continue
		}
		prefixes = append(prefixes, prefix)
	}
	c.networks[key] = prefixes
	if len(prefixes) == 0 {
		return nil
	}
	return &cidrCond{f: f, prefixes: prefixes}
}

// parsePrefix reads a network, or one address as a network of one.
func parsePrefix(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	prefix, err := netip.ParsePrefix(s)
	if err != nil {
		addr, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return netip.Prefix{}, false
		}
		prefix = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen())
	}
	return prefix.Masked(), true
}

// matcher compiles the terms and lists a contains or except names; lists
// are written `list.NAME`. Conditions naming the same terms share one matcher.
func (p *parser) matcher(n *yaml.Node, path string, c *compiler) *Matcher {
	before := len(p.problems)
	items := p.strs(n, path)
	if len(items) == 0 {
		if len(p.problems) == before {
			p.errorf(n, "%s: names no terms or lists", path)
		}
		return nil
	}
	key := strings.Join(items, "\x00")
	if m, ok := c.matchers[key]; ok {
		return m
	}
	var terms []Term
	ok := true
	for _, item := range items {
		if name, isList := strings.CutPrefix(item, "list."); isList {
			list := p.useList(n, path, name, c)
			if list == nil {
				ok = false
				continue
			}
			for _, t := range list.Terms {
				terms = append(terms, Term{Text: t, List: name})
			}
			continue
		}
		if _, err := parseTerm(item); err != nil {
			p.errorf(n, "%s: term %q: %v", path, item, err)
			ok = false
			continue
		}
		terms = append(terms, Term{Text: item})
	}
	if !ok {
		return nil // reported, here or at the list
	}
	m, err := NewMatcherWith(terms, MatcherOptions{AllowCensored: c.set.Settings.AllowCensored})
	if err != nil {
		p.errorf(n, "%s: %v", path, err)
		return nil
	}
	c.matchers[key] = m
	return m
}

// peekID returns a rule's id before the rule is read, or "".
func peekID(n *yaml.Node) string {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if v := resolve(n.Content[i+1]); n.Content[i].Value == "id" && v.Kind == yaml.ScalarNode {
			return v.Value
		}
	}
	return ""
}
