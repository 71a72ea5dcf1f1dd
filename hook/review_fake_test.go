package hook_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modgate/modgate/hook"
	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rawjson"
	"github.com/modgate/modgate/rules"
	"github.com/modgate/modgate/storage"
)

// A fake of Stream's REST API for the review flow: it keeps messages,
// answers as Stream does (errors in Stream's JSON shape, codes 4 and 16),
// passes sends and updates through modgate's before-send hook as Stream
// does, checks that every call is authenticated, and fails on demand.

// Faults a call can meet, taken one per call in order.
const (
	ok       = ""
	hang     = "hang"      // wait for release (or the caller giving up), then act normally
	apply500 = "apply-500" // act, then answer 500 as if the answer were lost
	down503  = "503"       // act not, answer 503
	refuse   = "400"       // act not, refuse for good (400, code 4)
)

type storedMessage struct {
	text     string
	userID   string
	pending  bool
	fields   map[string]json.RawMessage // custom fields, as sent or set
	atCommit string                     // the text when it was committed
}

type fakeStream struct {
	t        *testing.T
	mu       sync.Mutex
	msgs     map[string]*storedMessage
	calls    []string
	faults   []string
	release  chan struct{} // closed by the test to end a hung call
	entered  chan string   // told of each call that hangs
	answered chan string   // when not nil, told of each call answered

	hook      http.Handler // modgate, which sends and updates pass through
	hookFirst bool         // call the hook before looking for an existing id
	// partialSkipsHook: partial updates (PUT /messages/{id}) do not pass
	// through the hook. Whether Stream's do is not documented: the tests
	// run both ways.
	partialSkipsHook bool
	bodies           map[string][]string // the bodies of each call, in order
	bans             map[string]fakeBan  // by target user, and channel for a channel ban
	flags            []string            // "message m1" or "user u1", as flagged
}

func newFakeStream(t *testing.T) *fakeStream {
	return &fakeStream{t: t, msgs: map[string]*storedMessage{}, release: make(chan struct{}), entered: make(chan string, 16),
		bodies: map[string][]string{}, bans: map[string]fakeBan{}}
}

func (f *fakeStream) fail(faults ...string) {
	f.mu.Lock()
	f.faults = append(f.faults, faults...)
	f.mu.Unlock()
}

func (f *fakeStream) put(id string, m storedMessage) {
	f.mu.Lock()
	f.msgs[id] = &m
	f.mu.Unlock()
}

func (f *fakeStream) message(id string) (storedMessage, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.msgs[id]
	if !ok {
		return storedMessage{}, false
	}
	c := *m
	c.fields = maps.Clone(m.fields)
	return c, true
}

// remove deletes a message as its sender would, without modgate hearing of it.
func (f *fakeStream) remove(id string) {
	f.mu.Lock()
	delete(f.msgs, id)
	f.mu.Unlock()
}

// field is the JSON of a stored message's custom field, or "".
func (m storedMessage) field(key string) string { return string(m.fields[key]) }

// sent returns the bodies of the calls to call ("PUT /messages/p1"), in order.
func (f *fakeStream) sent(call string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.bodies[call])
}

func (f *fakeStream) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeStream) count(prefix string) int {
	n := 0
	for _, c := range f.got() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func streamError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "StatusCode": status, "duration": "0.01ms",
		"more_info": "https://getstream.io/chat/docs/api_errors_response"})
}

