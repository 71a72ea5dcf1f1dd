package rules

import (
	"embed"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Action is what a rule does to a message it matches.
type Action uint8

// The actions. allow, hold and reject end the check; mask, rewrite and flag
// accumulate.
const (
	ActionNone    Action = iota // no rule decided: the message goes through
	ActionAllow                 // let the message through and stop checking
	ActionMask                  // replace the matched words with '*' and go on
	ActionRewrite               // change the text or fields of the message and go on
	ActionFlag                  // let it through with a custom field naming the rules, and go on
	ActionHold                  // keep it from the channel until a moderator decides; stop
	ActionReject                // refuse it with a reply the sender sees; stop
)

var actionText = [...]string{ActionNone: "none", ActionAllow: "allow", ActionMask: "mask", ActionRewrite: "rewrite",
	ActionFlag: "flag", ActionHold: "hold", ActionReject: "reject"}

func (a Action) String() string {
	if int(a) < len(actionText) {
		return actionText[a]
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Final reports whether the action ends the check.
func (a Action) Final() bool { return a == ActionAllow || a == ActionHold || a == ActionReject }

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

// Mode says whether a rule acts or only reports what it would do.
type Mode uint8

// The modes.
const (
	ModeEnforce Mode = iota // the rule acts
	ModeObserve             // the rule is logged and counted as "would <action>", with no effect
)

// Settings are the file-wide defaults.
type Settings struct {
	RejectReply string    // sent for a reject rule that has no reply of its own
	HoldReply   string    // sent for a hold rule that has no reply of its own
	Exempt      Condition // who every rule skips unless the rule says otherwise; nil: nobody
	FlagField   string    // the custom field a flag rule sets
	// AllowCensored lets words through whose letters are already hidden by
	// symbols ("f*ck") instead of matching the one listed term they fit.
	AllowCensored bool
}

// Defaults of Settings.
const (
	DefaultRejectReply = "Your message was not sent: it breaks the community rules."
	DefaultHoldReply   = "Your message is waiting for a moderator."
	DefaultFlagField   = "modgate_flags"
)

func defaultSettings() Settings {
	return Settings{RejectReply: DefaultRejectReply, HoldReply: DefaultHoldReply, FlagField: DefaultFlagField}
}

// List is a named word list.
type List struct {
	Name  string
	Terms []string

	broken bool       // it has problems: rules naming it are not compiled whole
	file   string     // the list file that Terms[first:first+len(at)] came from, if any
	first  int        // the first term read from file
	at     [][2]int32 // line and column of each term read from file
}

// Limit is a rule's rate limit: at most Count messages that meet the rule's
// condition Per window, counted separately for each key By.
type Limit struct {
	Count  int
	Per    time.Duration
	By     []string // user, channel, ip, device, text
	Device string   // the request_info.ext key that names a device
}

// Window is when a rule is active; zero times leave that side open.
type Window struct {
	From, Until time.Time
}

// Contains reports whether t is inside the window.
func (w Window) Contains(t time.Time) bool {
	return (w.From.IsZero() || !t.Before(w.From)) && (w.Until.IsZero() || t.Before(w.Until))
}

// Rule is one compiled rule.
type Rule struct {
	ID          string
	Description string
	When        Condition // nil: every message
	Exempt      Condition // who skips the rule; nil: nobody
	Limit       *Limit
	Action      Action
	Reply       *Template // for reject and hold; nil uses the settings' reply
	Rewrite     *Rewrite  // for rewrite
	Mode        Mode
	Active      Window
	OnError     Action // what happens when the rule cannot be evaluated (storage down, deadline): allow, hold or reject
	OnErrorSet  bool   // on_error is written in the file (a hold the queue cannot keep follows only a written allow)
	Line        int    // where the rule starts in its file

	textTests int // tests other than patterns that read the text or another free-text field
}

// Work estimates, in Budget steps, what the rule's tests other than
// regular expressions cost over in: a few steps for fields of the payload,
// and for each test that reads the text, a few steps a byte of it. Regular
// expressions count their own work as they match.
func (r *Rule) Work(in *Input) int {
	return 64 + r.textTests*len(in.Text.Source())*textStepsPerByte
}

// scansText is 1 for a field read by scanning the text (links), else 0.
func scansText(f field) int {
	if f.cost >= costPattern {
		return 1
	}
	return 0
}

// textTests counts the tests of c, other than patterns, that read the text
// or another free-text field.
func textTests(c Condition) int {
	switch c := c.(type) {
	case *containsCond:
		return 1
	case *setCond:
		return scansText(c.f)
	case *compareCond:
		return scansText(c.f)
	case *cidrCond:
		return scansText(c.f)
	case *existsCond:
		return scansText(c.f)
	case notCond:
		return textTests(c.c)
	case allOf:
		n := 0
		for _, sub := range c {
			n += textTests(sub)
		}
		return n
	case anyOf:
		n := 0
		for _, sub := range c {
			n += textTests(sub)
		}
		return n
	}
	return 0
}

// Set is a compiled rules file: every list, automaton and condition built up
// front. A Set is immutable and safe for concurrent use; a reload builds a
// new Set and swaps it in whole.
type Set struct {
	Version  string // hash of the rules file and its list files
	Source   string // the file it was loaded from
	Files    []string
	Settings Settings
	Rules    []*Rule
	Warnings []Problem // what the file should change, though it was accepted: costly patterns
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

// ReplyFor returns the reply template of a rejecting or holding rule.
func (s *Set) ReplyFor(r *Rule) *Template {
	if r.Reply != nil {
		return r.Reply
	}
	if r.Action == ActionHold || r.OnError == ActionHold {
		return literal(s.Settings.HoldReply)
	}
	return literal(s.Settings.RejectReply)
}

// Exempt returns the exemption that applies to a rule.
func (s *Set) Exempt(r *Rule) Condition {
	if r.Exempt != nil {
		if _, none := r.Exempt.(noExempt); none {
			return nil
		}
		return r.Exempt
	}
	return s.Settings.Exempt
}

// noExempt is `exempt: none`: the rule applies to everyone, even those the
// settings exempt.
type noExempt struct{}

func (noExempt) Match(_ *Input, found []Match) ([]Match, Truth) { return found, False }

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

// Mask replaces the matched characters of the spans with '*' and changes
// nothing else. Every character outside the spans stays byte for byte, and
// so do the invisible and format characters inside them (zero-width spaces
// and joiners, bidirectional controls, variation selectors): a span ends
// where its word ends, and a bidirectional control it swallowed would change
// how the rest of the message reads. Combining marks go with the letter
// they are written on, so a masked word shows one star per visible
// character. Overlapping spans are merged.
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
		for i, r := range text[sp[0]:sp[1]] {
			switch {
			case r == utf8.RuneError:
				b.WriteByte('*')
			case invisible(r):
				b.WriteString(text[sp[0]+i : sp[0]+i+utf8.RuneLen(r)])
			case lookupFoldSafe(r).cls == clsDrop: // a combining mark: it goes with its letter
			default:
				b.WriteByte('*')
			}
		}
		pos = sp[1]
	}
	b.WriteString(text[pos:])
	return b.String()
}

// invisibleOf appends the invisible and format characters of s.
func invisibleOf(b *strings.Builder, s string) {
	for i, r := range s {
		if r != utf8.RuneError && invisible(r) {
			b.WriteString(s[i : i+utf8.RuneLen(r)])
		}
	}
}

func lookupFoldSafe(r rune) fold {
	foldOnce.Do(initFold)
	return lookupFold(r)
}
