package rules

import (
	"embed"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Action is what a rule does to a message it matches.
type Action uint8

// The actions. allow and reject end the check; mask accumulates.
const (
	ActionNone   Action = iota // no rule decided: the message goes through
	ActionAllow                // let the message through unchanged and stop checking
	ActionMask                 // replace the matched words with '*' and go on
	ActionReject               // refuse the message with a reply and stop checking
)

var actionText = [...]string{ActionNone: "none", ActionAllow: "allow", ActionMask: "mask", ActionReject: "reject"}

func (a Action) String() string {
	if int(a) < len(actionText) {
		return actionText[a]
	}
	return fmt.Sprintf("action(%d)", a)
}

// Final reports whether the action ends the check.
func (a Action) Final() bool { return a == ActionAllow || a == ActionReject }

// ParseAction reads an action by name.
func ParseAction(s string) (Action, bool) {
	for a, name := range actionText {
		if name == s && Action(a) != ActionNone {
			return Action(a), true
		}
	}
	return ActionNone, false
}

func actionNames() []string { return actionText[1:] }

// Settings are the file-wide defaults.
type Settings struct {
	RejectReply string // sent for a reject rule that has no reply of its own
}

// DefaultRejectReply is the reply when neither the rule nor the settings give one.
const DefaultRejectReply = "Your message was not sent: it breaks the community rules."

func defaultSettings() Settings {
	return Settings{RejectReply: DefaultRejectReply}
}

// List is a named word list.
type List struct {
	Name  string
	Terms []string
}

// Rule is one compiled rule.
type Rule struct {
	ID          string
	Description string
	When        Condition // nil: every message
	Action      Action
	Reply       string // for reject; "" uses Settings.RejectReply
	Line        int    // where the rule starts in its file
}

// Set is a compiled rules file: every list, automaton and condition built up
// front. A Set is immutable and safe for concurrent use; a reload builds a
// new Set and swaps it in whole.
type Set struct {
	Version  string // hash of the rules file and its list files
	Source   string // the file it was loaded from
	Settings Settings
	Rules    []*Rule
	lists    map[string]*List
}

// List returns a named list of the set.
func (s *Set) List(name string) (*List, bool) {
	l, ok := s.lists[name]
	return l, ok
}

func (s *Set) listNames() []string {
	names := make([]string, 0, len(s.lists))
	for n := range s.lists {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return []string{"none defined"}
	}
	return names
}

// ReplyFor returns the reply a rejecting rule sends.
func (s *Set) ReplyFor(r *Rule) string {
	if r.Reply != "" {
		return r.Reply
	}
	return s.Settings.RejectReply
}

// Input is what conditions read: the message, analysed once.
type Input struct {
	Text *Text
}

// Condition is a compiled `when`. Match reports whether it holds for in and
// appends to found the words it matched (used for masking and explanations).
type Condition interface {
	Match(in *Input, found []Match) ([]Match, bool)
}

// TextContains is `text: {contains: [...], except: [...]}`: the text holds a
// term of Terms that is not inside a match of Except.
type TextContains struct {
	Terms  *Matcher
	Except *Matcher
}

// Match implements Condition.
func (c *TextContains) Match(in *Input, found []Match) ([]Match, bool) {
	start := len(found)
	found = c.Terms.Match(in.Text, found)
	if len(found) == start {
		return found, false
	}
	if c.Except != nil {
		var buf [8]Match
		allowed := c.Except.Match(in.Text, buf[:0])
		kept := found[:start]
		for _, m := range found[start:] {
			if !covered(m, allowed) {
				kept = append(kept, m)
			}
		}
		found = kept
	}
	return found, len(found) > start
}

func covered(m Match, by []Match) bool {
	for _, a := range by {
		if a.Start <= m.Start && m.End <= a.End {
			return true
		}
	}
	return false
}

//go:embed builtin/*.txt
var builtinFS embed.FS

// Builtin returns the terms of a list built into modgate.
func Builtin(name string) ([]string, error) {
	data, err := builtinFS.ReadFile("builtin/" + name + ".txt")
	if err != nil {
		return nil, fmt.Errorf("no built-in list %q (built-in lists: %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	return splitList(string(data)), nil
}

// BuiltinNames lists the built-in word lists.
func BuiltinNames() []string {
	entries, _ := builtinFS.ReadDir("builtin")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".txt"))
	}
	return names
}

// Mask replaces every character of the matched spans with '*', leaving the
// rest of text byte for byte. Invisible characters and combining marks inside
// a span are removed rather than starred, so a masked word shows one star
// per visible character. Overlapping spans are merged.
func Mask(text string, found []Match) string {
	if len(found) == 0 {
		return text
	}
	spans := make([][2]int, 0, len(found))
	for _, m := range found {
		spans = append(spans, [2]int{m.Start, m.End})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	var b strings.Builder
	b.Grow(len(text))
	pos := 0
	for _, sp := range spans {
		if sp[1] <= pos {
			continue
		}
		if sp[0] < pos {
			sp[0] = pos
		}
		b.WriteString(text[pos:sp[0]])
		for _, r := range text[sp[0]:sp[1]] {
			if r != utf8.RuneError && lookupFoldSafe(r).cls == clsDrop {
				continue
			}
			b.WriteByte('*')
		}
		pos = sp[1]
	}
	b.WriteString(text[pos:])
	return b.String()
}

func lookupFoldSafe(r rune) fold {
	foldOnce.Do(initFold)
	return lookupFold(r)
}
