package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// result is what one run against one server measured.
type result struct {
	cpu       time.Duration // the server's CPU time during the run, when known
	requests  int
	errors    int
	late      int // started more than 1 ms after their scheduled time
	elapsed   time.Duration
	rps       float64
	latencies []time.Duration
	verdicts  map[string]int
	rssKiB    int64
	firstErr  string
}

// merge adds the run o to r (nil for none yet) and returns the sum.
func (r *result) merge(o *result) *result {
	if r == nil {
		return o
	}
	r.cpu += o.cpu
	r.requests += o.requests
	r.errors += o.errors
	r.late += o.late
	r.elapsed += o.elapsed
	r.latencies = append(r.latencies, o.latencies...)
	sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
	r.rps = float64(len(r.latencies)) / r.elapsed.Seconds()
	for k, v := range o.verdicts {
		r.verdicts[k] += v
	}
	if r.firstErr == "" {
		r.firstErr = o.firstErr
	}
	return r
}

func (r *result) cpuPerRequest() float64 {
	return float64(r.cpu.Microseconds()) / float64(max(r.requests-r.errors, 1))
}

func (r *result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.latencies)-1) * p)
	return r.latencies[i]
}

func (r *result) print(w io.Writer, name string) {
	fmt.Fprintf(w, "\n%s: %d requests in %.1fs, %.0f requests/s, %d errors\n", name, r.requests, r.elapsed.Seconds(), r.rps, r.errors)
	if r.firstErr != "" {
		fmt.Fprintf(w, "  first error: %s\n", r.firstErr)
	}
	fmt.Fprintf(w, "  latency p50 %v  p90 %v  p99 %v  p99.9 %v  max %v\n",
		r.percentile(0.5), r.percentile(0.9), r.percentile(0.99), r.percentile(0.999), r.percentile(1))
	var slow []string
	for _, limit := range []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 300 * time.Millisecond} {
		n := len(r.latencies) - sort.Search(len(r.latencies), func(i int) bool { return r.latencies[i] > limit })
		slow = append(slow, fmt.Sprintf("over %v %d (%.3f%%)", limit, n, 100*float64(n)/float64(max(len(r.latencies), 1))))
	}
	fmt.Fprintf(w, "  answers %s\n", strings.Join(slow, ", "))
	if r.late > 0 {
		fmt.Fprintf(w, "  %d requests (%.1f%%) started more than 1 ms after their scheduled time\n", r.late, 100*float64(r.late)/float64(max(r.requests, 1)))
	}
	if len(r.verdicts) > 0 {
		names := make([]string, 0, len(r.verdicts))
		for k := range r.verdicts {
			names = append(names, k)
		}
		sort.Strings(names)
		parts := make([]string, 0, len(names))
		for _, k := range names {
			parts = append(parts, fmt.Sprintf("%s %d (%.1f%%)", k, r.verdicts[k], 100*float64(r.verdicts[k])/float64(max(r.requests-r.errors, 1))))
		}
		fmt.Fprintf(w, "  verdicts: %s\n", strings.Join(parts, ", "))
		fmt.Fprintf(w, "  admitted (unchanged or changed): %d\n", r.verdicts["unchanged"]+r.verdicts["changed"])
	}
	if r.cpu > 0 && r.requests > 0 {
		fmt.Fprintf(w, "  server CPU: %.1f µs per request (%.0f%% of a core)\n", r.cpuPerRequest(), 100*r.cpu.Seconds()/r.elapsed.Seconds())
	}
	if r.rssKiB > 0 {
		fmt.Fprintf(w, "  resident memory of the server after the run: %.1f MiB\n", float64(r.rssKiB)/1024)
	}
}
