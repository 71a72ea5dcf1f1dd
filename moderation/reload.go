package moderation

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modgate/modgate/rules"
)

// RulesFile keeps an engine's rules in step with a rules file: a reload
// builds and checks a whole new set, then swaps it in; a file that is
// refused leaves the rules in force serving. Identical files skip the swap.
// RulesFile is safe for concurrent use; reloads are serialised.
type RulesFile struct {
	// Audit, when set, is told of every reload: who asked, the versions,
	// and the problems of a refused file.
	Audit AuditLog

	path   string
	engine *Engine
	log    *slog.Logger
	load   func(path string) (*rules.Set, error)

	mu     sync.Mutex // one reload at a time
	stamps []stamp    // the files of the set in force, as last seen
	status atomic.Pointer[ReloadStatus]
}

// ReloadStatus is what the last reloads did.
type ReloadStatus struct {
	Path        string    `json:"path"`
	Version     string    `json:"version"` // of the rules in force
	Rules       int       `json:"rules"`
	LoadedAt    time.Time `json:"loaded_at"`
	LastAttempt time.Time `json:"last_attempt"`
	LastError   string    `json:"last_error,omitempty"` // why the last attempt was refused; "" when it was not
	Successes   uint64    `json:"successes"`
	Failures    uint64    `json:"failures"`
	Unchanged   uint64    `json:"unchanged"`
}

type stamp struct {
	path    string
	size    int64
	modTime time.Time
}

// ErrUnchanged is returned by Reload when the files hold the rules in force.
var ErrUnchanged = errors.New("rules unchanged")

// NewRulesFile ties engine, which serves set loaded from path, to the file.
func NewRulesFile(path string, engine *Engine, log *slog.Logger) *RulesFile {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &RulesFile{path: path, engine: engine, log: log, load: rules.Load}
	set := engine.Rules()
	f.stamps = stampsOf(set.Files)
	f.status.Store(&ReloadStatus{Path: path, Version: set.Version, Rules: len(set.Rules), LoadedAt: time.Now()})
	return f
}

// Status returns what the last reloads did.
func (f *RulesFile) Status() ReloadStatus { return *f.status.Load() }

// Reload reads the file again and puts it in force. It returns ErrUnchanged
// when the file holds the rules in force, and the file's problems when it is
// refused (the rules in force keep serving).
func (f *RulesFile) Reload() error { return f.ReloadBy("modgate", "requested") }

// ReloadBy is Reload, asked by actor (a moderator's token name, or
// "modgate") for reason, which the audit log records.
func (f *RulesFile) ReloadBy(actor, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.Status()
	st.LastAttempt = time.Now()
	stamps := stampsOf(append([]string{f.path}, f.engine.Rules().Files...))
	set, err := f.load(f.path)
	if err != nil {
		st.LastError = err.Error()
		st.Failures++
		f.stamps = stamps // look again when the files change again, not every tick
		f.status.Store(&st)
		f.log.Error("rules refused: the rules in force keep serving", "file", f.path, "rules_version", st.Version, "err", err)
		f.record(AuditEntry{Actor: actor, Action: AuditRefused, RulesVersion: st.Version, Reason: reason, Error: err.Error()})
		return err
	}
	st.LastError = ""
	// A file that changed while it was read (a ConfigMap swapped under the
	// load) keeps the stamp it had before, so that the next look reloads.
	loaded := settled(stamps, stampsOf(set.Files))
	if set.Version == f.engine.Rules().Version {
		st.Unchanged++
		f.stamps = loaded
		f.status.Store(&st)
		f.record(AuditEntry{Actor: actor, Action: AuditUnchanged, RulesVersion: set.Version, Reason: reason})
		return ErrUnchanged
	}
	old := f.engine.Swap(set)
	f.stamps = loaded
	st.Version, st.Rules, st.LoadedAt = set.Version, len(set.Rules), time.Now()
	st.Successes++
	f.status.Store(&st)
	f.log.Info("rules reloaded", "file", f.path, "rule_count", len(set.Rules), "rules_version", set.Version, "previous_version", old.Version)
	for _, w := range set.Warnings {
		f.log.Warn("rules warning", "file", f.path, "rules_version", set.Version, "warning", w.Error())
	}
	f.record(AuditEntry{Actor: actor, Action: AuditReloaded, RulesVersion: set.Version, PreviousVersion: old.Version, Reason: reason})
	return nil
}

// record writes a reload to the audit log.
func (f *RulesFile) record(e AuditEntry) {
	if f.Audit == nil {
		return
	}
	e.At = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.Audit.Record(ctx, e); err != nil {
		f.log.Warn("writing a reload to the audit log failed", "err", err)
	}
}

// Watch reloads whenever the rules file or one of its list files changes,
// looking every interval, until ctx ends. Editors that save by writing a new
// file and renaming it over the old one are seen like any other change; a
// file that is missing for a moment (mid-rename) is looked at again next time.
func (f *RulesFile) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if f.changed() {
			_ = f.ReloadBy("modgate", "a rules file changed") // logged, recorded in Status and the audit log
		}
	}
}

// changed reports whether a file of the set in force looks different, or
// the set was refused and the file has changed since.
func (f *RulesFile) changed() bool {
	f.mu.Lock()
	stamps := f.stamps
	f.mu.Unlock()
	for _, s := range stamps {
		info, err := os.Stat(s.path)
		if err != nil {
			return false // missing for a moment, or gone: the rules in force stay
		}
		if info.Size() != s.size || !info.ModTime().Equal(s.modTime) {
			return true
		}
	}
	return false
}

// settled returns the stamps of the files after a load, but for a file
// whose stamp before the load differs: that one keeps the earlier stamp.
func settled(before, after []stamp) []stamp {
	prior := make(map[string]stamp, len(before))
	for _, s := range before {
		prior[s.path] = s
	}
	for i, s := range after {
		if p, ok := prior[s.path]; ok && (p.size != s.size || !p.modTime.Equal(s.modTime)) {
			after[i] = p
		}
	}
	return after
}

func stampsOf(paths []string) []stamp {
	seen := map[string]bool{}
	out := make([]stamp, 0, len(paths))
	for _, p := range paths {
		if seen[p] {
			continue
		}
		seen[p] = true
		s := stamp{path: p}
		if info, err := os.Stat(p); err == nil {
			s.size, s.modTime = info.Size(), info.ModTime()
		}
		out = append(out, s)
	}
	return out
}
