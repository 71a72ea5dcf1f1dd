package hook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/modgate/modgate/hook"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// BenchmarkQueueListByUser: GET /admin/queue?user=... over 10,000 held
// items in Redis, for a sender with 3 of them and for one with none. The
// list reads the sender's index and their items only.
func BenchmarkQueueListByUser(b *testing.B) {
	red := testRedis(b, testRedisURL(b))
	q := red.Queue(0)
	now := time.Now()
	const items = 10_000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range items {
		user := fmt.Sprint("u", i%4999) // two or three items each
		if i >= items-3 {
			user = "target"
		}
		h := moderation.Held{ID: fmt.Sprint("bs-", i), Hook: moderation.HookBeforeSend, ChannelCID: "messaging:general", UserID: user,
			Text: "a message held for review", Message: []byte(`{"text":"a message held for review"}`), Rules: []string{"review", fmt.Sprint("r", i%7)},
			RulesVersion: "v1", HeldAt: now.Add(time.Duration(i) * time.Millisecond), Deadline: now.Add(72 * time.Hour)}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := q.Put(context.Background(), h); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	set, err := rules.Parse("rules.yaml", []byte(reviewRules), nil)
	if err != nil {
		b.Fatal(err)
	}
	server := hook.New(hook.Config{Engine: moderation.NewEngine(set, moderation.EngineOptions{}), AdminTokens: adminTokens(b),
		Reviews: &moderation.Reviews{Queue: q}})
	for _, bc := range []struct {
		name  string
		query string
		want  int
	}{
		{"user with 3 items", "?user=target", 3},
		{"user with none", "?user=nobody", 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/admin/queue"+bc.query, nil)
			req.Header.Set("Authorization", "Bearer "+readToken)
			rec := httptest.NewRecorder()
			server.ServeHTTP(rec, req)
			var page struct{ Items []moderation.Held }
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || len(page.Items) != bc.want {
				b.Fatalf("%d items (%v): %s", len(page.Items), err, rec.Body)
			}
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				server.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
