package hook_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/modgate/modgate/hook"
	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
	"github.com/modgate/modgate/storage"
)

const (
	testKey     = "app-key"
	testSecret  = "app-secret"
	rotatedKey  = "app-key-2"
	rotatedSecr = "app-secret-2"
)

const testRules = `
version: 1
settings:
  reject_reply: "Not sent."
lists:
  swears: {terms: [fuck, shit, "piece of shit"]}
  slurs: {terms: [slurword]}
  allowed: {terms: ["dick van dyke"]}
rules:
  - id: trusted-phrase
    when: {text: {contains: ["let me through"]}}
    action: allow
  - id: slurs
    when: {text: {contains: [list.slurs]}}
    action: reject
    reply: "Slurs are not allowed here."
  - id: swears
    when: {text: {contains: [list.swears, dick], except: [list.allowed]}}
    action: mask
`

type fixture struct {
	t       testing.TB
	server  *hook.Server
	engine  *moderation.Engine
	reviews *moderation.Reviews
}

func newFixture(t testing.TB, mutate func(*hook.Config)) *fixture {
	t.Helper()
	set, err := rules.Parse("test.yaml", []byte(testRules), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := hook.Config{
		Keys:   stream.NewKeys(map[string]string{testKey: testSecret, rotatedKey: rotatedSecr}),
		Engine: moderation.NewEngine(set, moderation.EngineOptions{State: storage.NewMemory(storage.MemoryOptions{})}),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	return &fixture{t: t, server: hook.New(cfg), engine: cfg.Engine, reviews: cfg.Reviews}
}

// request builds a before-send call signed exactly as Stream signs it.
func signed(body []byte, key, secret string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/hooks/before-message-send", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", key)
	req.Header.Set("X-Signature", stream.Sign(secret, body))
	req.Header.Set("X-Webhook-Attempt", "1")
	return req
}

func (f *fixture) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.server.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) send(body string) *httptest.ResponseRecorder {
	return f.do(signed([]byte(body), testKey, testSecret))
}

// payload builds a realistic before-send body around a message object.
func payload(message string) string {
	return `{"message":` + message + `,"user":{"id":"u-17","role":"user","created_at":"2026-11-01T10:00:00Z","teams":["red"]},` +
		`"channel":{"cid":"messaging:general","id":"general","type":"messaging","config":{"max_message_length":5000}},` +
		`"request_info":{"type":"client","ip":"86.84.2.2","user_agent":"Mozilla/5.0","sdk":"stream-chat-react-10.11.0","ext":"device-id=123"}}`
}

// answerMessage returns the raw message object of an answer.
func answerMessage(t *testing.T, rec *httptest.ResponseRecorder) json.RawMessage {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	var ans map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, rec.Body)
	}
	if len(ans) != 1 || ans["message"] == nil {
		t.Fatalf("answer must be exactly {\"message\": ...}: %s", rec.Body)
	}
	return ans["message"]
}

func TestStreamTestVector(t *testing.T) {
	t.Parallel()
	got := stream.Sign("my-api-secret", []byte(`{"message":{"text":"hi"}}`))
	if want := "6bcdf3da0c38ea9ea4af1f7a6f8057cb8ea41d6230aa95f8dd9d1faee908abf0"; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	f := newFixture(t, func(c *hook.Config) {
		c.Keys = stream.NewKeys(map[string]string{"k": "my-api-secret"})
	})
	req := httptest.NewRequest(http.MethodPost, "/hooks/before-message-send", strings.NewReader(`{"message":{"text":"hi"}}`))
	req.Header.Set("X-Api-Key", "k")
	req.Header.Set("X-Signature", "6bcdf3da0c38ea9ea4af1f7a6f8057cb8ea41d6230aa95f8dd9d1faee908abf0")
	rec := f.do(req)
	if got := string(answerMessage(t, rec)); got != `{"text":"hi"}` {
		t.Fatalf("answer message %s", got)
	}
}

