package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/sys/unix"

	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/rules"
)

const benchUsage = `usage: modgate bench [flags]

Drives modgate with signed before-send requests, and the same load against a
bare baseline (an Echo server that decodes the body with encoding/json and
writes the message back) started on this machine, and prints both and their
ratio. Without -target it starts modgate itself with -rules and memory state
(or -redis).

`

type benchConfig struct {
	target      string
	key, secret string
	rules       string
	redis       string
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

// bench is `modgate bench`.
func bench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c benchConfig
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage); fs.PrintDefaults() }
	fs.StringVar(&c.target, "target", "", "URL of a running modgate (default: start one)")
	fs.StringVar(&c.key, "key", "bench-key", "API key to sign with")
	fs.StringVar(&c.secret, "secret", "bench-secret", "API secret to sign with")
	fs.StringVar(&c.rules, "rules", "rules.yaml", "rules file for the modgate the tool starts")
	fs.StringVar(&c.redis, "redis", "", "REDIS_URL for the modgate the tool starts (default: memory state)")
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
	if c.rounds < 1 {
		c.rounds = 1
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// Enough distinct messages that no sender repeats a text within the
	// runs: a mix that repeated would only measure the repeats rule.
	payloads := benchPayloads(c.seed, c.pool, c.users, c.secret)
	if c.pin {
		if cpu, ok := pinLoad(); ok {
			serverCPU = strconv.Itoa(cpu)
			fmt.Fprintf(stdout, "servers pinned to CPU %d, load on the others\n", cpu)
		}
	}
	fmt.Fprintf(stdout, "mix: %d payloads, %d bytes on average, %d users; %d connections\n",
		len(payloads), avgSize(payloads), c.users, c.concurrency)

	target := c.target
	var stopModgate func() (rssKiB int64)
	if target == "" {
		var err error
		target, stopModgate, err = startChild(ctx, "serve", map[string]string{
			"MODGATE_RULES": c.rules, "STREAM_API_KEY": c.key, "STREAM_API_SECRET": c.secret,
			"REDIS_URL": c.redis, "MODGATE_LOG_LEVEL": "warn", "MODGATE_ADMIN_TOKENS": "",
		})
		if err != nil {
			log.Error("starting modgate", "err", err)
			return 1
		}
		defer stopModgate()
	}

	var baseURL string
	if !c.skipBase {
		var stopBase func() int64
		var err error
		baseURL, stopBase, err = startChild(ctx, "bench-baseline", nil)
		if err != nil {
			log.Error("starting the baseline", "err", err)
			return 1
		}
		defer stopBase()
	}
	// The servers take turns: baseline, modgate, baseline, modgate, ...
	var base, mod *benchResult
	for round := range c.rounds {
		var b *benchResult
		if baseURL != "" {
			b = runLoad(ctx, c, baseURL, payloads, c.rate)
			base = base.merge(b)
		}
		m := runLoad(ctx, c, target, payloads, c.rate)
		mod = mod.merge(m)
		if c.rounds > 1 {
			fmt.Fprintf(stdout, "round %d: modgate %.0f requests/s, %.1f µs of CPU per request", round+1, m.rps, m.cpuPerRequest())
			if b != nil {
				fmt.Fprintf(stdout, "; baseline %.0f requests/s, %.1f µs; throughput ratio %.2f", b.rps, b.cpuPerRequest(), m.rps/b.rps)
			}
			fmt.Fprintln(stdout)
		}
	}
	if base != nil {
		base.rssKiB = rssOf(baseURL)
		base.print(stdout, "baseline (echo + encoding/json)")
	}
	if stopModgate != nil {
		mod.rssKiB = rssOf(target)
	}
	mod.print(stdout, "modgate")
	if base != nil && base.rps > 0 {
		fmt.Fprintf(stdout, "\nthroughput ratio modgate/baseline: %.2f (p99 %.2fx)\n", mod.rps/base.rps,
			float64(mod.percentile(0.99))/float64(max(base.percentile(0.99), 1)))
		if mod.cpu > 0 && base.cpu > 0 {
			fmt.Fprintf(stdout, "CPU per request ratio baseline/modgate: %.2f (the throughput each would reach on equal CPU)\n",
				base.cpuPerRequest()/mod.cpuPerRequest())
		}
		if c.halfRate && c.rate == 0 {
			half := base.rps / 2
			fmt.Fprintf(stdout, "\nat half the baseline's throughput (%.0f requests/s, %d connections):\n", half, c.rateConns)
			rc := c
			rc.concurrency = c.rateConns
			b := runLoad(ctx, rc, baseURL, payloads, half)
			b.print(stdout, "baseline at a fixed rate")
			r := runLoad(ctx, rc, target, payloads, half)
			if stopModgate != nil {
				r.rssKiB = rssOf(target)
			}
			r.print(stdout, "modgate at a fixed rate")
			fmt.Fprintf(stdout, "\np99 at half the baseline's throughput: modgate %v, baseline %v\n", r.percentile(0.99), b.percentile(0.99))
		}
	}
	return 0
}

