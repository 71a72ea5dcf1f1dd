package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/hook/stream"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAdminAddress: with MODGATE_ADMIN_ADDR, the hooks' address answers
// the hooks and health only, and the admin address everything else.
func TestAdminAddress(t *testing.T) {
	r := start(t, map[string]string{"MODGATE_RULES": shippedRules(t), "STREAM_API_SECRET": "secret",
		"MODGATE_ADMIN_ADDR": "127.0.0.1:0", "MODGATE_ADMIN_TOKENS": "ann:read:read-token-0123456789"})
	if r.adminAddr == "" || r.adminAddr == r.addr {
		t.Fatalf("admin address %q, hooks %q", r.adminAddr, r.addr)
	}
	if code, body := post(t, r.addr, "secret", `{"message":{"text":"this is bullshit"}}`); code != 200 || !strings.Contains(body, "********") {
		t.Fatalf("hook on the hooks' address: %d %s", code, body)
	}
	if code, body := post(t, r.adminAddr, "secret", `{"message":{"text":"hi"}}`); code != 404 {
		t.Fatalf("hook on the admin address: %d %s", code, body)
	}
	cases := []struct {
		path        string
		hooks, admn int
	}{
		{"/healthz", 200, 200},
		{"/readyz", 200, 200},
		{"/metrics", 404, 200},
		{"/admin/openapi.json", 404, 200},
		{"/admin/rules", 404, 401},
		{"/console/login", 404, 200},
		{"/%61dmin/openapi.json", 404, 404}, // the decoded path decides, and Echo finds no such route
		{"/hooks/../admin/openapi.json", 404, 404},
		{"/nothing", 404, 404},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			if code, body := get(t, "http://"+r.addr+tc.path); code != tc.hooks {
				t.Errorf("hooks' address: %d, want %d: %.200s", code, tc.hooks, body)
			}
			if code, body := get(t, "http://"+r.adminAddr+tc.path); code != tc.admn {
				t.Errorf("admin address: %d, want %d: %.200s", code, tc.admn, body)
			}
		})
	}
}

// TestAdminAddressServesProfilesWhenAsked: MODGATE_DEBUG_ADDR equal to
// MODGATE_ADMIN_ADDR puts the profiles there, and never on the hooks'
// address.
func TestAdminAddressServesProfilesWhenAsked(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin := ln.Addr().String()
	ln.Close()
	r := start(t, map[string]string{"MODGATE_RULES": shippedRules(t), "STREAM_API_SECRET": "secret",
		"MODGATE_ADMIN_ADDR": admin, "MODGATE_DEBUG_ADDR": admin})
	if code, _ := get(t, "http://"+r.adminAddr+"/debug/pprof/cmdline"); code != 200 {
		t.Fatalf("profiles on the admin address: %d", code)
	}
	if code, _ := get(t, "http://"+r.adminAddr+"/metrics"); code != 200 {
		t.Fatalf("metrics beside the profiles: %d", code)
	}
	if code, _ := get(t, "http://"+r.addr+"/debug/pprof/cmdline"); code != 404 {
		t.Fatalf("profiles on the hooks' address: %d", code)
	}
}

// sendOn writes a signed before-send request on conn.
func sendOn(t *testing.T, conn net.Conn, text string) {
	t.Helper()
	body := `{"message":{"text":"` + text + `"}}`
	fmt.Fprintf(conn, "POST /hooks/before-message-send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"X-Signature: %s\r\nContent-Length: %d\r\n\r\n%s", stream.Sign("secret", []byte(body)), len(body), body)
}

func readAnswer(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestMaxConns: past MODGATE_MAX_CONNS a new connection waits, unserved,
// while the connections already open go on being answered, and it is
// served once one of them closes. The cap reached is a warning.
func TestMaxConns(t *testing.T) {
	r := start(t, map[string]string{"MODGATE_RULES": shippedRules(t), "STREAM_API_SECRET": "secret", "MODGATE_MAX_CONNS": "2"})
	var conns [2]net.Conn
	var readers [2]*bufio.Reader
	for i := range conns {
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i], readers[i] = c, bufio.NewReader(c)
		sendOn(t, c, "hello")
		if got := readAnswer(t, readers[i]); got != `{"message":{"text":"hello"}}` {
			t.Fatalf("connection %d: %s", i, got)
		}
	}
	third, err := net.Dial("tcp", r.addr) // the kernel takes it; modgate does not yet
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	sendOn(t, third, "third")
	thirdReader := bufio.NewReader(third)
	// The open connections are still answered.
	sendOn(t, conns[0], "again")
	if got := readAnswer(t, readers[0]); got != `{"message":{"text":"again"}}` {
		t.Fatalf("open connection at the cap: %s", got)
	}
	// The third gets no answer while both are open. (A wait that proves
	// nothing arrives: it cannot fail a correct modgate, however slow.)
	third.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := thirdReader.Peek(1); err == nil {
		t.Fatal("a third connection was served past the cap of 2")
	}
	third.SetReadDeadline(time.Time{})
	conns[1].Close()
	if got := readAnswer(t, thirdReader); got != `{"message":{"text":"third"}}` {
		t.Fatalf("third connection once one closed: %s", got)
	}
	if l := findLine(logLines(t, r.stderr.String()), "connection cap reached"); l == nil || l["level"] != "WARN" || l["max_conns"] != 2.0 {
		t.Fatalf("no warning at the cap:\n%s", r.stderr)
	}
}

// TestHealthcheck: modgate healthcheck asks a running modgate, and exits
// 1 when it is not ready or not there.
func TestHealthcheck(t *testing.T) {
	r := start(t, map[string]string{"MODGATE_RULES": shippedRules(t), "STREAM_API_SECRET": "secret"})
	_, port, _ := net.SplitHostPort(r.addr)
	for _, args := range [][]string{
		{"healthcheck"}, {"healthcheck", "-live"}, {"healthcheck", "-addr", r.addr},
	} {
		code, out, errs := runCmd(t, map[string]string{"MODGATE_ADDR": ":" + port}, args...)
		if code != 0 || !strings.HasPrefix(out, "http://127.0.0.1:"+port) || errs != "" {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errs)
		}
	}
	code, out, _ := runCmd(t, map[string]string{"MODGATE_ADDR": "0.0.0.0:" + port}, "healthcheck")
	if code != 0 || out != "http://127.0.0.1:"+port+"/readyz: 200 ready\n" {
		t.Fatalf("exit %d %q", code, out)
	}
	r.stop(t)
	code, _, errs := runCmd(t, map[string]string{"MODGATE_ADDR": ":" + port}, "healthcheck")
	if code != 1 || !strings.Contains(errs, "modgate healthcheck: http://127.0.0.1:"+port+"/readyz: ") {
		t.Fatalf("stopped modgate: exit %d %s", code, errs)
	}
}

// TestHealthcheckWhileDraining: a draining modgate is not ready.
func TestHealthcheckWhileDraining(t *testing.T) {
	r := start(t, map[string]string{"MODGATE_RULES": shippedRules(t), "STREAM_API_SECRET": "secret", "MODGATE_DRAIN": "5s"})
	r.cancel()
	for {
		code, _, errs := runCmd(t, nil, "healthcheck", "-addr", r.addr)
		if code == 1 && strings.Contains(errs, ": 503 draining") {
			break
		}
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
	}
	if code, _, errs := runCmd(t, nil, "healthcheck", "-live", "-addr", r.addr); code != 0 {
		t.Fatalf("alive while draining: exit %d %s", code, errs)
	}
}
