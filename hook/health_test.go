package hook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modgate/modgate/hook"
)

// flakyState is shared state whose servers fail on demand.
type flakyState struct {
	mu      sync.Mutex
	err     error
	checked chan struct{} // a value after each check
}

func (f *flakyState) Check(context.Context) error {
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	select {
	case f.checked <- struct{}{}:
	default:
	}
	return err
}

func (f *flakyState) AnswersDropped() (uint64, uint64) { return 3, 4 }

func (f *flakyState) fail(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

type readyBody struct {
	Status   string   `json:"status"`
	State    string   `json:"state"`
	Warnings []string `json:"warnings"`
}

func ready(t *testing.T, f *fixture) (int, readyBody) {
	t.Helper()
	rec := f.do(httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var b readyBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("readyz %s: %v", rec.Body, err)
	}
	return rec.Code, b
}

// TestReadyWhileStateDegraded: with rules loaded, a failing Redis leaves
// the process ready (word rules need none) and is reported as degraded in
// the body, in modgate_state_healthy and in one log line per change.
func TestReadyWhileStateDegraded(t *testing.T) {
	var logs syncBuf
	st := &flakyState{checked: make(chan struct{}, 1)}
	f := newFixture(t, func(c *hook.Config) {
		c.SharedState = st
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	if code, b := ready(t, f); code != 200 || b.State != "unknown" {
		t.Fatalf("before any check: %d %+v", code, b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watched := make(chan struct{})
	go func() { f.server.WatchState(ctx, 5*time.Millisecond); close(watched) }()
	// waitState waits for a check made after the change, then one more, so
	// the state the test reads is the outcome of a check that saw it.
	waitState := func(want string) readyBody {
		t.Helper()
		<-st.checked
		<-st.checked
		code, b := ready(t, f)
		if code != 200 || b.Status != "ready" || b.State != want {
			t.Fatalf("readyz %d %+v, want 200 ready with state %s", code, b, want)
		}
		return b
	}
	waitState("ok")
	st.fail(errors.New("master 127.0.0.1:7102: connection refused"))
	if b := waitState("degraded"); len(b.Warnings) == 0 {
		t.Fatalf("no warning while degraded: %+v", b)
	}
	metrics := f.do(httptest.NewRequest(http.MethodGet, "/metrics", nil)).Body.String()
	for _, want := range []string{"modgate_state_healthy 0", `modgate_state_answers_dropped_total{reason="queue_full"} 3`,
		`modgate_state_answers_dropped_total{reason="write_failed"} 4`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	st.fail(nil)
	waitState("ok")
	if metrics := f.do(httptest.NewRequest(http.MethodGet, "/metrics", nil)).Body.String(); !strings.Contains(metrics, "modgate_state_healthy 1") {
		t.Error("modgate_state_healthy is not 1 once Redis is back")
	}
	cancel()
	<-watched
	var degraded, ok int
	for _, line := range strings.Split(logs.String(), "\n") {
		switch {
		case strings.Contains(line, "shared state degraded") && strings.Contains(line, "7102"):
			degraded++
		case strings.Contains(line, `"msg":"shared state ok"`):
			ok++
		}
	}
	if degraded != 1 || ok != 2 {
		t.Fatalf("want one log line per change (1 degraded, 2 ok), got %d and %d:\n%s", degraded, ok, logs.String())
	}
}

// TestDrainMakesUnready: once draining, /readyz is 503 and hooks are still
// answered.
func TestDrainMakesUnready(t *testing.T) {
	f := newFixture(t, nil)
	f.server.Drain()
	if code, b := ready(t, f); code != 503 || b.Status != "draining" {
		t.Fatalf("readyz while draining: %d %+v", code, b)
	}
	if got := answerMessage(t, f.send(payload(`{"text":"shit"}`))); string(got) != `{"text":"****"}` {
		t.Fatalf("answer while draining: %s", got)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
