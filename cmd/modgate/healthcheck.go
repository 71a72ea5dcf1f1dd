package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

const healthcheckText = `usage: modgate healthcheck [-live] [-addr ADDR] [-timeout 2s]

Asks the modgate listening on ADDR (MODGATE_ADDR, or :8080) whether it is
ready (/readyz) or, with -live, alive (/healthz), and exits 0 when it
answers 200, 1 otherwise. For container health checks: the image has no
shell and no curl. An address without a host (:8080, 0.0.0.0:8080, [::]:8080)
is asked on the loopback.
`

func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	addr := fs.String("addr", setting(getenv, "MODGATE_ADDR"), "the address modgate listens on (MODGATE_ADDR)")
	live := fs.Bool("live", false, "ask /healthz (the process runs) instead of /readyz (it can moderate)")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the answer")
	if code, ok := parseFlags(fs, args, usageOf(fs, healthcheckText), stdout, stderr); !ok {
		return code
	}
	if code := noArguments("healthcheck", fs.Args(), stderr); code != 0 {
		return code
	}
	path := "/readyz"
	if *live {
		path = "/healthz"
	}
	url, err := localURL(*addr, path)
	if err != nil {
		fmt.Fprintln(stderr, "modgate healthcheck:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(stderr, "modgate healthcheck:", err)
		return 2
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		fmt.Fprintf(stderr, "modgate healthcheck: %s: %v\n", url, err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var answer struct {
		Status string `json:"status"`
		State  string `json:"state"`
	}
	json.Unmarshal(body, &answer)
	line := fmt.Sprintf("%s: %d %s", url, resp.StatusCode, answer.Status)
	if answer.State != "" {
		line += ", shared state " + answer.State
	}
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "modgate healthcheck: %s: %s\n", line, strings.TrimSpace(string(body)))
		return 1
	}
	fmt.Fprintln(stdout, line)
	return 0
}

// localURL is the URL of path on a listening address, asked on the
// loopback when the address names no host or every host.
func localURL(addr, path string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", addr, err)
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}