func (f *fakeStream) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /messages/{id}/commit", func(w http.ResponseWriter, r *http.Request) {
		f.act(w, r, func() (int, string) {
			m, ok := f.msgs[r.PathValue("id")]
			switch {
			case !ok:
				return 404, "CommitMessage failed with error: \"message does not exist\""
			case !m.pending:
				return 400, "CommitMessage failed with error: \"message is not pending\""
			}
			m.pending, m.atCommit = false, m.text
			return 201, `{"message":{}}`
		})
	})
	mux.HandleFunc("DELETE /messages/{id}", func(w http.ResponseWriter, r *http.Request) {
		hard := r.URL.Query().Get("hard") == "true"
		f.act(w, r, func() (int, string) {
			m, ok := f.msgs[r.PathValue("id")]
			if !ok {
				return 404, "DeleteMessage failed with error: \"message does not exist\""
			}
			if !hard && m.pending {
				return 400, "DeleteMessage failed with error: \"pending messages can only be hard deleted\""
			}
			delete(f.msgs, r.PathValue("id"))
			return 200, `{"message":{}}`
		})
	})
	mux.HandleFunc("POST /messages/{id}", func(w http.ResponseWriter, r *http.Request) {
		msg := f.body(r)
		id := r.PathValue("id")
		f.act(w, r, func() (int, string) {
			m, ok := f.msgs[id]
			if !ok {
				return 404, "UpdateMessage failed with error: \"message does not exist\""
			}
			answer, refused := f.throughHook(msg, m.userID)
			if refused != "" {
				return 201, refused
			}
			m.text = rawjson.String(answer["text"])
			return 201, `{"message":{}}`
		})
	})
	mux.HandleFunc("PUT /messages/{id}", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Set    map[string]json.RawMessage `json:"set"`
			Unset  []string                   `json:"unset"`
			UserID string                     `json:"user_id"`
		}
		if err := json.Unmarshal(f.raw(r), &b); err != nil || len(b.Set)+len(b.Unset) == 0 || b.UserID == "" {
			f.t.Errorf("a partial update without set, unset or user_id (%v)", err)
		}
		id := r.PathValue("id")
		f.act(w, r, func() (int, string) {
			m, ok := f.msgs[id]
			if !ok {
				return 404, "UpdateMessagePartial failed with error: \"message does not exist\""
			}
			if b.UserID != m.userID {
				return 403, "UpdateMessagePartial failed with error: \"user can only update their own messages\""
			}
			merged := map[string]json.RawMessage{"id": must(json.Marshal(id)), "text": must(json.Marshal(m.text))}
			for k, v := range m.fields {
				merged[k] = v
			}
			maps.Copy(merged, b.Set)
			for _, k := range b.Unset {
				delete(merged, k)
			}
			if !f.partialSkipsHook {
				answer, refused := f.throughHook(must(json.Marshal(merged)), m.userID)
				if refused != "" {
					return 201, refused
				}
				merged = answer
			}
			m.text = rawjson.String(merged["text"])
			delete(merged, "id")
			delete(merged, "text")
			m.fields = merged
			return 200, `{"message":{}}`
		})
	})
	mux.HandleFunc("POST /channels/{type}/{id}/message", func(w http.ResponseWriter, r *http.Request) {
		msg := f.body(r)
		var fields struct {
			ID     string `json:"id"`
			UserID string `json:"user_id"`
		}
		json.Unmarshal(msg, &fields)
		f.act(w, r, func() (int, string) {
			exists := func() bool { _, ok := f.msgs[fields.ID]; return fields.ID != "" && ok }
			if !f.hookFirst && exists() {
				return 400, "SendMessage failed with error: \"a message with ID " + fields.ID + " already exists\""
			}
			answer, refused := f.throughHook(msg, fields.UserID)
			if refused != "" {
				return 201, refused
			}
			if exists() {
				return 400, "SendMessage failed with error: \"a message with ID " + fields.ID + " already exists\""
			}
			f.msgs[fields.ID] = &storedMessage{text: rawjson.String(answer["text"]), userID: fields.UserID}
			return 201, `{"message":{}}`
		})
	})
	f.moderationRoutes(mux)
	return mux
}

// raw reads a call's body and keeps it.
func (f *fakeStream) raw(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	call := r.Method + " " + r.URL.Path
	f.bodies[call] = append(f.bodies[call], string(b))
	f.mu.Unlock()
	return b
}

