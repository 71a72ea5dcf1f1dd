package rules

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

//go:generate go run ./testdata/disguises/generate.go

// TestDisguiseScores measures the matcher on the disguise fixtures of
// testdata/disguises (see its README) with the corpus block list: recall
// per disguise at least 95%, false positives per kind of innocent text at
// most 1%. `go test ./rules -run Disguise -v` prints the table and the
// lines it gets wrong.
func TestDisguiseScores(t *testing.T) {
	dir := filepath.Join("testdata", "disguises")
	m, err := NewMatcher(readBlocklist(t, corpusDir(t)))
	if err != nil {
		t.Fatal(err)
	}
	type score struct{ hit, total int }
	per := map[string]*score{}
	add := func(k string, hit bool) {
		s := per[k]
		if s == nil {
			s = &score{}
			per[k] = s
		}
		s.total++
		if hit {
			s.hit++
		}
	}
	for _, l := range readLines(t, filepath.Join(dir, "positives.jsonl")) {
		hit := flagged(m, l.Text)
		add("recall/"+l.Technique, hit)
		if l.Detail != "" {
			add("recall/mixed3:"+l.Detail, hit)
		}
		add("recall/all", hit)
		if !hit && testing.Verbose() {
			t.Logf("missed %-20s %q (%s)", l.Technique, l.Text, l.Term)
		}
	}
	for _, l := range readLines(t, filepath.Join(dir, "negatives.jsonl")) {
		hit := flagged(m, l.Text)
		add("fp/"+l.Kind, hit)
		add("fp/all", hit)
		if hit && testing.Verbose() {
			t.Logf("false positive %-15s %q", l.Kind, l.Text)
		}
	}
	keys := make([]string, 0, len(per))
	for k := range per {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-60s %6s %6s %8s\n", "measure", "hits", "lines", "rate")
	for _, k := range keys {
		s := per[k]
		fmt.Fprintf(&b, "%-60s %6d %6d %7.2f%%\n", k, s.hit, s.total, 100*float64(s.hit)/float64(s.total))
	}
	t.Log(b.String())
	for _, k := range keys {
		s := per[k]
		rate := float64(s.hit) / float64(s.total)
		switch {
		case strings.HasPrefix(k, "recall/") && !strings.Contains(k, ":") && rate < 0.95:
			t.Errorf("%s: recall %.2f%% is below 95%%", k, 100*rate)
		case strings.HasPrefix(k, "fp/") && rate > 0.01:
			t.Errorf("%s: false positives %.2f%% are above 1%%", k, 100*rate)
		}
	}
}
