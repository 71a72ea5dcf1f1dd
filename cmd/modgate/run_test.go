package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modgate/modgate/hook/stream"
)

// syncBuffer collects a goroutine's output for the test to read.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func envFrom(m map[string]string) environment { return environment(m) }

type running struct {
	addr      string
	adminAddr string // with MODGATE_ADMIN_ADDR
	stderr    *syncBuffer
	cancel    context.CancelFunc
	done      chan int
}

// start runs `modgate serve` on a free port and waits until it listens.
func start(t *testing.T, env map[string]string, args ...string) *running {
	t.Helper()
	if env["MODGATE_ADDR"] == "" {
		env["MODGATE_ADDR"] = "127.0.0.1:0"
	}
	if env["MODGATE_DRAIN"] == "" {
		env["MODGATE_DRAIN"] = "0" // tests of draining set their own
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() { r.done <- run(ctx, append([]string{"serve"}, args...), envFrom(env), io.Discard, r.stderr) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(r.stderr.String()))
		for sc.Scan() {
			var line struct {
				Msg, Addr string
				AdminAddr string `json:"admin_addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				r.addr, r.adminAddr = line.Addr, line.AdminAddr
				t.Cleanup(func() { r.stop(t) })
				return r
			}
		}
		select {
		case code := <-r.done:
			t.Fatalf("modgate exited with %d before listening:\n%s", code, r.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("modgate did not start listening:\n%s", r.stderr)
	return nil
}

func (r *running) stop(t *testing.T) int {
	r.cancel()
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(20 * time.Second):
		t.Fatalf("modgate did not stop")
		return -1
	}
}

func shippedRules(t *testing.T) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "..", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func post(t *testing.T, addr, secret, body string) (int, string) {
	t.Helper()
	return postTo(t, addr, "/hooks/before-message-send", secret, body)
}

func TestServeWithShippedRules(t *testing.T) {
	r := start(t, map[string]string{
		"MODGATE_RULES":     shippedRules(t),
		"STREAM_API_KEY":    "key",
		"STREAM_API_SECRET": "secret",
	})
	cases := []struct{ name, message, want string }{
		{"clean", `{"text":"good morning everyone","custom":{"x":null}}`, `{"message":{"text":"good morning everyone","custom":{"x":null}}}`},
		{"profanity masked", `{"text":"this is bullshit","id":""}`, `{"message":{"text":"this is ********","id":""}}`},
		{"disguised profanity masked", `{"text":"ｆｕｃｋ that"}`, `{"message":{"text":"**** that"}}`},
		{"slur rejected", `{"text":"you f4gg0t"}`, `{"message":{"type":"error","text":"Slurs are not allowed here."}}`},
		{"scunthorpe passes", `{"text":"Scunthorpe has a cocktail bar for assassins"}`, `{"message":{"text":"Scunthorpe has a cocktail bar for assassins"}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, r.addr, "secret", `{"message":`+tc.message+`,"user":{"id":"u1"}}`)
			if code != 200 || body != tc.want {
				t.Fatalf("%d %s\nwant %s", code, body, tc.want)
			}
		})
	}
	if code, body := post(t, r.addr, "wrong", `{"message":{"text":"hi"}}`); code != 401 {
		t.Fatalf("wrong secret: %d %s", code, body)
	}
	resp, err := http.Get("http://" + r.addr + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	if code := r.stop(t); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, r.stderr)
	}
}