func TestAllowKeepsTheMessageByteForByte(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	cases := []struct{ name, message string }{
		{"plain", `{"id":"","text":"hello there","type":"regular"}`},
		{"custom and unknown fields", `{"id":"","text":"hello","html":"","type":"regular","attachments":[],"mentioned_users":[],` +
			`"silent":false,"any_custom_field":{"kept":true,"n":1.50e3},"new_stream_field":[1,{"a":null}]}`},
		{"nulls", `{"id":null,"text":null,"attachments":null,"custom":null}`},
		{"no text", `{"id":"","type":"regular","attachments":[{"type":"image","image_url":"https://x.example/a.png"}]}`},
		{"odd spacing and escapes", "{ \"text\" : \"caf\\u00e9 \\\"quoted\\\" \\n line\" ,\n\t\"x\":[ 1 , 2 ] }"},
		{"text not a string", `{"text":42,"type":"regular"}`},
		{"unicode", `{"text":"привет 👋 こんにちは","i18n":{"fr_text":"salut"}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.send(payload(tc.message))
			if got := string(answerMessage(t, rec)); got != tc.message {
				t.Fatalf("answer changed the message:\n got %s\nwant %s", got, tc.message)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("content type %q", ct)
			}
		})
	}
}

func TestMaskReplacesOnlyTheText(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	cases := []struct{ name, text, want string }{
		{"word", "what the fuck is this", "what the **** is this"},
		{"disguised", "what the f.u.c.k", "what the *******"},
		{"phrase", "you piece of shit", "you *************"},
		{"several", "shit, FUCK", "****, ****"},
		{"allow list", "I love dick van dyke films", "I love dick van dyke films"},
		{"allow list does not cover others", "dick van dyke is a dick", "dick van dyke is a ****"},
		{"scunthorpe", "shiitake and shitake are fine, Scunthorpe too", "shiitake and shitake are fine, Scunthorpe too"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text, _ := json.Marshal(tc.text)
			msg := `{"id":"","text":` + string(text) + `,"custom":{"a":[1,2]},"silent":false}`
			got := answerMessage(t, f.send(payload(msg)))
			want := `{"id":"","text":` + string(stream.AppendString(nil, tc.want)) + `,"custom":{"a":[1,2]},"silent":false}`
			if string(got) != want {
				t.Fatalf("\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestReject(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	got := answerMessage(t, f.send(payload(`{"id":"","text":"you slurword","custom":1}`)))
	if string(got) != `{"type":"error","text":"Slurs are not allowed here."}` {
		t.Fatalf("answer %s", got)
	}
}

func TestAllowRuleEndsTheCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	msg := `{"text":"let me through, slurword"}`
	if got := answerMessage(t, f.send(payload(msg))); string(got) != msg {
		t.Fatalf("answer %s", got)
	}
}

func TestEditedMessageIsModerated(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	msg := `{"id":"8c1b2f3e-1","text":"edited to shit","created_at":"2026-11-20T10:00:00Z","updated_at":"2026-11-20T10:01:00Z"}`
	got := answerMessage(t, f.send(payload(msg)))
	want := `{"id":"8c1b2f3e-1","text":"edited to ****","created_at":"2026-11-20T10:00:00Z","updated_at":"2026-11-20T10:01:00Z"}`
	if string(got) != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}

type errorAnswer struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func wantError(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	var e errorAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("error body %s, want code %q", rec.Body, code)
	}
}

func TestSignatures(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	body := []byte(payload(`{"text":"hi"}`))
	cases := []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"first key", func() *http.Request { return signed(body, testKey, testSecret) }, 200},
		{"second key during rotation", func() *http.Request { return signed(body, rotatedKey, rotatedSecr) }, 200},
		{"wrong secret", func() *http.Request { return signed(body, testKey, "guess") }, 401},
		{"secret of the other key", func() *http.Request { return signed(body, testKey, rotatedSecr) }, 401},
		{"unknown key", func() *http.Request { return signed(body, "other", testSecret) }, 401},
		{"missing signature", func() *http.Request {
			r := signed(body, testKey, testSecret)
			r.Header.Del("X-Signature")
			return r
		}, 401},
		{"signature not hex", func() *http.Request {
			r := signed(body, testKey, testSecret)
			r.Header.Set("X-Signature", strings.Repeat("zz", 32))
			return r
		}, 401},
		{"uppercase hex still verifies", func() *http.Request {
			r := signed(body, testKey, testSecret)
			r.Header.Set("X-Signature", strings.ToUpper(r.Header.Get("X-Signature")))
			return r
		}, 200},
		{"body changed after signing", func() *http.Request {
			r := signed(body, testKey, testSecret)
			r.Body = io.NopCloser(bytes.NewReader(bytes.Replace(body, []byte("hi"), []byte("ho"), 1)))
			return r
		}, 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do(tc.req())
			if tc.status == 200 {
				answerMessage(t, rec)
				return
			}
			wantError(t, rec, tc.status, "bad_signature")
		})
	}
}

func TestInsecureModeSkipsSignatures(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *hook.Config) { c.Keys = nil })
	req := httptest.NewRequest(http.MethodPost, "/hooks/before-message-send", strings.NewReader(payload(`{"text":"hi"}`)))
	answerMessage(t, f.do(req))
	rec := f.do(httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "signature checking is OFF") {
		t.Fatalf("readyz must warn: %d %s", rec.Code, rec.Body)
	}
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestGzip(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *hook.Config) { c.MaxBody = 64 << 10 })
	plain := []byte(payload(`{"text":"what the fuck"}`))

	t.Run("valid, signature over the inflated bytes", func(t *testing.T) {
		req := signed(gzipped(t, plain), testKey, testSecret)
		req.Header.Set("X-Signature", stream.Sign(testSecret, plain))
		req.Header.Set("Content-Encoding", "gzip")
		if got := answerMessage(t, f.do(req)); string(got) != `{"text":"what the ****"}` {
			t.Fatalf("answer %s", got)
		}
	})
	t.Run("header removed by a proxy", func(t *testing.T) {
		req := signed(gzipped(t, plain), testKey, testSecret)
		req.Header.Set("X-Signature", stream.Sign(testSecret, plain))
		answerMessage(t, f.do(req))
	})
	t.Run("corrupt", func(t *testing.T) {
		z := gzipped(t, plain)
		z[len(z)/2] ^= 0xff
		z = z[:len(z)-4]
		req := signed(z, testKey, testSecret)
		wantError(t, f.do(req), 400, "bad_body")
	})
	t.Run("bomb", func(t *testing.T) {
		huge := bytes.Repeat([]byte(" "), 50<<20)
		z := gzipped(t, huge)
		if len(z) > 64<<10 {
			t.Fatalf("test bomb is %d bytes compressed", len(z))
		}
		req := signed(z, testKey, testSecret)
		wantError(t, f.do(req), 413, "too_large")
	})
}

func TestOversizedBody(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *hook.Config) { c.MaxBody = 1024 })
	big := []byte(payload(`{"text":"` + strings.Repeat("a", 2000) + `"}`))
	wantError(t, f.do(signed(big, testKey, testSecret)), 413, "too_large")

	// Without a Content-Length the cap still holds while reading.
	req := signed(big, testKey, testSecret)
	req.ContentLength = -1
	req.Body = io.NopCloser(struct{ io.Reader }{bytes.NewReader(big)})
	wantError(t, f.do(req), 413, "too_large")
}

func TestBadPayloads(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	cases := []struct {
		name, body string
		status     int
		code       string
	}{
		{"empty", ``, 400, "bad_payload"},
		{"not json", `hello`, 400, "bad_payload"},
		{"truncated", `{"message":{"text":"hi"`, 400, "bad_payload"},
		{"trailing garbage", `{"message":{"text":"hi"}} x`, 400, "bad_payload"},
		{"array", `[{"message":{}}]`, 400, "bad_payload"},
		{"string", `"message"`, 400, "bad_payload"},
		{"null", `null`, 400, "bad_payload"},
		{"no message", `{"user":{"id":"u"}}`, 400, "bad_payload"},
		{"message is a string", `{"message":"hi"}`, 400, "bad_payload"},
		{"message is null", `{"message":null}`, 400, "bad_payload"},
		{"deep nesting", `{"message":{"text":"hi","x":` + deep + `}}`, 400, "bad_payload"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, f.do(signed([]byte(tc.body), testKey, testSecret)), tc.status, tc.code)
		})
	}
}

func TestHostileButValidPayloads(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	nested := strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000)
	cases := []struct{ name, message string }{
		{"deep but allowed nesting", `{"text":"hi","x":` + nested + `}`},
		{"huge string", `{"text":"` + strings.Repeat("long ", 150000) + `"}`},
		{"wrong types", `{"text":["not","a","string"],"id":{"x":1},"attachments":"nope","user":7}`},
		{"invalid utf-8 kept as received", "{\"text\":\"caf\xe9 \xff\xfe\"}"},
		{"escaped surrogates", `{"text":"\ud83d\ude00 \ud800"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := answerMessage(t, f.send(payload(tc.message))); string(got) != tc.message {
				t.Fatalf("answer changed the message (%d bytes, want %d)", len(got), len(tc.message))
			}
		})
	}
	t.Run("invalid utf-8 in a masked text comes back valid", func(t *testing.T) {
		got := answerMessage(t, f.send(payload("{\"text\":\"shit \xff\"}")))
		if string(got) != "{\"text\":\"**** \uFFFD\"}" || !utf8.Valid(got) {
			t.Fatalf("answer %q", got)
		}
	})
}

// TestRepeatedWebhookIDGetsTheSameAnswer: a retry of a hook call gets the
// answer given the first time, rebuilt from the message and what was kept,
// even after the rules changed; a new webhook id is evaluated afresh.
func TestRepeatedWebhookIDGetsTheSameAnswer(t *testing.T) {
	t.Parallel()
	const flagRule = `
  - id: question
    when: {text: {contains: ["why"]}}
    action: flag
`
	cases := []struct {
		name, message, want string
	}{
		{"masked", `{"text":"shit happens","x":[1]}`, `{"message":{"text":"**** happens","x":[1]}}`},
		{"refused", `{"text":"you slurword"}`, `{"message":{"type":"error","text":"Slurs are not allowed here."}}`},
		{"flagged", `{"text":"but why","custom":{"a":1}}`, `{"message":{"text":"but why","custom":{"a":1},"modgate_flags":["question"]}}`},
		{"unchanged", `{"text":"good day"}`, `{"message":{"text":"good day"}}`},
		{"allowed", `{"text":"let me through, shit"}`, `{"message":{"text":"let me through, shit"}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, func(c *hook.Config) {
				set, err := rules.Parse("test.yaml", []byte(testRules+flagRule), nil)
				if err != nil {
					t.Fatal(err)
				}
				c.Engine.Swap(set)
			})
			call := func(id string, attempt string) string {
				req := signed([]byte(payload(tc.message)), testKey, testSecret)
				req.Header.Set("X-Webhook-Id", id)
				req.Header.Set("X-Webhook-Attempt", attempt)
				rec := f.do(req)
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				return strings.TrimSpace(rec.Body.String())
			}
			if got := call("wh-1", "1"); got != tc.want {
				t.Fatalf("first answer %s, want %s", got, tc.want)
			}
			// The rules change between the attempts: the retry must still
			// get the answer given the first time.
			set, err := rules.Parse("empty.yaml", []byte("version: 1\nrules: []\n"), nil)
			if err != nil {
				t.Fatal(err)
			}
			f.engine.Swap(set)
			if got := call("wh-1", "2"); got != tc.want {
				t.Fatalf("retry answer %s, want %s", got, tc.want)
			}
			if got, fresh := call("wh-2", "1"), `{"message":`+tc.message+`}`; got != fresh {
				t.Fatalf("a new webhook id must be evaluated afresh: %s, want %s", got, fresh)
			}
			if n := metricValue(t, f, `modgate_hook_requests_total{hook="before_send",outcome="replay"}`); n != 1 {
				t.Fatalf("%v replays counted, want 1", n)
			}
		})
	}
}

func TestDeadlineLetsTheMessageThrough(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *hook.Config) { c.Deadline = time.Nanosecond })
	msg := `{"text":"you slurword"}`
	if got := answerMessage(t, f.send(payload(msg))); string(got) != msg {
		t.Fatalf("past the deadline the message must go through unchanged: %s", got)
	}
	metrics := f.do(httptest.NewRequest(http.MethodGet, "/metrics", nil)).Body.String()
	for _, want := range []string{"modgate_deadline_exceeded_total 1", `outcome="deadline"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("metrics lack %q:\n%s", want, grep(metrics, "deadline"))
		}
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.send(payload(`{"text":"shit"}`))
	f.send(payload(`{"text":"slurword"}`))
	f.send(payload(`{"text":"fine"}`))

	rec := f.do(httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != 200 {
		t.Fatalf("healthz %d", rec.Code)
	}
	rec = f.do(httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var ready struct {
		Status string `json:"status"`
		Rules  struct {
			Version string `json:"version"`
			Rules   int    `json:"rules"`
		} `json:"rules"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &ready); err != nil || rec.Code != 200 || ready.Status != "ready" ||
		ready.Rules.Rules != 3 || ready.Rules.Version == "" {
		t.Fatalf("readyz %d %s", rec.Code, rec.Body)
	}
	metrics := f.do(httptest.NewRequest(http.MethodGet, "/metrics", nil)).Body.String()
	for _, want := range []string{
		`modgate_hook_requests_total{hook="before_send",outcome="mask"} 1`,
		`modgate_hook_requests_total{hook="before_send",outcome="reject"} 1`,
		`modgate_hook_requests_total{hook="before_send",outcome="allow"} 1`,
		`modgate_rule_decisions_total{action="mask",rule="swears"} 1`,
		`modgate_rule_decisions_total{action="reject",rule="slurs"} 1`,
		`modgate_hook_duration_seconds_count{hook="before_send"} 3`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestUnknownRoutesAndMethodsAnswerJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	wantError(t, f.do(httptest.NewRequest(http.MethodGet, "/nope", nil)), 404, "not_found")
	wantError(t, f.do(httptest.NewRequest(http.MethodGet, "/hooks/before-message-send", nil)), 405, "method_not_allowed")
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestRewriteFlagAndHoldAnswers(t *testing.T) {
	t.Parallel()
	set, err := rules.Parse("test.yaml", []byte(`
version: 1
settings: {hold_reply: "Waiting for a moderator."}
rules:
  - id: hold-links-new
    when: {all: [{links: {count_over: 0}}, {user.account_age: {under: 24h}}]}
    action: hold
  - id: quiet
    when: {text: {contains: [psst]}}
    action: rewrite
    rewrite: {silent: true, set: {topic: whisper}}
  - id: question
    when: {text: {contains: [why]}}
    action: flag
  - id: observe-everything
    when: {text.length: {over: 0}}
    action: reject
    mode: observe
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *hook.Config) {
		c.Engine = moderation.NewEngine(set, moderation.EngineOptions{State: storage.NewMemory(storage.MemoryOptions{})})
		c.Reviews = &moderation.Reviews{Queue: storage.NewMemoryQueue(0)}
	})
	newUser := `{"id":"u9","created_at":"` + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339) + `"}`

	hold := `{"message":{"text":"buy at https://spam.example.com"},"user":` + newUser + `,"channel":{"cid":"messaging:a"}}`
	if got := answerMessage(t, f.send(hold)); string(got) != `{"type":"error","text":"Waiting for a moderator."}` {
		t.Fatalf("hold answer %s", got)
	}
	rewrite := payload(`{"text":"psst why","silent":false,"custom":{"k":[1]}}`)
	want := `{"text":"psst why","silent":true,"custom":{"k":[1]},"topic":"whisper","modgate_flags":["question"]}`
	if got := answerMessage(t, f.send(rewrite)); string(got) != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	metrics := f.do(httptest.NewRequest(http.MethodGet, "/metrics", nil)).Body.String()
	for _, w := range []string{
		`modgate_hook_requests_total{hook="before_send",outcome="hold"} 1`,
		`modgate_hook_requests_total{hook="before_send",outcome="rewrite"} 1`,
		`modgate_rule_decisions_total{action="would_reject",rule="observe-everything"} 1`,
	} {
		if !strings.Contains(metrics, w) {
			t.Errorf("metrics lack %s", w)
		}
	}
}

// panickingState fails in the worst way: it panics.
type panickingState struct{}

func (panickingState) Count(context.Context, moderation.Claim, []byte, time.Time, time.Time, []moderation.Hit) (moderation.Replay, error) {
	panic("state exploded")
}

func (panickingState) Remember(context.Context, moderation.Claim, []byte) error { return nil }

// TestPanicIsA500: a panic while handling a request is answered 500 with a
// JSON error (Stream lets the message through), logged, counted, and the
// server goes on answering.
func TestPanicIsA500(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	f := newFixture(t, func(c *hook.Config) {
		set, err := rules.Parse("test.yaml", []byte(testRules), nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Engine = moderation.NewEngine(set, moderation.EngineOptions{State: panickingState{}})
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	req := signed([]byte(payload(`{"text":"hello"}`)), testKey, testSecret)
	req.Header.Set("X-Webhook-Id", "wh-panic")
	rec := f.do(req)
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), `"code":"internal"`) {
		t.Fatalf("status %d body %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "state exploded") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
	if rec := f.do(httptest.NewRequest(http.MethodGet, "/healthz", nil)); rec.Code != http.StatusOK {
		t.Fatalf("after the panic /healthz answers %d", rec.Code)
	}
	metrics := f.do(httptest.NewRequest(http.MethodGet, "/metrics", nil)).Body.String()
	if !strings.Contains(metrics, `outcome="error"} 1`) {
		t.Fatalf("panic not counted:\n%s", metrics)
	}
}
