package hook_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modgate/modgate/hook"
	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/storage"
)

// decisionRecorder stands for Stream's REST API behind the review queue:
// it records the decisions that reach it.
type decisionRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (d *decisionRecorder) add(call string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, call)
	return nil
}

func (d *decisionRecorder) got() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls)
}

func (d *decisionRecorder) Patch(_ context.Context, h *moderation.Held) error {
	return d.add("patch " + h.MessageID + " " + h.ApprovedText())
}
func (d *decisionRecorder) Commit(_ context.Context, id string) error { return d.add("commit " + id) }
func (d *decisionRecorder) Delete(_ context.Context, id string) error { return d.add("delete " + id) }
func (d *decisionRecorder) Send(_ context.Context, h *moderation.Held) error {
	return d.add("send " + h.ID)
}
func (d *decisionRecorder) Remove(_ context.Context, id string) error { return d.add("remove " + id) }
func (d *decisionRecorder) Enforce(_ context.Context, h *moderation.Held, _ time.Time) error {
	return d.add(h.Consequence.Do + " " + h.UserID)
}

// withReviews gives a fixture a review queue whose decisions reach pub.
func withReviews(pub *decisionRecorder) func(*hook.Config) {
	return func(c *hook.Config) {
		c.Reviews = &moderation.Reviews{Queue: storage.NewMemoryQueue(0), Publisher: pub, Audit: storage.NewMemoryAudit(0)}
	}
}

// pendingBody is a PassOnPendingMessage call in Stream's older envelope.
func pendingBody(id, text string) string {
	return `{"message":{"id":"` + id + `","text":"` + text + `","cid":"messaging:general","user":{"id":"u1"},` +
		`"created_at":"` + time.Now().UTC().Format(time.RFC3339) + `"},"metadata":{"source":"app"},"request_info":{"ip":"1.2.3.4"}}`
}

const (
	beforeSendPath = "/hooks/before-message-send"
	pendingPath    = "/hooks/pending/PassOnPendingMessage"
)

// metricValue reads one sample of the server's /metrics, or -1.
func metricValue(t *testing.T, f *fixture, series string) float64 {
	t.Helper()
	metrics := f.do(httptest.NewRequest(http.MethodGet, "/metrics", nil)).Body.String()
	for _, line := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	return -1
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now().UTC().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestSlowBodyIsStillModerated: MODGATE_DEADLINE counts from the moment
// the whole body has been read. A body that trickles in over longer than
// the deadline, through a real server, still has its slur refused or its
// swear word masked, on both hooks; the latency histogram still measures
// from the request's arrival. The trickle moves the clock the hooks and the
// engine read, rather than taking the time.
func TestSlowBodyIsStillModerated(t *testing.T) {
	t.Parallel()
	const deadline = 250 * time.Millisecond
	cases := []struct {
		name, path, body, want, hook string
		decision                     string // what reaches Stream after a pending call
	}{
		{"before-send refuses", beforeSendPath, payload(`{"text":"you slurword"}`),
			`{"message":{"type":"error","text":"Slurs are not allowed here."}}`, "before_send", ""},
		{"before-send masks", beforeSendPath, payload(`{"text":"what the fuck"}`), `{"message":{"text":"what the ****"}}`, "before_send", ""},
		{"pending refuses", pendingPath, pendingBody("p-slow", "you slurword"), `{"result":"rejecting"}`, "pending", "delete p-slow"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pub := &decisionRecorder{}
			clock := newFakeClock()
			arrived := make(chan struct{}) // closed when the hook first reads the clock: the request arrived
			var once sync.Once
			f := newFixture(t, func(c *hook.Config) {
				c.Deadline, c.PendingDeadline = deadline, deadline
				c.Now = func() time.Time {
					once.Do(func() { close(arrived) })
					return clock.Now()
				}
				c.Engine = moderation.NewEngine(c.Engine.Rules(), moderation.EngineOptions{
					State: storage.NewMemory(storage.MemoryOptions{}), Now: clock.Now})
				withReviews(pub)(c)
			})
			srv := httptest.NewServer(f.server)
			defer srv.Close()

			body := []byte(tc.body)
			pr, pw := io.Pipe()
			go func() {
				pw.Write(body[:len(body)/2])
				select {
				case <-arrived: // the request is being read: the rest trickles in
				case <-time.After(10 * time.Second):
					pw.CloseWithError(errors.New("the request never reached the handler"))
					return
				}
				clock.Advance(2 * deadline)
				pw.Write(body[len(body)/2:])
				pw.Close()
			}()
			req, err := http.NewRequest(http.MethodPost, srv.URL+tc.path, pr)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Api-Key", testKey)
			req.Header.Set("X-Signature", stream.Sign(testSecret, body))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(answer)) != tc.want {
				t.Fatalf("status %d, answer %s, want %s", resp.StatusCode, answer, tc.want)
			}
			if tc.decision != "" {
				f.reviews.Wait()
				if got := pub.got(); !slices.Equal(got, []string{tc.decision}) {
					t.Fatalf("Stream got %v, want %s", got, tc.decision)
				}
			}
			if n := metricValue(t, f, `modgate_deadline_exceeded_total`); n != 0 {
				t.Fatalf("%v deadlines counted", n)
			}
			if sum := metricValue(t, f, `modgate_hook_duration_seconds_sum{hook="`+tc.hook+`"}`); sum != (2 * deadline).Seconds() {
				t.Fatalf("latency %vs, want %vs: the histogram measures from the request's arrival", sum, (2 * deadline).Seconds())
			}
		})
	}
}

