package hook

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// States of shared state, as /readyz and the log name them.
const (
	stateUnknown  = "unknown" // not checked yet
	stateOK       = "ok"
	stateDegraded = "degraded"
)

// health is what the process says of itself: whether it is draining, and
// how shared state was at the last check.
type health struct {
	draining atomic.Bool
	checking atomic.Bool // a check is running
	mu       sync.Mutex
	state    string
	since    time.Time
	checked  bool
}

func (h *health) get() (string, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.checked {
		return stateUnknown, time.Time{}
	}
	return h.state, h.since
}

// set records a check's outcome and reports whether the state changed.
func (h *health) set(state string, now time.Time) (changed bool, was string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	was = h.state
	if !h.checked {
		was = stateUnknown
	}
	if h.checked && h.state == state {
		return false, was
	}
	h.state, h.since, h.checked = state, now, true
	return true, was
}

// healthy is 1 when the last check found shared state ok, 0 otherwise.
func (h *health) healthy() float64 {
	if state, _ := h.get(); state == stateOK {
		return 1
	}
	return 0
}

// Drain makes /readyz answer 503 from now on, so that load balancers stop
// sending new requests; the server goes on answering those that come.
func (s *Server) Drain() { s.health.draining.Store(true) }

// WatchState checks shared state every interval until ctx ends, for
// /readyz, the modgate_state_healthy metric and a log line when it
// changes. The first check is made at once. Without shared state it
// returns at once.
func (s *Server) WatchState(ctx context.Context, every time.Duration) {
	if s.cfg.SharedState == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.checkState(ctx, min(every, time.Second))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// errNoAnswer is a check that did not answer in time.
var errNoAnswer = errors.New("the check got no answer in time")

// checkState checks shared state once. The check runs apart, and one that
// does not answer within timeout counts as failed, whatever the client
// does with its context: a hung check must not freeze what /readyz says.
// While it hangs no other check starts.
func (s *Server) checkState(ctx context.Context, timeout time.Duration) {
	var err error
	if !s.health.checking.CompareAndSwap(false, true) {
		err = errNoAnswer // the last check still hangs
	} else {
		done := make(chan error, 1)
		cctx, cancel := context.WithTimeout(ctx, timeout)
		go func() {
			defer s.health.checking.Store(false)
			defer cancel()
			done <- s.cfg.SharedState.Check(cctx)
		}()
		t := time.NewTimer(timeout + timeout/2)
		select {
		case err = <-done:
			t.Stop()
		case <-t.C:
			err = errNoAnswer
		}
	}
	if ctx.Err() != nil {
		return // stopping: the check was cut short, not failed
	}
	state := stateOK
	if err != nil {
		state = stateDegraded
	}
	changed, was := s.health.set(state, time.Now())
	switch {
	case !changed:
	case err != nil:
		s.log.Warn("shared state degraded: limit rules follow their on_error where it fails; still ready", "state", state, "was", was, "err", err)
	default:
		s.log.Info("shared state ok", "state", state, "was", was)
	}
}
