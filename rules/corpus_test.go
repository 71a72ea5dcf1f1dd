package rules

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// corpusDir is the labelled corpus carried in testdata (see its README for
// where it comes from and its licences); MODGATE_CORPUS points at another
// copy, such as a newer one, to measure against it.
func corpusDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("MODGATE_CORPUS")
	if dir == "" {
		dir = filepath.Join("testdata", "corpus")
	}
	if _, err := os.Stat(filepath.Join(dir, "blocklist.txt")); err != nil {
		tb.Fatalf("corpus not found at %s: %v", dir, err)
	}
	return dir
}

type corpusLine struct {
	Text      string `json:"text"`
	Term      string `json:"term"`
	Technique string `json:"technique"`
	Detail    string `json:"detail"`
	Kind      string `json:"kind"`
	Word      string `json:"word"`
}

func readLines(tb testing.TB, path string) []corpusLine {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []corpusLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l corpusLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		out = append(out, l)
	}
	return out
}

func readBlocklist(tb testing.TB, dir string) []Term {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "blocklist.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	var terms []Term
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			terms = append(terms, Term{Text: line, List: "blocklist"})
		}
	}
	return terms
}

func flagged(m *Matcher, text string) bool {
	t := Analyze(text)
	defer t.Release()
	return len(m.Match(t, nil)) > 0
}

func TestCorpusScores(t *testing.T) {
	t.Parallel()
	dir := corpusDir(t)
	m, err := NewMatcher(readBlocklist(t, dir))
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
			add("recall/mixed:"+l.Detail, hit)
		}
		add("recall/all", hit)
		if !hit && testing.Verbose() {
			t.Logf("missed %-22s %q (%s)", l.Technique, l.Text, l.Term)
		}
	}
	for _, l := range readLines(t, filepath.Join(dir, "negatives.jsonl")) {
		hit := flagged(m, l.Text)
		add("fp/"+l.Kind, hit)
		add("fp/all", hit)
		if hit {
			t.Logf("false positive %-10s %q", l.Kind, l.Text)
		}
	}
	keys := make([]string, 0, len(per))
	for k := range per {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-44s %6s %6s %8s\n", "measure", "hits", "lines", "rate")
	for _, k := range keys {
		s := per[k]
		fmt.Fprintf(&b, "%-44s %6d %6d %7.2f%%\n", k, s.hit, s.total, 100*float64(s.hit)/float64(s.total))
	}
	t.Log(b.String())
	for _, k := range keys {
		s := per[k]
		rate := float64(s.hit) / float64(s.total)
		switch {
		case strings.HasPrefix(k, "recall/") && !strings.HasPrefix(k, "recall/mixed:") && rate < 0.97:
			t.Errorf("%s: recall %.2f%% is below 97%%", k, 100*rate)
		case k == "fp/all" && rate > 0.005:
			t.Errorf("false positives overall %.2f%% are above 0.5%%", 100*rate)
		case k == "fp/scunthorpe" && rate > 0.01:
			t.Errorf("false positives on the Scunthorpe kind %.2f%% are above 1%%", 100*rate)
		}
	}
}
