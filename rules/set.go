package rules

import (
	"sort"
	"strconv"
	"time"
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

// List is a named word list.
type List struct {
	Name  string
	Terms []string

	broken bool       // it has problems: rules naming it are not compiled whole
	file   string     // the list file that Terms[first:first+len(at)] came from, if any
	first  int        // the first term read from file
	at     [][2]int32 // line and column of each term read from file
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

	Strikes       *Strikes      // what it gives the sender when it acts; nil: none
	Consequences  []Consequence // what then happens to the sender, through Stream
	RejectedReply *Template     // a hold rule's: what the sender is told when a moderator rejects the message; nil: nothing

	textTests int // tests other than patterns that read the text or another free-text field
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
