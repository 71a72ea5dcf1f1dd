package stream

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fakeStream is a local stand-in for Stream's REST API: it checks what it
// receives like Stream would and answers from a script.
type fakeStream struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	calls  []string // "METHOD path?query body"
	script []func(w http.ResponseWriter) bool
}

func (f *fakeStream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	tok, err := jwt.Parse(r.Header.Get("Authorization"), func(*jwt.Token) (any, error) { return []byte(f.secret), nil },
		jwt.WithValidMethods([]string{"HS256"}))
	if err != nil || !tok.Valid {
		f.t.Errorf("bad JWT %q: %v", r.Header.Get("Authorization"), err)
		w.WriteHeader(401)
		return
	}
	if claims, _ := tok.Claims.(jwt.MapClaims); len(claims) != 1 || claims["server"] != true {
		f.t.Errorf("JWT claims %v, want exactly {server: true}", tok.Claims)
	}
	if r.Header.Get("Stream-Auth-Type") != "jwt" || r.URL.Query().Get("api_key") != "key" {
		f.t.Errorf("headers %v query %v", r.Header, r.URL.Query())
	}
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path+"?"+r.URL.Query().Encode()+" "+string(body))
	var step func(w http.ResponseWriter) bool
	if len(f.script) > 0 {
		step, f.script = f.script[0], f.script[1:]
	}
	f.mu.Unlock()
	if step != nil && step(w) {
		return
	}
	w.WriteHeader(http.StatusCreated)
	w.Write([]byte(`{"duration":"1ms"}`))
}

func status(code int, body string, headers ...string) func(w http.ResponseWriter) bool {
	return func(w http.ResponseWriter) bool {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(code)
		w.Write([]byte(body))
		return true
	}
}

func newFake(t *testing.T, script ...func(w http.ResponseWriter) bool) (*fakeStream, *Client, *[]time.Duration) {
	f := &fakeStream{t: t, secret: "secret", script: script}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	var waits []time.Duration
	c, err := NewClient("key", "secret", ClientOptions{BaseURL: srv.URL, CallTimeout: 200 * time.Millisecond,
		Sleep: func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	return f, c, &waits
}

func TestClientCalls(t *testing.T) {
	t.Parallel()
	f, c, _ := newFake(t)
	ctx := context.Background()
	if err := c.CommitMessage(ctx, "msg/1"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteMessage(ctx, "m2"); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMessage(ctx, "messaging", "general", json.RawMessage(`{"text":"hi","user_id":"u-17","custom":1}`)); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"POST /messages/msg/1/commit?api_key=key ",
		"DELETE /messages/m2?api_key=key&hard=true ",
		`POST /channels/messaging/general/message?api_key=key {"message":{"text":"hi","user_id":"u-17","custom":1}}`,
	}
	if strings.Join(f.calls, "\n") != strings.Join(want, "\n") {
		t.Fatalf("calls:\n%s\nwant:\n%s", strings.Join(f.calls, "\n"), strings.Join(want, "\n"))
	}
	if err := c.SendMessage(ctx, "messaging", "general", json.RawMessage(`[1]`)); err == nil {
		t.Fatal("a message that is not an object was sent")
	}
}

func TestClientRetries(t *testing.T) {
	t.Parallel()
	t.Run("5xx and network-like failures, then success", func(t *testing.T) {
		f, c, waits := newFake(t, status(503, "upstream down"), status(502, `{"code":-1,"message":"bad gateway"}`))
		if err := c.CommitMessage(context.Background(), "m"); err != nil {
			t.Fatal(err)
		}
		if len(f.calls) != 3 || len(*waits) != 2 || (*waits)[0] <= 0 {
			t.Fatalf("%d calls, waits %v", len(f.calls), *waits)
		}
	})
	t.Run("429 waits for X-RateLimit-Reset", func(t *testing.T) {
		reset := strconv.FormatInt(time.Now().Add(3*time.Second).Unix(), 10)
		_, c, waits := newFake(t, status(429, "Too Many Requests", "X-RateLimit-Reset", reset))
		if err := c.CommitMessage(context.Background(), "m"); err != nil {
			t.Fatal(err)
		}
		if len(*waits) != 1 || (*waits)[0] < 1500*time.Millisecond || (*waits)[0] > 4*time.Second {
			t.Fatalf("waited %v, want until the reset", *waits)
		}
	})
	t.Run("a timeout is retried", func(t *testing.T) {
		slow := func(w http.ResponseWriter) bool { time.Sleep(400 * time.Millisecond); return false }
		f, c, _ := newFake(t, slow)
		if err := c.CommitMessage(context.Background(), "m"); err != nil {
			t.Fatal(err)
		}
		if len(f.calls) != 2 {
			t.Fatalf("%d calls", len(f.calls))
		}
	})
	t.Run("client errors are not retried, and decoded", func(t *testing.T) {
		f, c, _ := newFake(t, status(400, `{"code":4,"message":"message is not pending","exception_fields":{"id":"x"},"StatusCode":400,"duration":"0.1ms","more_info":"https://x"}`))
		err := c.CommitMessage(context.Background(), "m")
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Code != 4 || apiErr.StatusCode != 400 || apiErr.HTTPStatus != 400 ||
			apiErr.Message != "message is not pending" || apiErr.ExceptionFields["id"] != "x" || len(f.calls) != 1 {
			t.Fatalf("err %v (%+v), %d calls", err, apiErr, len(f.calls))
		}
	})
	t.Run("gives up after MaxAttempts, with the last error", func(t *testing.T) {
		var script []func(w http.ResponseWriter) bool
		for range 10 {
			script = append(script, status(500, "boom"))
		}
		f, c, _ := newFake(t, script...)
		err := c.DeleteMessage(context.Background(), "m")
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Body != "boom" || len(f.calls) != 5 {
			t.Fatalf("err %v, %d calls", err, len(f.calls))
		}
	})
	t.Run("a cancelled context stops the retries", func(t *testing.T) {
		_, c, _ := newFake(t, status(503, ""), status(503, ""))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := c.CommitMessage(ctx, "m"); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestNewClientRefusesBadConfig(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, key, secret, base string }{
		{"no key", "", "s", ""},
		{"no secret", "k", "", ""},
		{"not http", "k", "s", "ftp://x"},
		{"not a URL", "k", "s", "::"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewClient(tc.key, tc.secret, ClientOptions{BaseURL: tc.base}); err == nil {
				t.Errorf("%+v accepted", tc)
			}
		})
	}
}