func TestShutdownFinishesRequestsInFlight(t *testing.T) {
	r := start(t, map[string]string{
		"MODGATE_RULES":     shippedRules(t),
		"STREAM_API_SECRET": "secret",
	})
	body := `{"message":{"text":"still here"}}`
	conn, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Send the headers and half the body, then ask modgate to stop.
	fmt.Fprintf(conn, "POST /hooks/before-message-send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"X-Signature: %s\r\nContent-Length: %d\r\n\r\n%s", stream.Sign("secret", []byte(body)), len(body), body[:10])
	time.Sleep(50 * time.Millisecond) // let the server start reading the request
	stopped := make(chan int, 1)
	go func() { stopped <- r.stop(t) }()
	time.Sleep(50 * time.Millisecond)
	fmt.Fprint(conn, body[10:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request lost: %v", err)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(got) != `{"message":{"text":"still here"}}` {
		t.Fatalf("in-flight answer %d %s", resp.StatusCode, got)
	}
	if code := <-stopped; code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestServeRefusesToStartWithoutSecret(t *testing.T) {
	var stderr syncBuffer
	code := run(context.Background(), []string{"serve"}, envFrom(map[string]string{
		"MODGATE_RULES": shippedRules(t), "MODGATE_ADDR": "127.0.0.1:0",
	}), io.Discard, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "no Stream API secret configured") {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
}

func TestServeInsecureWarns(t *testing.T) {
	r := start(t, map[string]string{
		"MODGATE_RULES":                   shippedRules(t),
		"MODGATE_INSECURE_SKIP_SIGNATURE": "1",
	})
	if !strings.Contains(r.stderr.String(), "SIGNATURE CHECKING IS OFF") {
		t.Fatalf("no warning at start:\n%s", r.stderr)
	}
	code, _ := post(t, r.addr, "anything", `{"message":{"text":"hi"}}`)
	if code != 200 {
		t.Fatalf("status %d", code)
	}
}

func TestServeSeveralKeys(t *testing.T) {
	r := start(t, map[string]string{
		"MODGATE_RULES":       shippedRules(t),
		"MODGATE_STREAM_KEYS": "old:old-secret, key:new-secret",
	})
	if code, body := post(t, r.addr, "new-secret", `{"message":{"text":"hi"}}`); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
}

func TestServeBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "rules.yaml")
	os.WriteFile(broken, []byte("version: 1\nrules:\n  - id: a\n    action: explode\n"), 0o644)
	cases := []struct {
		name string
		env  map[string]string
		code int
		want string
	}{
		{"bad deadline", map[string]string{"MODGATE_DEADLINE": "soon"}, 2, "MODGATE_DEADLINE"},
		{"bad pending deadline", map[string]string{"MODGATE_PENDING_DEADLINE": "-1s"}, 2, "MODGATE_PENDING_DEADLINE"},
		{"bad body size", map[string]string{"MODGATE_MAX_BODY": "-1"}, 2, "MODGATE_MAX_BODY"},
		{"bad keys", map[string]string{"MODGATE_STREAM_KEYS": "nosecret"}, 2, "MODGATE_STREAM_KEYS"},
		{"missing rules", map[string]string{"MODGATE_RULES": filepath.Join(dir, "none.yaml")}, 1, "rules refused"},
		{"broken rules", map[string]string{"MODGATE_RULES": broken}, 1, `rules.yaml:4:13: rule \"a\": action: \"explode\" is not an action`},
		{"port taken", map[string]string{"MODGATE_ADDR": "256.0.0.1:1"}, 1, "cannot listen"},
		{"braces in the redis prefix", map[string]string{"MODGATE_REDIS_PREFIX": "{app}"}, 2, "MODGATE_REDIS_PREFIX"},
		{"bad drain", map[string]string{"MODGATE_DRAIN": "a while"}, 2, "MODGATE_DRAIN"},
		{"bad console switch", map[string]string{"MODGATE_CONSOLE": "maybe"}, 2, "MODGATE_CONSOLE"},
		{"short console secret", map[string]string{"MODGATE_CONSOLE_SECRET": "short"}, 2, "MODGATE_CONSOLE_SECRET: at least 32"},
		{"bad proxy switch", map[string]string{"MODGATE_TRUST_PROXY": "yes"}, 2, "MODGATE_TRUST_PROXY"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"MODGATE_RULES": shippedRules(t), "STREAM_API_SECRET": "s", "MODGATE_ADDR": "127.0.0.1:0"}
			for k, v := range tc.env {
				env[k] = v
			}
			var stderr syncBuffer
			code := run(context.Background(), []string{"serve"}, envFrom(env), io.Discard, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d (want %d), stderr lacks %q:\n%s", code, tc.code, tc.want, stderr.String())
			}
		})
	}
}

