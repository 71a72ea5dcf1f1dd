package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/hook/stream"
)

// TestBenchMix: the load tool's payloads are what its help says: signed
// Stream payloads with realistic parts, texts of 20-300 bytes, and the
// stated shares of abuse, links and mentions.
func TestBenchMix(t *testing.T) {
	const n = 4000
	ps := payloads(7, n, 1000, "secret")
	keys := stream.NewKeys(map[string]string{"k": "secret"})
	links, mentions := 0, 0
	for _, p := range ps {
		if err := keys.Verify("k", p.body, p.sig); err != nil {
			t.Fatalf("signature: %v", err)
		}
		var body struct {
			Message     map[string]any `json:"message"`
			User        map[string]any `json:"user"`
			Channel     map[string]any `json:"channel"`
			RequestInfo map[string]any `json:"request_info"`
		}
		if err := json.Unmarshal(p.body, &body); err != nil {
			t.Fatal(err)
		}
		if body.Message["text"] != p.text || body.User["id"] == nil || body.Channel["config"] == nil || body.RequestInfo["ip"] == nil {
			t.Fatalf("payload lacks a part: %s", p.body)
		}
		if len(p.text) < 20 || len(p.text) > 400 {
			t.Fatalf("text of %d bytes: %q", len(p.text), p.text)
		}
		if strings.Contains(p.text, "://") || strings.Contains(p.text, "www.") {
			links++
		}
		if m, _ := body.Message["mentioned_users"].([]any); len(m) > 0 {
			mentions++
		}
	}
	for name, got := range map[string]int{"links": links, "mentions": mentions} {
		if share := float64(got) / n; share < 0.03 || share > 0.10 {
			t.Errorf("%s in %.1f%% of messages, want about 6%%", name, 100*share)
		}
	}
}

// TestBenchMerge: rounds add up, and CPU per request is over the answered requests.
func TestBenchMerge(t *testing.T) {
	a := &result{cpu: 2 * time.Second, requests: 100, elapsed: time.Second, latencies: []time.Duration{3, 1},
		verdicts: map[string]int{"unchanged": 2}}
	b := &result{cpu: time.Second, requests: 50, errors: 10, elapsed: time.Second, latencies: []time.Duration{2},
		verdicts: map[string]int{"unchanged": 1, "refused": 1}, firstErr: "boom"}
	var sum *result
	sum = sum.merge(a).merge(b)
	if sum.requests != 150 || sum.errors != 10 || sum.cpu != 3*time.Second || sum.elapsed != 2*time.Second ||
		sum.verdicts["unchanged"] != 3 || sum.verdicts["refused"] != 1 || sum.firstErr != "boom" {
		t.Fatalf("merged %+v", sum)
	}
	if sum.latencies[0] != 1 || sum.latencies[2] != 3 || sum.percentile(1) != 3 {
		t.Fatalf("latencies not sorted: %v", sum.latencies)
	}
	if got := sum.cpuPerRequest(); got != 3e6/140 {
		t.Fatalf("CPU per request %v", got)
	}
}