// body reads the message object of a send or an update.
func (f *fakeStream) body(r *http.Request) json.RawMessage {
	var b struct {
		Message json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal(f.raw(r), &b); err != nil || len(b.Message) == 0 {
		f.t.Errorf("%s %s: no message in the body (%v)", r.Method, r.URL.Path, err)
	}
	return b.Message
}

// act checks a call, meets its fault, and runs op under the lock: op
// returns the status and, for a 2xx, the body (else the error message).
func (f *fakeStream) act(w http.ResponseWriter, r *http.Request, op func() (int, string)) {
	if r.URL.Query().Get("api_key") != "key" || r.Header.Get("Stream-Auth-Type") != "jwt" || r.Header.Get("Authorization") == "" {
		f.t.Errorf("an unauthenticated call: %s %s", r.Method, r.URL)
	}
	f.mu.Lock()
	call := r.Method + " " + r.URL.Path
	f.calls = append(f.calls, call)
	fault := ok
	if len(f.faults) > 0 {
		fault, f.faults = f.faults[0], f.faults[1:]
	}
	f.mu.Unlock()
	switch fault {
	case hang:
		f.entered <- call
		select {
		case <-f.release:
		case <-r.Context().Done():
			return
		}
	case down503:
		streamError(w, 503, 0, "service unavailable")
		return
	case refuse:
		streamError(w, 400, 4, "refused")
		return
	}
	f.mu.Lock()
	status, body := op()
	f.mu.Unlock()
	if f.answered != nil {
		defer func() { f.answered <- call }()
	}
	switch {
	case fault == apply500:
		streamError(w, 500, 0, "internal error")
	case status < 300:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	case status == 404:
		streamError(w, 404, 16, body)
	default:
		streamError(w, status, 4, body)
	}
}

// throughHook passes a send or an update through modgate's before-send
// hook, as Stream does: it returns the message the hook answered, or the
// body of Stream's answer when the hook refused the message. Called under
// the lock.
func (f *fakeStream) throughHook(msg json.RawMessage, userID string) (map[string]json.RawMessage, string) {
	var obj map[string]json.RawMessage
	json.Unmarshal(msg, &obj)
	delete(obj, "user_id")
	m, _ := json.Marshal(obj)
	payload := []byte(`{"message":` + string(m) + `,"user":{"id":` + string(must(json.Marshal(userID))) + `},"channel":{"cid":"messaging:general"}}`)
	rec := httptest.NewRecorder()
	f.hook.ServeHTTP(rec, signed(payload, testKey, testSecret))
	var answer struct {
		Message map[string]json.RawMessage `json:"message"`
	}
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &answer) != nil {
		f.t.Errorf("the hook answered a send %d: %s", rec.Code, rec.Body)
	}
	if rawjson.String(answer.Message["type"]) == "error" {
		return nil, `{"message":{"type":"error","text":` + string(answer.Message["text"]) + `}}`
	}
	if strings.Contains(rec.Body.String(), stream.ApprovalField) {
		f.t.Errorf("the hook let the approval marker through: %s", rec.Body)
	}
	return answer.Message, ""
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// The rig: modgate's HTTP face with a review queue (memory or Redis),
// publishing to the fake Stream, on a clock the test moves.

const reviewRules = `
version: 1
settings: {hold_reply: "Waiting for a moderator.", reject_reply: "Not sent."}
rules:
  - id: swearing
    when: {text: {contains: [darn]}}
    action: mask
  - id: promo
    when: {text: {contains: [promo]}}
    action: flag
  - id: quiet
    when: {text: {contains: [psst]}}
    action: rewrite
    rewrite: {silent: true, set: {whisper: true}}
  - id: review
    when: {text: {contains: [reviewme]}}
    action: hold
  - id: review-or-pass
    when: {text: {contains: [reviewlight]}}
    action: hold
    on_error: allow
  - id: bad
    when: {text: {contains: [badword]}}
    action: reject
`

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type rig struct {
	t       *testing.T
	stream  *fakeStream
	server  *hook.Server
	reviews *moderation.Reviews
	queue   moderation.Queue
	clock   *clock
	after   chan time.Time // a send tells a waiting Decide that its wait is over
	logs    *syncBuffer
	cfg     hook.Config
}

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

// testRedisURL is the Redis the tests use; they skip only when
// MODGATE_TEST_REDIS_URL is unset and nothing answers on the default.
func testRedisURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("MODGATE_TEST_REDIS_URL"); u != "" {
		return u
	}
	conn, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second)
	if err != nil {
		t.Skipf("MODGATE_TEST_REDIS_URL is unset and nothing answers on 127.0.0.1:6379: skipping (%v)", err)
	}
	conn.Close()
	return "redis://127.0.0.1:6379/15"
}