type benchResult struct {
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
func (r *benchResult) merge(o *benchResult) *benchResult {
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

func (r *benchResult) cpuPerRequest() float64 {
	return float64(r.cpu.Microseconds()) / float64(max(r.requests-r.errors, 1))
}

func (r *benchResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.latencies)-1) * p)
	return r.latencies[i]
}

func (r *benchResult) print(w io.Writer, name string) {
	fmt.Fprintf(w, "\n%s: %d requests in %.1fs, %.0f requests/s, %d errors\n", name, r.requests, r.elapsed.Seconds(), r.rps, r.errors)
	if r.firstErr != "" {
		fmt.Fprintf(w, "  first error: %s\n", r.firstErr)
	}
	fmt.Fprintf(w, "  latency p50 %v  p90 %v  p99 %v  p99.9 %v  max %v\n",
		r.percentile(0.5), r.percentile(0.9), r.percentile(0.99), r.percentile(0.999), r.percentile(1))
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
			parts = append(parts, fmt.Sprintf("%s %.1f%%", k, 100*float64(r.verdicts[k])/float64(max(r.requests-r.errors, 1))))
		}
		fmt.Fprintf(w, "  verdicts: %s\n", strings.Join(parts, ", "))
	}
	if r.cpu > 0 && r.requests > 0 {
		fmt.Fprintf(w, "  server CPU: %.1f µs per request (%.0f%% of a core)\n", r.cpuPerRequest(), 100*r.cpu.Seconds()/r.elapsed.Seconds())
	}
	if r.rssKiB > 0 {
		fmt.Fprintf(w, "  resident memory of the server after the run: %.1f MiB\n", float64(r.rssKiB)/1024)
	}
}

// offsets moves each run against one server to a part of the mix that
// server has not seen: a message sent again would only meet the repeats rule.
var offsets = map[string]int64{}

type benchRequest struct {
	body []byte
	text string
	sig  string
}

// runLoad sends the payloads in turn from c.concurrency workers, each on
// its own keep-alive connection. Requests are written as prepared bytes and
// answers read with a minimal HTTP/1.1 reader, so the tool spends little of
// the machine it shares with the server. At a fixed rate, each request has
// a scheduled time; latency counts from the moment the request is written,
// and requests that start more than a millisecond after their time are
// counted as late (a stalled server keeps workers busy and shows there;
// so does a load tool that wakes up late, which on a small shared machine
// it does).
func runLoad(ctx context.Context, c benchConfig, target string, payloads []benchRequest, rate float64) *benchResult {
	cpu0, known := cpuOf(target)
	r := load(ctx, c, target, payloads, rate)
	if cpu1, ok := cpuOf(target); known && ok {
		r.cpu = cpu1 - cpu0
	}
	return r
}

func load(ctx context.Context, c benchConfig, target string, payloads []benchRequest, rate float64) *benchResult {
	var next atomic.Int64
	defer func() { offsets[target] += next.Load() }()
	offset := offsets[target]
	host := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSuffix(target, "/"), "http://"), "https://")

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
				p := &payloads[(offset+i)%int64(len(payloads))]
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
	r := &benchResult{elapsed: time.Since(start), verdicts: map[string]int{}}
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

// rawConn is one keep-alive HTTP/1.1 connection with just enough of a
// reader for the answers of a hook: a status line, headers with
// Content-Length, a body.
type rawConn struct {
	net.Conn
	r    *bufio.Reader
	body []byte
}

func dialRaw(host string) (*rawConn, error) {
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &rawConn{Conn: conn, r: bufio.NewReaderSize(conn, 16<<10)}, nil
}