func TestCheck(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"check", shippedRules(t)}, envFrom(nil), &out, &errs); code != 0 {
		t.Fatalf("shipped rules.yaml refused (%d):\n%s", code, errs.String())
	}
	if !strings.Contains(out.String(), ": ok: ") {
		t.Fatalf("output %q", out.String())
	}
	dir := t.TempDir()
	broken := filepath.Join(dir, "rules.yaml")
	os.WriteFile(broken, []byte("version: 1\nrules:\n  - id: a\n    action: reject\n  - id: a\n    action: mask\n    colour: red\n"), 0o644)
	out.Reset()
	errs.Reset()
	if code := run(context.Background(), []string{"check", broken}, envFrom(nil), &out, &errs); code != 1 {
		t.Fatalf("broken file accepted: %s", out.String())
	}
	for _, want := range []string{`rules.yaml:5:9: rule "a": id: "a" is already used by the rule on line 3`, `rules.yaml:7:5: rule "a": rule: unknown key "colour"`} {
		if !strings.Contains(errs.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, errs.String())
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	var errs bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, envFrom(nil), io.Discard, &errs); code != 2 {
		t.Fatalf("exit %d", code)
	}
}

func TestDryRunExplainsOneMessage(t *testing.T) {
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"test", shippedRules(t), "what the f.u.c.k, n1gg@"}, envFrom(nil), &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	for _, want := range []string{
		`verdict: reject, the sender sees "Slurs are not allowed here."`,
		`"n1gg@" at 18-23 is term "nigga" (list slurs), folded "nigga", via leetspeak`,
		"would match, but an earlier rule ended the check",
		`"f.u.c.k" at 9-16 is term "fuck" (list profanity), folded "fuck", via separators`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestDryRunJSONL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.jsonl")
	lines := strings.Join([]string{
		`{"message":{"id":"","text":"well sh1t"},"user":{"id":"u"}}`,
		`{"text":"good morning"}`,
		`{"text":"you f4gg0t"}`,
		`not json`,
		`{"user":{"id":"u"}}`,
	}, "\n")
	if err := os.WriteFile(path, []byte(lines+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"test", shippedRules(t), "--jsonl", path}, envFrom(nil), &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(got) != 6 {
		t.Fatalf("want 5 verdicts and a summary, got %d lines:\n%s", len(got), out.String())
	}
	var first struct {
		Action string
		Text   string
		Rules  []struct {
			ID      string
			Matched bool
			Matches []struct{ Term, Folded string }
		}
	}
	if err := json.Unmarshal([]byte(got[0]), &first); err != nil || first.Action != "mask" || first.Text != "well ****" {
		t.Fatalf("first verdict %s (%v)", got[0], err)
	}
	explained := false
	for _, r := range first.Rules {
		if r.ID == "profanity" && r.Matched && len(r.Matches) == 1 && r.Matches[0].Folded == "shit" {
			explained = true
		}
	}
	if !explained {
		t.Fatalf("the profanity rule is not explained: %s", got[0])
	}
	for i, want := range []string{`"action":"allow"`, `"action":"reject"`, `"error":`, `"error":`} {
		if !strings.Contains(got[i+1], want) {
			t.Errorf("line %d lacks %s: %s", i+2, want, got[i+1])
		}
	}
	var sum struct {
		Summary struct {
			Messages, Errors int
			Verdicts         map[string]int
		}
	}
	if err := json.Unmarshal([]byte(got[5]), &sum); err != nil || sum.Summary.Messages != 3 || sum.Summary.Errors != 2 ||
		sum.Summary.Verdicts["mask"] != 1 || sum.Summary.Verdicts["reject"] != 1 {
		t.Fatalf("summary %s", got[5])
	}
}

func TestDryRunUsage(t *testing.T) {
	var errs bytes.Buffer
	if code := run(context.Background(), []string{"test"}, envFrom(nil), io.Discard, &errs); code != 2 {
		t.Fatalf("exit %d", code)
	}
	if code := run(context.Background(), []string{"test", "--jsonl", "/nonexistent", shippedRules(t)}, envFrom(nil), io.Discard, &errs); code != 1 {
		t.Fatalf("missing input file: exit %d", code)
	}
}

// TestSIGHUPReloads: serve reloads the rules file on SIGHUP (it listens for
// the signal before it starts listening for requests).
func TestSIGHUPReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	write := func(word string) {
		os.WriteFile(path, []byte("version: 1\nrules:\n  - id: r\n    when: {text: {contains: ["+word+"]}}\n    action: mask\n"), 0o644)
	}
	write("alpha")
	r := start(t, map[string]string{"MODGATE_RULES": path, "STREAM_API_SECRET": "secret", "MODGATE_RULES_POLL": "1h"})
	write("beta")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, body := post(t, r.addr, "secret", `{"message":{"text":"beta"}}`); body == `{"message":{"text":"****"}}` {
			if !strings.Contains(r.stderr.String(), "SIGHUP") {
				t.Fatalf("no log line for the signal:\n%s", r.stderr)
			}
			return
		}
	}
	t.Fatal("SIGHUP did not reload the rules")
}

func TestMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want int64
		err  bool
	}{
		{env: nil, want: 128 << 20},
		{env: map[string]string{"MODGATE_MEMORY_LIMIT": "256MiB"}, want: 256 << 20},
		{env: map[string]string{"MODGATE_MEMORY_LIMIT": "0"}, want: 0},
		{env: map[string]string{"MODGATE_MEMORY_LIMIT": "lots"}, err: true},
		{env: map[string]string{"MODGATE_MEMORY_LIMIT": "-5MiB"}, err: true},
		{env: map[string]string{"GOMEMLIMIT": "1GiB", "MODGATE_MEMORY_LIMIT": "64MiB"}, want: 0},
	} {
		got, err := memoryLimit(func(k string) string { return c.env[k] })
		if (err != nil) != c.err || got != c.want {
			t.Errorf("%v: %d, %v; want %d (error %v)", c.env, got, err, c.want, c.err)
		}
	}
}

// TestStopDrainsFirst: when the process is told to stop (SIGTERM, here the
// context run is given), /readyz turns 503 at once while requests are still
// answered for MODGATE_DRAIN; then the listener closes and run returns 0.
// The test observes the order of these, not how long each takes.
func TestStopDrainsFirst(t *testing.T) {
	r := start(t, map[string]string{"MODGATE_RULES": shippedRules(t), "STREAM_API_SECRET": "secret", "MODGATE_DRAIN": "3s"})
	conn, err := net.Dial("tcp", r.addr) // a keep-alive connection opened before the signal
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	r.cancel()
	// Readiness turns 503 first.
	for {
		resp, err := http.Get("http://" + r.addr + "/readyz")
		if err != nil {
			t.Fatalf("the listener closed before the drain: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 503 {
			if !strings.Contains(string(body), `"status":"draining"`) {
				t.Fatalf("readyz while draining: %s", body)
			}
			break
		}
	}
	// Requests are still answered, on new connections and on open ones.
	if code, body := post(t, r.addr, "secret", `{"message":{"text":"this is bullshit"}}`); code != 200 || body != `{"message":{"text":"this is ********"}}` {
		t.Fatalf("during the drain: %d %s", code, body)
	}
	body := `{"message":{"text":"still here"}}`
	fmt.Fprintf(conn, "POST /hooks/before-message-send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"X-Signature: %s\r\nContent-Length: %d\r\n\r\n%s", stream.Sign("secret", []byte(body)), len(body), body)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("on a connection opened before the signal: %v %v", resp, err)
	}
	resp.Body.Close()
	select {
	case code := <-r.done:
		r.done <- code
		t.Fatalf("run returned (%d) before the drain ended", code)
	default:
	}
	if code := r.stop(t); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, r.stderr)
	}
	if _, err := net.Dial("tcp", r.addr); err == nil {
		t.Fatal("still listening after run returned")
	}
	logs := r.stderr.String()
	draining, shutting, stopped := strings.Index(logs, `"msg":"draining`), strings.Index(logs, `"msg":"shutting down`), strings.Index(logs, `"msg":"stopped"`)
	if draining < 0 || !(draining < shutting && shutting < stopped) {
		t.Fatalf("log lines out of order (draining %d, shutting down %d, stopped %d):\n%s", draining, shutting, stopped, logs)
	}
}

func TestDrainConfiguration(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want time.Duration
		err  bool
	}{{"", 5 * time.Second, false}, {"0", 0, false}, {"250ms", 250 * time.Millisecond, false}, {"soon", 0, true}, {"-1s", 0, true}} {
		c, err := loadConfig(envFrom(map[string]string{"MODGATE_DRAIN": tc.v}).get)
		if (err != nil) != tc.err || (!tc.err && c.drain != tc.want) {
			t.Errorf("MODGATE_DRAIN=%q: %v, %v; want %v (error %v)", tc.v, c.drain, err, tc.want, tc.err)
		}
	}
}