// testRedis opens the test Redis under a prefix of its own, removed at the end.
func testRedis(t testing.TB, url string) *storage.Redis {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	prefix := "modgate-test-" + hex.EncodeToString(b[:])
	r, err := storage.OpenRedis(url, storage.RedisOptions{Prefix: prefix, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		iter := r.Client().Scan(ctx, 0, "{"+prefix+"}:*", 1000).Iterator()
		for iter.Next(ctx) {
			r.Client().Del(ctx, iter.Val())
		}
		r.Close()
	})
	return r
}

// stores are the queues the end-to-end tests run against.
var stores = []string{"memory", "redis"}

func newRig(t *testing.T, store string, queueMax int, opts ...func(*hook.Config)) *rig {
	t.Helper()
	set, err := rules.Parse("rules.yaml", []byte(reviewRules), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, stream: newFakeStream(t), clock: &clock{now: time.Now().UTC()}, after: make(chan time.Time, 1), logs: &syncBuffer{}}
	var audit moderation.AuditLog
	switch store {
	case "memory":
		r.queue, audit = storage.NewMemoryQueue(queueMax), storage.NewMemoryAudit(0)
	case "redis":
		red := testRedis(t, testRedisURL(t))
		r.queue, audit = red.Queue(queueMax), red.Audit(0)
	case "unreachable":
		red, err := storage.OpenRedis("redis://127.0.0.1:1/0", storage.RedisOptions{Prefix: "unreachable", Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { red.Close() })
		r.queue, audit = red.Queue(queueMax), storage.NewMemoryAudit(0)
	}
	api := httptest.NewServer(r.stream.handler())
	t.Cleanup(api.Close)
	client, err := stream.NewClient("key", "secret", stream.ClientOptions{BaseURL: api.URL,
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	approvals := stream.NewApprovals("secret")
	r.reviews = &moderation.Reviews{Queue: r.queue, Publisher: &stream.Publisher{Client: client, Approvals: approvals, UserID: "modgate"}, Audit: audit,
		Now: r.clock.Now, After: func(time.Duration) <-chan time.Time { return r.after }}
	t.Cleanup(r.reviews.Wait)
	r.cfg = hook.Config{
		Keys:        stream.NewKeys(map[string]string{testKey: testSecret}),
		Engine:      moderation.NewEngine(set, moderation.EngineOptions{State: storage.NewMemory(storage.MemoryOptions{})}),
		Logger:      slog.New(slog.NewTextHandler(r.logs, nil)),
		AdminTokens: adminTokens(t),
		Reviews:     r.reviews,
		Approvals:   approvals,
		Messages:    r.reviews.Publisher.(*stream.Publisher),
	}
	for _, o := range opts {
		o(&r.cfg)
	}
	r.server = hook.New(r.cfg)
	r.stream.hook = r.server
	return r
}

// twin is a second modgate process beside r: its own engine state (so it
// does not know r's webhook ids), the same queue.
func (r *rig) twin() *hook.Server {
	cfg := r.cfg
	cfg.Engine = moderation.NewEngine(r.cfg.Engine.Rules(), moderation.EngineOptions{State: storage.NewMemory(storage.MemoryOptions{})})
	return hook.New(cfg)
}

func (r *rig) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	r.server.ServeHTTP(rec, req)
	return rec
}

// beforeSend delivers a before-send call as Stream does, with a webhook id.
func (r *rig) beforeSend(on *hook.Server, webhookID, message string) string {
	r.t.Helper()
	body := `{"message":` + message + `,"user":{"id":"u1","name":"Ann"},"channel":{"cid":"messaging:general","type":"messaging","id":"general"}}`
	req := signed([]byte(body), testKey, testSecret)
	req.Header.Set("X-Webhook-Id", webhookID)
	rec := httptest.NewRecorder()
	on.ServeHTTP(rec, req)
	if rec.Code != 200 {
		r.t.Fatalf("before-send: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// pending delivers a pending message as Stream does, and stores it in the
// fake as pending.
func (r *rig) pending(webhookID, id, text string) string {
	r.t.Helper()
	return r.pendingWith(webhookID, id, text, nil)
}

// pendingWith is pending for a message with custom fields.
func (r *rig) pendingWith(webhookID, id, text string, fields map[string]json.RawMessage) string {
	r.t.Helper()
	r.stream.put(id, storedMessage{text: text, userID: "u1", pending: true, fields: maps.Clone(fields)})
	answer := r.deliverPending(webhookID, r.pendingBody(id, text, fields))
	r.reviews.Wait() // the rules' decision, carried out after the answer
	return answer
}

// deliverPending makes a PassOnPendingMessage call with body and returns
// the answer, without waiting for what modgate does after it.
func (r *rig) deliverPending(webhookID, body string) string {
	r.t.Helper()
	req := signed([]byte(body), testKey, testSecret)
	req.URL.Path = "/hooks/pending/PassOnPendingMessage"
	req.Header.Set("X-Webhook-Id", webhookID)
	rec := r.do(req)
	if rec.Code != 200 {
		r.t.Fatalf("pending: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// pendingBody is the body of a PassOnPendingMessage call for message id
// sent by u1, with custom fields.
func (r *rig) pendingBody(id, text string, fields map[string]json.RawMessage) string {
	msg := map[string]json.RawMessage{"id": must(json.Marshal(id)), "text": must(json.Marshal(text)),
		"cid": json.RawMessage(`"messaging:general"`), "user": json.RawMessage(`{"id":"u1"}`),
		"created_at": must(json.Marshal(r.clock.Now().Format(time.RFC3339Nano)))}
	maps.Copy(msg, fields)
	return `{"message":` + string(must(json.Marshal(msg))) + `}`
}

// admin calls the admin API as the moderator ann (or bob, reading).
func (r *rig) admin(ctx context.Context, method, path, body string) (int, string) {
	r.t.Helper()
	req := httptest.NewRequestWithContext(ctx, method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+modToken)
	rec := r.do(req)
	return rec.Code, rec.Body.String()
}

// item reads a queue item through the admin API.
func (r *rig) item(id string) moderation.Held {
	r.t.Helper()
	code, body := r.admin(context.Background(), "GET", "/admin/queue/"+id, "")
	var h moderation.Held
	if code != 200 || json.Unmarshal([]byte(body), &h) != nil {
		r.t.Fatalf("GET /admin/queue/%s: %d %s", id, code, body)
	}
	return h
}

// items lists the queue through the admin API.
func (r *rig) items(query string) []moderation.Held {
	r.t.Helper()
	code, body := r.admin(context.Background(), "GET", "/admin/queue"+query, "")
	var page struct{ Items []moderation.Held }
	if code != 200 || json.Unmarshal([]byte(body), &page) != nil {
		r.t.Fatalf("GET /admin/queue%s: %d %s", query, code, body)
	}
	return page.Items
}

// auditOf returns "action by actor" of the audit entries about item id,
// oldest first.
func (r *rig) auditOf(id string) []string {
	r.t.Helper()
	code, body := r.admin(context.Background(), "GET", "/admin/audit?limit=500", "")
	var page struct{ Entries []moderation.AuditEntry }
	if code != 200 || json.Unmarshal([]byte(body), &page) != nil {
		r.t.Fatalf("GET /admin/audit: %d %s", code, body)
	}
	var out []string
	for i := len(page.Entries) - 1; i >= 0; i-- {
		if e := page.Entries[i]; e.ItemID == id {
			out = append(out, e.Action+" by "+e.Actor)
		}
	}
	return out
}

func (r *rig) metrics() string {
	return r.do(httptest.NewRequest(http.MethodGet, "/metrics", nil)).Body.String()
}

// heldID is the id of the only item the queue lists.
func (r *rig) heldID() string {
	r.t.Helper()
	items := r.items("")
	if len(items) != 1 {
		r.t.Fatalf("queue: %d items", len(items))
	}
	return items[0].ID
}

func forEachStore(t *testing.T, test func(t *testing.T, store string)) {
	t.Parallel()
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			test(t, store)
		})
	}
}
