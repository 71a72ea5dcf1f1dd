package rules

import (
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func corpusTexts(b testing.TB) (all, clean []string, block []Term) {
	dir := corpusDir(b)
	for _, l := range readLines(b, filepath.Join(dir, "positives.jsonl")) {
		all = append(all, l.Text)
	}
	for _, l := range readLines(b, filepath.Join(dir, "negatives.jsonl")) {
		all = append(all, l.Text)
		clean = append(clean, l.Text)
	}
	return all, clean, readBlocklist(b, dir)
}

// benchMatch matches texts in turn, one message per iteration, and reports
// messages per second on one goroutine.
func benchMatch(b *testing.B, m *Matcher, texts []string) {
	b.ReportAllocs()
	var found []Match
	i := 0
	start := time.Now()
	for b.Loop() {
		t := Analyze(texts[i%len(texts)])
		found = m.Match(t, found[:0])
		t.Release()
		i++
	}
	b.ReportMetric(float64(i)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkCorpus runs the whole corpus (1,500 disguised and 1,300 clean
// messages) through the matcher, with the corpus block list and with 10,000
// more terms.
func BenchmarkCorpus(b *testing.B) {
	all, clean, block := corpusTexts(b)
	small, err := NewMatcher(block)
	if err != nil {
		b.Fatal(err)
	}
	big, err := NewMatcher(append(syntheticTerms(10_000), block...))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("blocklist/all", func(b *testing.B) { benchMatch(b, small, all) })
	b.Run("blocklist/clean", func(b *testing.B) { benchMatch(b, small, clean) })
	b.Run("10k-terms/all", func(b *testing.B) { benchMatch(b, big, all) })
	b.Run("10k-terms/clean", func(b *testing.B) { benchMatch(b, big, clean) })
}

// BenchmarkBuild10k builds a 10,000-term matcher and reports the heap it keeps.
func BenchmarkBuild10k(b *testing.B) {
	terms := syntheticTerms(10_000)
	b.ReportAllocs()
	var heap uint64
	for b.Loop() {
		heap = heapOf(func() any {
			m, err := NewMatcher(terms)
			if err != nil {
				b.Fatal(err)
			}
			return m
		})
	}
	b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
}

// heapOf returns the live heap that build's result holds.
func heapOf(build func() any) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	keep := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	if after.HeapAlloc < before.HeapAlloc {
		return 0
	}
	return after.HeapAlloc - before.HeapAlloc
}

// TestCleanMessagesDoNotAllocate counts allocations (not time): matching a
// clean message must not allocate once the pools are warm.
func TestCleanMessagesDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector; run without -race")
	}
	_, clean, block := corpusTexts(t)
	m, err := NewMatcher(append(block, Term{Text: "fuck*"}, Term{Text: "*shit"}))
	if err != nil {
		t.Fatal(err)
	}
	var found []Match
	for _, text := range clean[:200] {
		allocs := testing.AllocsPerRun(20, func() {
			tx := Analyze(text)
			found = m.Match(tx, found[:0])
			tx.Release()
		})
		if allocs > 0 {
			t.Fatalf("%q: %.1f allocations", text, allocs)
		}
	}
}

// TestLargeListHeap: a 10,000-term list keeps well under 100 MiB of heap.
func TestLargeListHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 10,000-term list")
	}
	terms := syntheticTerms(10_000)
	heap := heapOf(func() any {
		m, err := NewMatcher(terms)
		if err != nil {
			t.Fatal(err)
		}
		return m
	})
	t.Logf("10,000-term matcher: %.1f MiB of heap", float64(heap)/(1<<20))
	if heap > 100<<20 {
		t.Fatalf("10,000-term matcher holds %d MiB", heap>>20)
	}
}
