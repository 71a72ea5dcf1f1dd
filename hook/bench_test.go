package hook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/modgate/modgate/hook"
	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
	"github.com/modgate/modgate/storage"
)

// benchBodies builds before-send payloads of about 1 KB like Stream's, with
// clean chat text (and every eighth message abusive).
func benchBodies(n int) [][]byte {
	texts := []string{
		"hey everyone, is the meeting still on for tonight? I can bring the slides",
		"lol that last game was wild, we should play again this weekend",
		"thanks! the patch fixed the build on my machine, deploying to staging now",
		"good morning team, coffee first and then we look at the score board",
		"anyone know where the docs for the new stream server update are?",
		"what the fuck happened to the server",
		"nice goal in the match today, great team play",
		"I will write the number down later, call me when you land",
	}
	out := make([][]byte, n)
	for i := range out {
		body, _ := json.Marshal(map[string]any{
			"message": map[string]any{"id": "", "text": fmt.Sprintf("%s #%d", texts[i%len(texts)], i), "type": "regular", "html": "",
				"silent": false, "attachments": []any{}, "mentioned_users": []any{}, "custom_priority": 1,
				"client_meta": map[string]any{"draft": false, "lang": "en"}},
			"user": map[string]any{"id": fmt.Sprintf("u-%d", i), "role": "user", "banned": false, "created_at": "2025-01-01T00:00:00Z",
				"name": fmt.Sprintf("User %d", i), "teams": []string{"red"}, "online": true},
			"channel": map[string]any{"cid": "messaging:room-1", "id": "room-1", "type": "messaging", "config": map[string]any{
				"max_message_length": 5000, "typing_events": true, "read_events": true, "replies": true, "reactions": true,
				"uploads": true, "url_enrichment": true, "automod": "disabled", "automod_behavior": "flag", "commands": []string{"giphy"}}},
			"request_info": map[string]any{"type": "client", "ip": "198.51.100.7",
				"user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
				"sdk":        "stream-chat-react-10.11.0-stream-chat-javascript-client-browser-8.12.1", "ext": "device-id=42"},
		})
		out[i] = body
	}
	return out
}

func shippedServer(b testing.TB) *hook.Server {
	set, err := rules.Load(filepath.Join("..", "rules.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	return hook.New(hook.Config{
		Keys:   stream.NewKeys(map[string]string{testKey: testSecret}),
		Engine: moderation.NewEngine(set, moderation.EngineOptions{State: storage.NewMemory(storage.MemoryOptions{})}),
	})
}

// BenchmarkBeforeSend is the whole request path in process: a signed body
// through Echo, the signature check, the payload scan, the shipped rules
// with memory state, and the answer.
func BenchmarkBeforeSend(b *testing.B) {
	srv := shippedServer(b)
	bodies := benchBodies(1 << 14)
	sigs := make([]string, len(bodies))
	for i, body := range bodies {
		sigs[i] = stream.Sign(testSecret, body)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		body := bodies[i%len(bodies)]
		req := httptest.NewRequest(http.MethodPost, "/hooks/before-message-send", bytes.NewReader(body))
		req.Header.Set("X-Api-Key", testKey)
		req.Header.Set("X-Signature", sigs[i%len(bodies)])
		req.Header.Set("X-Webhook-Id", fmt.Sprint("wh-", i))
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		i++
	}
}

// discardWriter is a ResponseWriter that keeps nothing but the status, for
// BenchmarkBeforeSendReused.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }

// BenchmarkBeforeSendReused is BenchmarkBeforeSend without httptest: one
// request and one writer are reused, so what is counted is Echo's and
// modgate's own work and allocations (net/http's reading of the request,
// which a real server adds, is not in it).
func BenchmarkBeforeSendReused(b *testing.B) {
	srv := shippedServer(b)
	bodies := benchBodies(1 << 14)
	sigs := make([][]string, len(bodies))
	for i, body := range bodies {
		sigs[i] = []string{stream.Sign(testSecret, body)}
	}
	ids := make([][]string, 1<<17) // more than a second of requests: every id new
	for i := range ids {
		ids[i] = []string{"wh-" + strconv.Itoa(i)}
	}
	req := httptest.NewRequest(http.MethodPost, "/hooks/before-message-send", nil)
	req.Header.Set("X-Api-Key", testKey)
	var body bytes.Reader
	rc := io.NopCloser(&body)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		n := i % len(bodies)
		body.Reset(bodies[n])
		req.Body, req.ContentLength = rc, int64(len(bodies[n]))
		req.Header["X-Signature"], req.Header["X-Webhook-Id"] = sigs[n], ids[i%len(ids)]
		clear(w.h)
		srv.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
		i++
	}
}

// BenchmarkEngine is the shipped rules alone over a clean message.
func BenchmarkEngine(b *testing.B) {
	set, err := rules.Load(filepath.Join("..", "rules.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	// Each sender comes back every 65 s of this clock: the flood and repeat
	// limits are counted but not hit, as with real traffic.
	clock := time.Now().UTC().Truncate(time.Second)
	e := moderation.NewEngine(set, moderation.EngineOptions{
		State: storage.NewMemory(storage.MemoryOptions{}),
		Now:   func() time.Time { clock = clock.Add(time.Millisecond); return clock },
	})
	bodies := benchBodies(1 << 16)
	msgs := make([]moderation.Message, len(bodies))
	for i, body := range bodies {
		var p stream.Payload
		if err := p.Parse(body); err != nil {
			b.Fatal(err)
		}
		msgs[i] = moderation.Message{ID: p.ID, Text: p.Text, Object: p.Message, User: p.User, Channel: p.Channel, RequestInfo: p.RequestInfo}
	}
	b.Run("clean", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			m := &msgs[(i*8+2)%len(msgs)] // a clean text (every eighth body is abusive)
			e.Evaluate(b.Context(), m, moderation.Options{})
			i++
		}
	})
	b.Run("mix", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			e.Evaluate(b.Context(), &msgs[i%len(msgs)], moderation.Options{})
			i++
		}
	})
}

// TestEngineAllocations: the shipped rules with memory state allocate
// nothing for most clean messages (a few counters and maps grow now and
// then). Run without the race detector, which empties pools on purpose.
func TestEngineAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	set, err := rules.Load(filepath.Join("..", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now().UTC().Truncate(time.Second)
	e := moderation.NewEngine(set, moderation.EngineOptions{
		State: storage.NewMemory(storage.MemoryOptions{}),
		Now:   func() time.Time { clock = clock.Add(time.Millisecond); return clock },
	})
	bodies := benchBodies(4096)
	msgs := make([]moderation.Message, 0, len(bodies))
	for i, body := range bodies {
		if i%8 == 5 {
			continue // the abusive one of every eight
		}
		var p stream.Payload
		if err := p.Parse(body); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, moderation.Message{ID: p.ID, Text: p.Text, Object: p.Message, User: p.User, Channel: p.Channel,
			RequestInfo: p.RequestInfo, Members: &p.Members})
	}
	ids := make([]string, 2100)
	for i := range ids {
		ids[i] = fmt.Sprint("wh-", i)
	}
	i := 0
	allocs := testing.AllocsPerRun(2000, func() {
		e.Evaluate(t.Context(), &msgs[i%len(msgs)], moderation.Options{WebhookID: ids[i]})
		i++
	})
	if allocs > 1 {
		t.Fatalf("%.2f allocations per clean message", allocs)
	}
	t.Logf("%.2f allocations per clean message", allocs)
}
