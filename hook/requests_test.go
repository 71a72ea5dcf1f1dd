package hook_test

import (
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

func (d *decisionRecorder) Commit(_ context.Context, id string) error { return d.add("commit " + id) }
func (d *decisionRecorder) Delete(_ context.Context, id string) error { return d.add("delete " + id) }
func (d *decisionRecorder) Send(_ context.Context, h *moderation.Held) error {
	return d.add("send " + h.ID)
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

// TestSlowBodyIsStillModerated: MODGATE_DEADLINE counts from the moment
// the whole body has been read. A body that trickles in over longer than
// the deadline, through a real server, still has its slur refused or its
// swear word masked, on both hooks; the latency histogram still measures
// from the request's arrival.
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
			f := newFixture(t, func(c *hook.Config) {
				c.Deadline = deadline
				withReviews(pub)(c)
			})
			arrived := make(chan struct{})
			var once sync.Once
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				once.Do(func() { close(arrived) })
				f.server.ServeHTTP(w, r)
			}))
			defer srv.Close()

			body := []byte(tc.body)
			pr, pw := io.Pipe()
			go func() {
				pw.Write(body[:len(body)/2])
				select {
				case <-arrived: // the request is being handled: the rest trickles in
				case <-time.After(10 * time.Second):
					pw.CloseWithError(errors.New("the request never reached the handler"))
					return
				}
				time.Sleep(2 * deadline)
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
				f.server.Wait()
				if got := pub.got(); !slices.Equal(got, []string{tc.decision}) {
					t.Fatalf("Stream got %v, want %s", got, tc.decision)
				}
			}
			if n := metricValue(t, f, `modgate_deadline_exceeded_total`); n != 0 {
				t.Fatalf("%v deadlines counted", n)
			}
			if sum := metricValue(t, f, `modgate_hook_duration_seconds_sum{hook="`+tc.hook+`"}`); tc.hook == "before_send" && sum < deadline.Seconds() {
				t.Fatalf("latency %vs: the histogram must measure from the request's arrival", sum)
			}
		})
	}
}