var errBadResponse = errors.New("unreadable HTTP response")

func (c *rawConn) roundTrip(req []byte) (int, []byte, error) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req); err != nil {
		return 0, nil, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, nil, errBadResponse
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, errBadResponse
	}
	length := -1
	for {
		line, err = c.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && (line[0] == 'C' || line[0] == 'c') && bytes.EqualFold(line[:15], []byte("Content-Length:")) {
			length, err = strconv.Atoi(string(bytes.TrimSpace(line[15:])))
			if err != nil {
				return 0, nil, errBadResponse
			}
		}
	}
	if length < 0 {
		return 0, nil, errors.New("answer without Content-Length")
	}
	if cap(c.body) < length {
		c.body = make([]byte, length)
	}
	c.body = c.body[:length]
	if _, err := io.ReadFull(c.r, c.body); err != nil {
		return 0, nil, err
	}
	return status, c.body, nil
}

func readAllInto(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// classify names the verdict an answer carries.
func classify(answer []byte, sent string) string {
	msg := rules.Lookup(answer, "message")
	if t, _ := rules.JSONString(rules.Lookup(msg, "type")); t == "error" {
		return "refused"
	}
	text, _ := rules.JSONString(rules.Lookup(msg, "text"))
	if text != sent {
		return "changed"
	}
	return "unchanged"
}

func avgSize(ps []benchRequest) int {
	total := 0
	for _, p := range ps {
		total += len(p.body)
	}
	return total / max(len(ps), 1)
}

var benchWords = strings.Fields(`the of and to in is you that it he was for on are as with his they at be this
have from or one had by word but not what all were we when your can said there use an each which she do how
their if will up other about out many then them these so some her would make like him into time has look two
more write go see number no way could people my than first water been call who oil its now find long down day
did get come made may part game today later lol haha thanks please anyone know where meeting tonight great
stream server update patch build deploy coffee weekend match team score goal play again nice good morning`)

var benchLinks = []string{"https://docs.example.com/guide", "www.example.org/page", "check coins.example.xyz now",
	"https://github.com/example/repo/issues/1"}

// benchPayloads builds a realistic mix: mostly clean chat of 20-300 bytes,
// some abusive and disguised, some with links and mentions, across many
// users, channels and IPs, with channel.config, request_info and custom
// fields as Stream sends them.
func benchPayloads(seed uint64, n, users int, secret string) []benchRequest {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	profane, _ := rules.Builtin("profanity-en")
	var plain []string
	for _, t := range profane {
		if !strings.ContainsAny(t, "* ") {
			plain = append(plain, t)
		}
	}
	out := make([]benchRequest, n)
	for i := range out {
		var words []string
		target := 20 + rng.IntN(280)
		size := 0
		for size <= target { // the words joined: size-1 bytes
			w := benchWords[rng.IntN(len(benchWords))]
			words = append(words, w)
			size += len(w) + 1
		}
		msg := map[string]any{"id": "", "type": "regular", "html": "", "silent": false, "attachments": []any{},
			"mentioned_users": []any{}, "custom_priority": rng.IntN(3), "client_meta": map[string]any{"draft": false, "lang": "en"}}
		switch k := rng.IntN(100); {
		case k < 8: // abusive, often disguised
			term := plain[rng.IntN(len(plain))]
			words[rng.IntN(len(words))] = disguiseWord(term, rng)
		case k < 14:
			words = append(words, benchLinks[rng.IntN(len(benchLinks))])
		case k < 20:
			var mentions []any
			for range 1 + rng.IntN(3) {
				id := fmt.Sprintf("u-%d", rng.IntN(users))
				words = append([]string{"@" + id}, words...)
				mentions = append(mentions, map[string]any{"id": id, "name": "User " + id})
			}
			msg["mentioned_users"] = mentions
		case k < 22:
			msg["id"] = fmt.Sprintf("msg-%d", rng.IntN(1_000_000)) // an edit
		}
		text := strings.Join(words, " ")
		msg["text"] = text
		user := rng.IntN(users)
		body, _ := json.Marshal(map[string]any{
			"message": msg,
			"user": map[string]any{"id": fmt.Sprintf("u-%d", user), "role": "user", "banned": false,
				"created_at": time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(user) * time.Minute).Format(time.RFC3339),
				"name":       fmt.Sprintf("User %d", user), "teams": []string{"red"}, "online": true},
			"channel": map[string]any{"cid": fmt.Sprintf("messaging:room-%d", rng.IntN(50)), "id": fmt.Sprintf("room-%d", rng.IntN(50)),
				"type": "messaging", "config": map[string]any{"max_message_length": 5000, "typing_events": true,
					"read_events": true, "replies": true, "reactions": true, "uploads": true, "url_enrichment": true,
					"automod": "disabled", "automod_behavior": "flag", "commands": []string{"giphy"}}},
			"request_info": map[string]any{"type": "client", "ip": fmt.Sprintf("198.51.100.%d", rng.IntN(200)),
				"user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
				"sdk":        "stream-chat-react-10.11.0-stream-chat-javascript-client-browser-8.12.1", "ext": fmt.Sprintf("device-id=%d", rng.IntN(10_000))},
		})
		out[i] = benchRequest{body: body, text: text, sig: stream.Sign(secret, body)}
	}
	return out
}

