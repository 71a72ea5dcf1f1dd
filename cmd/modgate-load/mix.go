package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/rawjson"
	"github.com/modgate/modgate/rules"
)

// request is one prepared before-send call.
type request struct {
	body []byte
	text string
	sig  string
}

var chatWords = strings.Fields(`the of and to in is you that it he was for on are as with his they at be this
have from or one had by word but not what all were we when your can said there use an each which she do how
their if will up other about out many then them these so some her would make like him into time has look two
more write go see number no way could people my than first water been call who oil its now find long down day
did get come made may part game today later lol haha thanks please anyone know where meeting tonight great
stream server update patch build deploy coffee weekend match team score goal play again nice good morning`)

var chatLinks = []string{"https://docs.example.com/guide", "www.example.org/page", "check coins.example.xyz now",
	"https://github.com/example/repo/issues/1"}

// payloads builds a realistic mix: mostly clean chat of 20-300 bytes,
// some abusive and disguised, some with links and mentions, across many
// users, channels and IPs, with channel.config, request_info and custom
// fields as Stream sends them.
func payloads(seed uint64, n, users int, secret string) []request {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	profane, _ := rules.Builtin("profanity-en")
	var plain []string
	for _, t := range profane {
		if !strings.ContainsAny(t, "* ") {
			plain = append(plain, t)
		}
	}
	out := make([]request, n)
	for i := range out {
		var words []string
		target := 20 + rng.IntN(280)
		size := 0
		for size <= target { // the words joined: size-1 bytes
			w := chatWords[rng.IntN(len(chatWords))]
			words = append(words, w)
			size += len(w) + 1
		}
		msg := map[string]any{"id": "", "type": "regular", "html": "", "silent": false, "attachments": []any{},
			"mentioned_users": []any{}, "custom_priority": rng.IntN(3), "client_meta": map[string]any{"draft": false, "lang": "en"}}
		switch k := rng.IntN(100); {
		case k < 8: // abusive, often disguised
			term := plain[rng.IntN(len(plain))]
			words[rng.IntN(len(words))] = disguiseWord(term, rng)
		case k < 14:
			words = append(words, chatLinks[rng.IntN(len(chatLinks))])
		case k < 20:
			var mentions []any
			for range 1 + rng.IntN(3) {
				id := fmt.Sprintf("u-%d", rng.IntN(users))
				words = append([]string{"@" + id}, words...)
				mentions = append(mentions, map[string]any{"id": id, "name": "User " + id})
			}
			msg["mentioned_users"] = mentions
		case k < 22:
			msg["id"] = fmt.Sprintf("msg-%d", rng.IntN(1_000_000)) // an edit
		}
		text := strings.Join(words, " ")
		msg["text"] = text
		user := rng.IntN(users)
		body, _ := json.Marshal(map[string]any{
			"message": msg,
			"user": map[string]any{"id": fmt.Sprintf("u-%d", user), "role": "user", "banned": false,
				"created_at": time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(user) * time.Minute).Format(time.RFC3339),
				"name":       fmt.Sprintf("User %d", user), "teams": []string{"red"}, "online": true},
			"channel": map[string]any{"cid": fmt.Sprintf("messaging:room-%d", rng.IntN(50)), "id": fmt.Sprintf("room-%d", rng.IntN(50)),
				"type": "messaging", "config": map[string]any{"max_message_length": 5000, "typing_events": true,
					"read_events": true, "replies": true, "reactions": true, "uploads": true, "url_enrichment": true,
					"automod": "disabled", "automod_behavior": "flag", "commands": []string{"giphy"}}},
			"request_info": map[string]any{"type": "client", "ip": fmt.Sprintf("198.51.100.%d", rng.IntN(200)),
				"user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
				"sdk":        "stream-chat-react-10.11.0-stream-chat-javascript-client-browser-8.12.1", "ext": fmt.Sprintf("device-id=%d", rng.IntN(10_000))},
		})
		out[i] = request{body: body, text: text, sig: stream.Sign(secret, body)}
	}
	return out
}

func disguiseWord(w string, rng *rand.Rand) string {
	switch rng.IntN(5) {
	case 0:
		return strings.ToUpper(w)
	case 1:
		return strings.NewReplacer("a", "4", "e", "3", "i", "1", "o", "0", "s", "$").Replace(w)
	case 2:
		return strings.Join(strings.Split(w, ""), ".")
	case 3:
		return w[:1] + "\u200b" + w[1:]
	}
	return w
}

// classify names the verdict an answer carries.
func classify(answer []byte, sent string) string {
	msg := rawjson.Lookup(answer, "message")
	if t := rawjson.String(rawjson.Lookup(msg, "type")); t == "error" {
		return "refused"
	}
	text := rawjson.String(rawjson.Lookup(msg, "text"))
	if text != sent {
		return "changed"
	}
	return "unchanged"
}

func avgSize(ps []request) int {
	total := 0
	for _, p := range ps {
		total += len(p.body)
	}
	return total / max(len(ps), 1)
}
