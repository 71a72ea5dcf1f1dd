package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// servers are the processes the tool starts: modgates and the baseline.
// Only the goroutine that runs the tool uses it.
type servers struct {
	cpu      string         // the CPU the servers run on; "" for any
	pids     map[string]int // server URL → process id
	modgate  string         // the modgate binary
	buildDir string         // where modgate was built, removed at the end
}

func newServers() *servers { return &servers{pids: map[string]int{}} }

// binary returns the modgate binary to start: path, or modgate built from
// the checkout the tool runs in.
func (s *servers) binary(ctx context.Context, path string) (string, error) {
	if path != "" {
		s.modgate = path
		return path, nil
	}
	if s.modgate != "" {
		return s.modgate, nil
	}
	dir, err := os.MkdirTemp("", "modgate-load-")
	if err != nil {
		return "", err
	}
	s.buildDir = dir
	bin := filepath.Join(dir, "modgate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/modgate/modgate/cmd/modgate")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building modgate (run the tool inside the modgate checkout, or pass -modgate): %w\n%s", err, out)
	}
	s.modgate = bin
	return bin, nil
}

// close removes what the tool built.
func (s *servers) close() {
	if s.buildDir != "" {
		os.RemoveAll(s.buildDir)
	}
}

// start runs exe with args on a free port (MODGATE_ADDR) and waits until
// it answers /healthz. stop ends it and returns its resident size (KiB).
func (s *servers) start(ctx context.Context, exe string, args []string, env map[string]string) (url string, stop func() int64, err error) {
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.CommandContext(ctx, exe, args...)
	if s.cpu != "" {
		cmd = exec.CommandContext(ctx, "taskset", append([]string{"-c", s.cpu, exe}, args...)...)
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
	url = "http://" + addr
	stop = func() int64 {
		rss := rssOfPid(cmd.Process.Pid)
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
		}
		return rss
	}
	s.pids[url] = cmd.Process.Pid
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
	return "", nil, fmt.Errorf("%s did not start: %s", exe, stderr.String())
}

// pinLoad moves this process off the last CPU, for the servers, when there
// are two or more and taskset can place the servers there.
func (s *servers) pinLoad() (int, bool) {
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
	s.cpu = strconv.Itoa(n - 1)
	return n - 1, true
}

func (s *servers) rss(url string) int64 {
	if pid, ok := s.pids[url]; ok {
		return rssOfPid(pid)
	}
	return 0
}

// cpuTime returns the CPU time (user and system) a server the tool started
// has used so far, and whether it is known (a server that has not used a
// clock tick yet has used 0).
func (s *servers) cpuTime(url string) (time.Duration, bool) {
	pid, ok := s.pids[url]
	if !ok {
		return 0, false
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
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