func disguiseWord(w string, rng *rand.Rand) string {
	switch rng.IntN(5) {
	case 0:
		return strings.ToUpper(w)
	case 1:
		return strings.NewReplacer("a", "4", "e", "3", "i", "1", "o", "0", "s", "$").Replace(w)
	case 2:
		return strings.Join(strings.Split(w, ""), ".")
	case 3:
		return w[:1] + "\u200b" + w[1:]
	}
	return w
}

// startChild starts this program again with a subcommand, on a free port,
// and waits until it answers /healthz.
func startChild(ctx context.Context, sub string, env map[string]string) (string, func() int64, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.CommandContext(ctx, exe, sub)
	if serverCPU != "" {
		cmd = exec.CommandContext(ctx, "taskset", "-c", serverCPU, exe, sub)
	}
	cmd.Env = append(os.Environ(), "MODGATE_ADDR="+addr)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	url := "http://" + addr
	stop := func() int64 {
		rss := rssOfPid(cmd.Process.Pid)
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		return rss
	}
	children.Store(url, cmd.Process.Pid)
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			return url, stop, nil
		}
		if cmd.ProcessState != nil {
			break
		}
	}
	stop()
	return "", nil, fmt.Errorf("%s did not start: %s", sub, stderr.String())
}

var children sync.Map // url → pid

// serverCPU is the CPU the servers the tool starts run on; "" for any.
var serverCPU string

// pinLoad moves this process off the last CPU, for the servers, when there
// are two or more and taskset can place the servers there.
func pinLoad() (int, bool) {
	n := runtime.NumCPU()
	if n < 2 {
		return 0, false
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return 0, false
	}
	var set unix.CPUSet
	for i := 0; i < n-1; i++ {
		set.Set(i)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return 0, false
	}
	runtime.GOMAXPROCS(n - 1)
	return n - 1, true
}

func rssOf(url string) int64 {
	if pid, ok := children.Load(url); ok {
		return rssOfPid(pid.(int))
	}
	return 0
}

// cpuOf returns the CPU time (user and system) a server the tool started
// has used so far, and whether it is known (a server that has not used a
// clock tick yet has used 0).
func cpuOf(url string) (time.Duration, bool) {
	pid, ok := children.Load(url)
	if !ok {
		return 0, false
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid.(int)) + "/stat")
	if err != nil {
		return 0, false
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	if len(f) < 13 {
		return 0, false
	}
	user, _ := strconv.ParseInt(f[11], 10, 64)
	sys, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(user+sys) * time.Second / 100, true // clock ticks; 100 a second on Linux
}

// rssOfPid reads the resident set size of a process, in KiB (Linux).
func rssOfPid(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// benchBaseline is the floor modgate is measured against: an Echo server
// that reads the body, decodes it with encoding/json and writes the message
// back, as a naive hook would.
func benchBaseline(ctx context.Context, getenv func(string) string, stderr io.Writer) int {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/hooks/before-message-send", func(c echo.Context) error {
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return c.NoContent(http.StatusBadRequest)
		}
		var p struct {
			Message map[string]any `json:"message"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return c.NoContent(http.StatusBadRequest)
		}
		return c.JSON(http.StatusOK, map[string]any{"message": p.Message})
	})
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	srv := &http.Server{Addr: envOr(getenv, "MODGATE_ADDR", "127.0.0.1:8090"), Handler: e}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "baseline:", err)
		return 1
	}
	return 0
}
