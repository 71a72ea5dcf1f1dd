package moderation

import "github.com/modgate/modgate/rules"

// SetLoad replaces how f reads its rules, for tests that act during a load.
func (f *RulesFile) SetLoad(load func(path string) (*rules.Set, error)) { f.load = load }

// Changed is what the watcher asks at every look.
func (f *RulesFile) Changed() bool { return f.changed() }