// TestPendingFailsLikeBeforeSend: a request that fails gets the same status
// and code on both hooks, and pending calls are in the request metrics
// (hook "pending", by outcome) and the latency histogram.
func TestPendingFailsLikeBeforeSend(t *testing.T) {
	t.Parallel()
	pub := &decisionRecorder{}
	f := newFixture(t, func(c *hook.Config) {
		c.MaxBody = 4 << 10
		withReviews(pub)(c)
	})
	big := strings.Repeat("a", 5<<10)
	bomb := gzipped(t, []byte(`{"message":{"id":"p","text":"`+strings.Repeat(" ", 1<<20)+`"}}`))
	corrupt := gzipped(t, []byte(pendingBody("p-gz", "hello")))
	corrupt = corrupt[:len(corrupt)/2]
	cases := []struct {
		name         string
		req          func(path string) *http.Request
		status       int
		code, metric string
	}{
		{"too large", func(path string) *http.Request { return signedTo(path, []byte(pendingBody("p-big", big))) }, 413, "too_large", "too_large"},
		{"too large, no length", func(path string) *http.Request {
			r := signedTo(path, []byte(pendingBody("p-big", big)))
			r.ContentLength = -1
			r.Body = io.NopCloser(struct{ io.Reader }{strings.NewReader(pendingBody("p-big", big))})
			return r
		}, 413, "too_large", "too_large"},
		{"gzip bomb", func(path string) *http.Request { return signedTo(path, bomb) }, 413, "too_large", "too_large"},
		{"corrupt gzip", func(path string) *http.Request { return signedTo(path, corrupt) }, 400, "bad_body", "bad_request"},
		{"wrong signature", func(path string) *http.Request {
			r := signedTo(path, []byte(pendingBody("p-sig", "hello")))
			r.Header.Set("X-Signature", stream.Sign("guess", []byte(pendingBody("p-sig", "hello"))))
			return r
		}, 401, "bad_signature", "unauthorized"},
		{"not JSON", func(path string) *http.Request { return signedTo(path, []byte(`{"message":`)) }, 400, "bad_payload", "bad_request"},
	}
	for _, tc := range cases {
		for _, path := range []string{beforeSendPath, pendingPath} {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				wantError(t, f.do(tc.req(path)), tc.status, tc.code)
			})
		}
	}
	for _, hook := range []string{"before_send", "pending"} {
		for outcome, want := range map[string]float64{"too_large": 3, "bad_request": 2, "unauthorized": 1} {
			series := `modgate_hook_requests_total{hook="` + hook + `",outcome="` + outcome + `"}`
			if got := metricValue(t, f, series); got != want {
				t.Errorf("%s = %v, want %v", series, got, want)
			}
		}
	}

	calls := []struct{ path, body, webhookID, result string }{
		{pendingPath, pendingBody("p-1", "you slurword"), "", "rejecting"},
		{pendingPath, pendingBody("p-2", "hello"), "wh-p2", "approving"},
		{pendingPath, pendingBody("p-2", "hello"), "wh-p2", "seen"},
		{"/hooks/pending/DeletedPendingMessage", pendingBody("p-3", "gone"), "", "dropped"},
	}
	for _, call := range calls {
		req := signedTo(call.path, []byte(call.body))
		req.Header.Set("X-Webhook-Id", call.webhookID)
		rec := f.do(req)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"result":"`+call.result+`"`) {
			t.Fatalf("%s: %d %s, want %s", call.path, rec.Code, rec.Body, call.result)
		}
	}
	f.reviews.Wait()
	for series, want := range map[string]float64{
		`modgate_hook_requests_total{hook="pending",outcome="reject"}`:  1,
		`modgate_hook_requests_total{hook="pending",outcome="allow"}`:   1,
		`modgate_hook_requests_total{hook="pending",outcome="replay"}`:  1,
		`modgate_hook_requests_total{hook="pending",outcome="dropped"}`: 1,
		`modgate_rule_decisions_total{action="reject",rule="slurs"}`:    1,
		`modgate_hook_duration_seconds_count{hook="pending"}`:           float64(len(cases) + len(calls)),
		`modgate_hook_duration_seconds_count{hook="before_send"}`:       float64(len(cases)),
	} {
		if got := metricValue(t, f, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

// signedTo is a call to a hook's path signed as Stream signs it.
func signedTo(path string, body []byte) *http.Request {
	req := signed(body, testKey, testSecret)
	req.URL.Path, req.RequestURI = path, path
	return req
}

// TestBeforeSendRequestAllocations: the whole before-send path (Echo, the
// signature, the payload scan that also looks for the flag field, the
// shipped rules with memory state, the answer) allocates nothing for a
// clean message. The request and writer are reused: net/http's share is not
// modgate's.
func TestBeforeSendRequestAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	srv := shippedServer(t)
	var bodies [][]byte
	var sigs [][]string
	for i, body := range benchBodies(4096) { // each sender once: no limit is reached
		if i%8 == 5 {
			continue // the abusive one of every eight
		}
		bodies = append(bodies, body)
		sigs = append(sigs, []string{stream.Sign(testSecret, body)})
	}
	ids := make([][]string, 4200) // each run its own: a repeated id is a retry
	for i := range ids {
		ids[i] = []string{"wh-alloc-" + strconv.Itoa(i)}
	}
	i := 0
	// Served alone, and as the face of the hooks when the admin API has an
	// address of its own.
	for _, h := range []struct {
		name string
		http.Handler
	}{{"server", srv}, {"hooks face", srv.Hooks()}} {
		t.Run(h.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, beforeSendPath, nil)
			req.Header.Set("X-Api-Key", testKey)
			var body bytes.Reader
			rc := io.NopCloser(&body)
			w := &discardWriter{h: http.Header{}}
			allocs := testing.AllocsPerRun(2000, func() {
				n := i % len(bodies)
				body.Reset(bodies[n])
				req.Body, req.ContentLength = rc, int64(len(bodies[n]))
				req.Header["X-Signature"], req.Header["X-Webhook-Id"] = sigs[n], ids[i]
				clear(w.h)
				h.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					t.Fatalf("status %d", w.status)
				}
				i++
			})
			if allocs > 0 { // the state's maps growing now and then round down to none
				t.Fatalf("%.2f allocations per clean message", allocs)
			}
		})
	}
}
