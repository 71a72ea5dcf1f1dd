package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const usage = `usage: modgate-load [flags]

Drives modgate with signed before-send requests, and the same load against a
bare baseline (an Echo server that decodes the body with encoding/json and
writes the message back) started on this machine, and prints both and their
ratio. Without -target it builds modgate from this checkout (or runs
-modgate) and starts it with -rules and memory state (or -redis, with
-processes modgates sharing it).

`

type config struct {
	target      string
	modgate     string
	key, secret string
	rules       string
	redis       string
	processes   int
	duration    time.Duration
	count       int
	rate        float64
	concurrency int
	rateConns   int
	users       int
	pool        int
	seed        uint64
	skipBase    bool
	halfRate    bool
	pin         bool
	rounds      int
}

// tool is one run of the load tool.
type tool struct {
	c       config
	srv     *servers
	mix     []request
	offsets map[string]int64 // per server group: where in the mix its next run starts
}

// group is the servers one run loads: one baseline, or one or more
// modgates that share the load.
type group struct {
	name string
	urls []string
}

func load(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c config
	fs := flag.NewFlagSet("modgate-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.StringVar(&c.target, "target", "", "URL of a running modgate (default: start one)")
	fs.StringVar(&c.modgate, "modgate", "", "the modgate binary to start (default: build it from this checkout)")
	fs.StringVar(&c.key, "key", "bench-key", "API key to sign with")
	fs.StringVar(&c.secret, "secret", "bench-secret", "API secret to sign with")
	fs.StringVar(&c.rules, "rules", "rules.yaml", "rules file for the modgate the tool starts")
	fs.StringVar(&c.redis, "redis", "", "REDIS_URL for the modgates the tool starts (default: memory state); each run uses a key prefix of its own")
	fs.IntVar(&c.processes, "processes", 1, "modgates to start, sharing -redis and the load")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "how long each run lasts (each of -rounds at full speed)")
	fs.IntVar(&c.count, "count", 0, "requests per run instead of a duration")
	fs.Float64Var(&c.rate, "rate", 0, "requests per second (0: as fast as possible)")
	fs.IntVar(&c.concurrency, "concurrency", 128, "connections (keep-alive) and workers; Stream calls from many at once")
	fs.IntVar(&c.users, "users", 500_000, "distinct senders in the mix")
	fs.IntVar(&c.pool, "messages", 400_000, "distinct messages in the mix; no server is sent one twice until they run out")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the message mix")
	fs.BoolVar(&c.skipBase, "no-baseline", false, "do not run the baseline")
	fs.BoolVar(&c.halfRate, "half", true, "after the full-speed runs, run both at half the baseline's throughput")
	fs.IntVar(&c.rateConns, "rate-concurrency", 4, "connections for the fixed-rate runs: at a steady rate of some thousands a second two or three requests are in flight")
	fs.IntVar(&c.rounds, "rounds", 3, "full-speed runs of each server, taking turns, so that a slow spell of a shared machine falls on both")
	fs.BoolVar(&c.pin, "pin", true, "run the servers on the last CPU and the load on the others (Linux, 2+ CPUs), so they do not take each other's time")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "modgate-load: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	c.rounds = max(c.rounds, 1)
	c.processes = max(c.processes, 1)
	if c.processes > 1 && c.redis == "" && c.target == "" {
		fmt.Fprintln(stderr, "modgate-load: -processes above 1 needs -redis: modgates with memory state share nothing")
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	t := &tool{c: c, srv: newServers(), offsets: map[string]int64{}}
	defer t.srv.close()

	// Enough distinct messages that no sender repeats a text within the
	// runs: a mix that repeated would only measure the repeats rule.
	t.mix = payloads(c.seed, c.pool, c.users, c.secret)
	if c.pin {
		if cpu, ok := t.srv.pinLoad(); ok {
			fmt.Fprintf(stdout, "servers pinned to CPU %d, load on the others\n", cpu)
		}
	}
	fmt.Fprintf(stdout, "mix: %d payloads, %d bytes on average, %d users; %d connections\n",
		len(t.mix), avgSize(t.mix), c.users, c.concurrency)

	mod := group{name: "modgate"}
	started := false
	if c.target != "" {
		mod.urls = []string{c.target}
	} else {
		exe, err := t.srv.binary(ctx, c.modgate)
		if err != nil {
			log.Error("modgate binary", "err", err)
			return 1
		}
		env := map[string]string{
			"MODGATE_RULES": c.rules, "STREAM_API_KEY": c.key, "STREAM_API_SECRET": c.secret,
			"REDIS_URL": c.redis, "MODGATE_LOG_LEVEL": "warn", "MODGATE_ADMIN_TOKENS": "", "MODGATE_DRAIN": "0",
			"MODGATE_REDIS_PREFIX": "modgate-load-" + randomHex(),
		}
		for range c.processes {
			url, stop, err := t.srv.start(ctx, exe, []string{"serve"}, env)
			if err != nil {
				log.Error("starting modgate", "err", err)
				return 1
			}
			defer stop()
			mod.urls = append(mod.urls, url)
		}
		started = true
		if c.redis != "" {
			fmt.Fprintf(stdout, "%d modgate processes sharing %s\n", c.processes, c.redis)
		}
	}

	var base group
	if !c.skipBase {
		self, err := os.Executable()
		if err != nil {
			log.Error("finding the tool's own binary", "err", err)
			return 1
		}
		url, stop, err := t.srv.start(ctx, self, []string{baselineCommand}, nil)
		if err != nil {
			log.Error("starting the baseline", "err", err)
			return 1
		}
		defer stop()
		base = group{name: "baseline", urls: []string{url}}
	}
	// The servers take turns: baseline, modgate, baseline, modgate, ...
	var baseSum, modSum *result
	for round := range c.rounds {
		var b *result
		if base.urls != nil {
			b = t.run(ctx, c, base, c.rate)
			baseSum = baseSum.merge(b)
		}
		m := t.run(ctx, c, mod, c.rate)
		modSum = modSum.merge(m)
		if c.rounds > 1 {
			fmt.Fprintf(stdout, "round %d: modgate %.0f requests/s, %.1f µs of CPU per request", round+1, m.rps, m.cpuPerRequest())
			if b != nil {
				fmt.Fprintf(stdout, "; baseline %.0f requests/s, %.1f µs; throughput ratio %.2f", b.rps, b.cpuPerRequest(), m.rps/b.rps)
			}
			fmt.Fprintln(stdout)
		}
	}
	if baseSum != nil {
		baseSum.rssKiB = t.rss(base)
		baseSum.print(stdout, "baseline (echo + encoding/json)")
	}
	if started {
		modSum.rssKiB = t.rss(mod)
	}
	modSum.print(stdout, "modgate")
	if started {
		t.printCounters(stdout, mod)
	}
	if baseSum != nil && baseSum.rps > 0 {
		fmt.Fprintf(stdout, "\nthroughput ratio modgate/baseline: %.2f (p99 %.2fx)\n", modSum.rps/baseSum.rps,
			float64(modSum.percentile(0.99))/float64(max(baseSum.percentile(0.99), 1)))
		if modSum.cpu > 0 && baseSum.cpu > 0 {
			fmt.Fprintf(stdout, "CPU per request ratio baseline/modgate: %.2f (the throughput each would reach on equal CPU)\n",
				baseSum.cpuPerRequest()/modSum.cpuPerRequest())
		}
		if c.halfRate && c.rate == 0 {
			half := baseSum.rps / 2
			fmt.Fprintf(stdout, "\nat half the baseline's throughput (%.0f requests/s, %d connections):\n", half, c.rateConns)
			rc := c
			rc.concurrency = c.rateConns
			b := t.run(ctx, rc, base, half)
			b.print(stdout, "baseline at a fixed rate")
			r := t.run(ctx, rc, mod, half)
			if started {
				r.rssKiB = t.rss(mod)
			}
			r.print(stdout, "modgate at a fixed rate")
			fmt.Fprintf(stdout, "\np99 at half the baseline's throughput: modgate %v, baseline %v\n", r.percentile(0.99), b.percentile(0.99))
		}
	}
	return 0
}

func randomHex() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// rss is the resident size of a group's servers, added up.
func (t *tool) rss(g group) int64 {
	var sum int64
	for _, u := range g.urls {
		sum += t.srv.rss(u)
	}
	return sum
}

// cpuTime is the CPU time a group's servers used so far, when known.
func (t *tool) cpuTime(g group) (time.Duration, bool) {
	var sum time.Duration
	for _, u := range g.urls {
		d, ok := t.srv.cpuTime(u)
		if !ok {
			return 0, false
		}
		sum += d
	}
	return sum, true
}

// run loads a group once and adds the servers' CPU time to the result.
func (t *tool) run(ctx context.Context, c config, g group, rate float64) *result {
	cpu0, known := t.cpuTime(g)
	r := t.load(ctx, c, g, rate)
	if cpu1, ok := t.cpuTime(g); known && ok {
		r.cpu = cpu1 - cpu0
	}
	return r
}

// load sends the payloads in turn from c.concurrency workers, each on its
// own keep-alive connection, the workers spread over the group's servers.
// Requests are written as prepared bytes and answers read with a minimal
// HTTP/1.1 reader, so the tool spends little of the machine it shares with
// the server. At a fixed rate, each request has a scheduled time; latency
// counts from the moment the request is written, and requests that start
// more than a millisecond after their time are counted as late (a stalled
// server keeps workers busy and shows there; so does a load tool that wakes
// up late, which on a small shared machine it does). Each run against a
// group starts where the last one stopped in the mix, so that no message is
// sent to it twice (it would only meet the repeats rule).
func (t *tool) load(ctx context.Context, c config, g group, rate float64) *result {
	var next atomic.Int64
	offset := t.offsets[g.name]
	defer func() { t.offsets[g.name] += next.Load() }()
	hosts := make([]string, len(g.urls))
	for i, u := range g.urls {
		hosts[i] = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSuffix(u, "/"), "http://"), "https://")
	}

	start := time.Now()
	end := start.Add(c.duration)
	type local struct {
		lat      []time.Duration
		errors   int
		late     int
		verdicts map[string]int
		firstErr string
	}
	locals := make([]local, c.concurrency)
	var wg sync.WaitGroup
	run := strconv.FormatInt(start.UnixNano(), 36)
	for w := range c.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			host := hosts[w%len(hosts)]
			l := &locals[w]
			l.verdicts = map[string]int{}
			fail := func(err error) {
				l.errors++
				if l.firstErr == "" {
					l.firstErr = err.Error()
				}
			}
			var conn *rawConn
			defer func() {
				if conn != nil {
					conn.Close()
				}
			}()
			req := make([]byte, 0, 4096)
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if c.count > 0 && i >= int64(c.count) {
					return
				}
				scheduled := time.Now()
				if rate > 0 {
					scheduled = start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
					if d := time.Until(scheduled); d > 0 {
						time.Sleep(d)
					}
				}
				if c.count == 0 && scheduled.After(end) {
					return
				}
				p := &t.mix[(offset+i)%int64(len(t.mix))]
				req = append(req[:0], "POST /hooks/before-message-send HTTP/1.1\r\nHost: "...)
				req = append(req, host...)
				req = append(req, "\r\nContent-Type: application/json\r\nX-Api-Key: "...)
				req = append(req, c.key...)
				req = append(req, "\r\nX-Signature: "...)
				req = append(req, p.sig...)
				req = append(req, "\r\nX-Webhook-Attempt: 1\r\nX-Webhook-Id: bench-"...)
				req = append(req, run...)
				req = append(req, '-')
				req = strconv.AppendInt(req, i, 36)
				req = append(req, "\r\nContent-Length: "...)
				req = strconv.AppendInt(req, int64(len(p.body)), 10)
				req = append(req, "\r\n\r\n"...)
				req = append(req, p.body...)
				if conn == nil {
					var err error
					if conn, err = dialRaw(host); err != nil {
						fail(err)
						time.Sleep(10 * time.Millisecond)
						continue
					}
				}
				sent := time.Now()
				if rate > 0 && sent.Sub(scheduled) > time.Millisecond {
					l.late++
				}
				status, body, err := conn.roundTrip(req)
				lat := time.Since(sent)
				if err != nil {
					fail(err)
					conn.Close()
					conn = nil
					continue
				}
				if status != http.StatusOK {
					fail(fmt.Errorf("status %d: %.200s", status, body))
					continue
				}
				l.lat = append(l.lat, lat)
				l.verdicts[classify(body, p.text)]++
			}
		}()
	}
	wg.Wait()
	r := &result{elapsed: time.Since(start), verdicts: map[string]int{}}
	for _, l := range locals {
		r.latencies = append(r.latencies, l.lat...)
		r.errors += l.errors
		r.late += l.late
		if r.firstErr == "" {
			r.firstErr = l.firstErr
		}
		for k, v := range l.verdicts {
			r.verdicts[k] += v
		}
	}
	r.requests = len(r.latencies) + r.errors
	r.rps = float64(len(r.latencies)) / r.elapsed.Seconds()
	sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
	return r
}

// printCounters prints what the modgates counted of failures: state
// errors (limits that followed their on_error), deadlines passed, answers
// not stored for retries.
func (t *tool) printCounters(w io.Writer, g group) {
	sums := map[string]float64{}
	names := []string{"modgate_state_errors_total", "modgate_deadline_exceeded_total", "modgate_state_answers_dropped_total"}
	for _, u := range g.urls {
		resp, err := http.Get(u + "/metrics")
		if err != nil {
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			for _, n := range names {
				if strings.HasPrefix(line, n+" ") || strings.HasPrefix(line, n+"{") {
					f := strings.Fields(line)
					v, _ := strconv.ParseFloat(f[len(f)-1], 64)
					sums[n] += v
				}
			}
		}
	}
	fmt.Fprintf(w, "  counted by the modgates: state errors %.0f, deadlines passed %.0f, answers not stored %.0f\n",
		sums[names[0]], sums[names[1]], sums[names[2]])
}
