package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testURL is a Redis the tests use: the variable's value, or the default
// when something answers at its address. They skip only when the variable
// is unset and nothing answers, and say so.
func testURL(t *testing.T, variable, def, addr string) string {
	t.Helper()
	u, set := os.LookupEnv(variable)
	if !set || u == "" {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Skipf("%s is unset and nothing answers on %s: skipping (%v)", variable, addr, err)
		}
		conn.Close()
		return def
	}
	return u
}

func testRedisURL(t *testing.T) string {
	return testURL(t, "MODGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15", "127.0.0.1:6379")
}

// testRedisURLs are one server, a Cluster and a Sentinel group, as CI starts them.
var testRedisURLs = []struct{ name, variable, def, addr string }{
	{"redis", "MODGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15", "127.0.0.1:6379"},
	{"cluster", "MODGATE_TEST_REDIS_CLUSTER_URL", "redis+cluster://127.0.0.1:7101?addr=127.0.0.1:7102&addr=127.0.0.1:7103", "127.0.0.1:7101"},
	{"sentinel", "MODGATE_TEST_REDIS_SENTINEL_URL", "redis+sentinel://127.0.0.1:26391/15?master_name=modgate-test", "127.0.0.1:26391"},
}

func uniquePrefix() string {
	var b [6]byte
	rand.Read(b[:])
	return "modgate-test-" + hex.EncodeToString(b[:])
}

const floodRules = `version: 1
rules:
  - id: flood
    limit: {count: 3, per: 1m, by: user}
    action: reject
    reply: "slow down"
`

func floodRulesFile(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(floodRules), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func sendAs(t *testing.T, addr, user string) string {
	t.Helper()
	code, body := post(t, addr, "secret", `{"message":{"text":"hello"},"user":{"id":"`+user+`"}}`)
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	if strings.Contains(body, "slow down") {
		return "rejected"
	}
	return "allowed"
}

// TestTwoServersShareOneLimit: two modgate processes on one Redis, one
// Cluster or one Sentinel group behave as one, for many senders at once.
func TestTwoServersShareOneLimit(t *testing.T) {
	for _, tr := range testRedisURLs {
		t.Run(tr.name, func(t *testing.T) {
			url := testURL(t, tr.variable, tr.def, tr.addr)
			prefix := uniquePrefix()
			env := func() map[string]string {
				return map[string]string{"MODGATE_RULES": floodRulesFile(t), "STREAM_API_SECRET": "secret",
					"REDIS_URL": url, "MODGATE_REDIS_PREFIX": prefix, "MODGATE_REDIS_TIMEOUT": "5s", "MODGATE_DEADLINE": "5s"}
			}
			a, b := start(t, env()), start(t, env())
			exactLimit(t, a.addr, b.addr, "u-shared", 20)
			if !strings.Contains(a.stderr.String(), `"state":"redis`) {
				t.Fatalf("server does not say it uses redis:\n%s", a.stderr)
			}
		})
	}
}

// exactLimit sends 8 messages from each of n senders (prefix-0, ...),
// alternating between two servers, concurrently across senders, and
// checks that the flood rule (3 a minute) admitted exactly 3 of each.
func exactLimit(t *testing.T, addrA, addrB, prefix string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	got := make([][]string, n)
	for s := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("%s-%d", prefix, s)
			for i := range 8 {
				addr := addrA
				if i%2 == 1 {
					addr = addrB
				}
				got[s] = append(got[s], sendAs(t, addr, user))
			}
		}()
	}
	wg.Wait()
	want := "allowed allowed allowed rejected rejected rejected rejected rejected"
	for s, g := range got {
		if strings.Join(g, " ") != want {
			t.Fatalf("sender %d across two servers: %v, want %s", s, g, want)
		}
	}
}

// proxy forwards TCP to a target and can black-hole traffic, as a network
// partition does, and heal again.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut(true) })
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		if down {
			continue // accepted and never answered: a black hole
		}
		go func() {
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			io.Copy(c, up)
			c.Close()
		}()
	}
}

// cut black-holes new connections and drops the open ones (down), or heals.
func (p *proxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// TestRedisOutage: with Redis unreachable, answers stay fast and follow
// on_error (allow); when it comes back, limits work again.
func TestRedisOutage(t *testing.T) {
	target, err := url.Parse(testRedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	px := newProxy(t, target.Host)
	proxied := *target
	proxied.Host = px.ln.Addr().String()
	prefix := uniquePrefix()
	r := start(t, map[string]string{"MODGATE_RULES": floodRulesFile(t), "STREAM_API_SECRET": "secret",
		"REDIS_URL": proxied.String(), "MODGATE_REDIS_PREFIX": prefix})

	for range 2 {
		if got := sendAs(t, r.addr, "u-out"); got != "allowed" {
			t.Fatal("limit hit too early")
		}
	}
	px.cut(true)
	slowest := time.Duration(0)
	for range 6 {
		began := time.Now()
		if got := sendAs(t, r.addr, "u-out"); got != "allowed" {
			t.Fatal("with Redis down the flood rule's on_error (allow) must let messages through")
		}
		slowest = max(slowest, time.Since(began))
	}
	t.Logf("slowest answer while Redis was unreachable: %v", slowest)
	// Not a benchmark: only a check that nothing waits for the dead server
	// anywhere near Stream's 1.5 s.
	if slowest > time.Second {
		t.Fatalf("an answer took %v while Redis was unreachable", slowest)
	}
	// Still ready (word rules need no Redis), with the state degraded.
	if code, body := waitReady(t, r.addr, "degraded"); code != 200 {
		t.Fatalf("readyz %d while Redis is unreachable: %s", code, body)
	}
	metrics := scrape(t, r.addr)
	for _, want := range []string{"modgate_state_errors_total 6", "modgate_state_healthy 0"} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("metrics lack %s:\n%s", want, grepLines(metrics, "state_"))
		}
	}
	if !strings.Contains(r.stderr.String(), "shared state degraded") {
		t.Fatalf("no log line for the degraded state:\n%s", r.stderr)
	}

	px.cut(false)
	got := ""
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && got != "rejected"; time.Sleep(20 * time.Millisecond) {
		got = sendAs(t, r.addr, "u-out")
	}
	if got != "rejected" {
		t.Fatal("limits did not work again after Redis came back")
	}
	if code, body := waitReady(t, r.addr, "ok"); code != 200 {
		t.Fatalf("readyz %d once Redis is back: %s", code, body)
	}
}

// waitReady polls /readyz until it reports shared state as want, and
// returns its status and body. It gives up after 20 s.
func waitReady(t *testing.T, addr, want string) (int, string) {
	t.Helper()
	var code int
	var body string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		code, body = resp.StatusCode, string(b)
		var r struct{ State string }
		if json.Unmarshal(b, &r) == nil && r.State == want {
			return code, body
		}
	}
	t.Fatalf("readyz never reported the state %s: %d %s", want, code, body)
	return 0, ""
}

func scrape(t *testing.T, addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
