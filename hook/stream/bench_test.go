package stream

import (
	"bytes"
	"fmt"
	"testing"
)

// benchBody is a before-send payload of about 1 KB like Stream's, with a
// clean chat text.
func benchBody(i int) []byte {
	return fmt.Appendf(nil, `{"message":{"id":"","text":"hey everyone, is the meeting still on for tonight? #%d","type":"regular",`+
		`"html":"","silent":false,"attachments":[],"mentioned_users":[],"custom_priority":1,"client_meta":{"draft":false,"lang":"en"}},`+
		`"user":{"id":"u-%d","role":"user","banned":false,"created_at":"2025-01-01T00:00:00Z","name":"User %d","teams":["red"],"online":true},`+
		`"channel":{"cid":"messaging:room-1","id":"room-1","type":"messaging","config":{"max_message_length":5000,"typing_events":true,`+
		`"read_events":true,"replies":true,"reactions":true,"uploads":true,"url_enrichment":true,"automod":"disabled",`+
		`"automod_behavior":"flag","commands":["giphy"]}},"request_info":{"type":"client","ip":"198.51.100.7",`+
		`"user_agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",`+
		`"sdk":"stream-chat-react-10.11.0-stream-chat-javascript-client-browser-8.12.1","ext":"device-id=42"}}`, i, i, i)
}

// BenchmarkParseAndAllow is the payload's share of a clean message's
// request: the scan (looking for the flag field on the way), and the answer
// that lets it through.
func BenchmarkParseAndAllow(b *testing.B) {
	bodies := make([][]byte, 64)
	for i := range bodies {
		bodies[i] = benchBody(i)
	}
	var p Payload
	answer := make([]byte, 0, 4096)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := p.ParseOwning(bodies[i%len(bodies)], "modgate_flags"); err != nil {
			b.Fatal(err)
		}
		answer = p.AppendAllow(answer[:0])
		i++
	}
}

// TestParseAndAllowAllocations: scanning a clean payload and answering it
// allocates nothing, with the flag field looked for on the way, nor does
// answering one whose flag field a client set.
func TestParseAndAllowAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	for name, body := range map[string][]byte{
		"clean":        benchBody(1),
		"flags forged": bytes.Replace(benchBody(1), []byte(`"type":"regular"`), []byte(`"modgate_flags":["trusted"]`), 1),
	} {
		var p Payload
		answer := make([]byte, 0, 4096)
		allocs := testing.AllocsPerRun(1000, func() {
			if err := p.ParseOwning(body, "modgate_flags"); err != nil {
				t.Fatal(err)
			}
			answer = p.AppendAllow(answer[:0])
		})
		if allocs != 0 || (name != "clean") != bytes.Contains(answer, []byte(`"modgate_flags":[]`)) {
			t.Fatalf("%s: %.2f allocations, answer %s", name, allocs, answer)
		}
	}
}
