package hook_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/hook"
	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/rawjson"
)

// FuzzAnswerIsModerated: whatever message object a caller sends, an
// answer that lets it through carries, in every text member however its key
// is written, a text that the rules let through unchanged: nothing the
// rules would refuse or mask slips past them in the answer.
func FuzzAnswerIsModerated(f *testing.F) {
	for _, s := range []string{
		`{"text":"you slurword"}`, `{"text":"what the fuck"}`, `{"\u0074ext":"slurword"}`,
		`{"text":"hello","text":"slurword"}`, `{"text":"slurword","text":"hello"}`, `{"text":"slurword","t\u0065xt":7}`,
		`{"text":"\u0066uck \ud83d\ude00"}`, `{"text":"let me through, slurword"}`, `{"text":null}`, `{}`,
		`{"text":"fuck","modgate_flags":["x"],"silent":true,"n":1e999}`,
	} {
		f.Add([]byte(s))
	}
	fx := newFixture(f, func(c *hook.Config) { c.Deadline = time.Hour })
	f.Fuzz(func(t *testing.T, message []byte) {
		rec := fx.send(payload(string(message)))
		if rec.Code != http.StatusOK {
			return // not a hook payload: refused
		}
		var ans struct{ Message json.RawMessage }
		if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
			t.Fatalf("answer is not JSON: %s", rec.Body)
		}
		if string(rawjson.Lookup(ans.Message, "type")) == `"error"` && !bytes.Equal(ans.Message, message) {
			return // refused
		}
		rawjson.EachMember(ans.Message, 0, func(key []byte, v0, v1 int) {
			if string(key) != "text" || ans.Message[v0] != '"' {
				return
			}
			text := rawjson.String(ans.Message[v0:v1])
			again := fx.send(payload(string(stream.AppendString([]byte(`{"text":`), text)) + "}"))
			want := string(stream.AppendString([]byte(`{"message":{"text":`), text)) + "}}"
			if again.Code != http.StatusOK || again.Body.String() != want {
				t.Fatalf("message %s was answered %s, whose text the rules answer %s", message, rec.Body, again.Body)
			}
		})
	})
}

// TestHostileBodies: bodies of odd shapes, as a hostile caller would send
// them, are either refused as bad requests or moderated like any other:
// none crashes the hook or gets a slur past it. (Only a caller holding the
// API secret can send most of them; a chat client reaches the hook only
// through what Stream puts in a message.)
func TestHostileBodies(t *testing.T) {
	t.Parallel()
	const refused = `{"type":"error","text":"Slurs are not allowed here."}`
	deep := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	long := strings.Repeat("lorem ipsum ", 60000) // about 700 KB before the slur
	cases := []struct {
		name, body string
		status     int
		want       string // before-send: the answer's message, or the error code
	}{
		// Keys and values written with escapes are read as what they mean.
		{"text key escaped", payload(`{"\u0074ext":"you slurword"}`), 200, refused},
		{"text key escaped, masked in place", payload(`{"\u0074ext":"what the fuck","x":1}`), 200, `{"\u0074ext":"what the ****","x":1}`},
		{"message key escaped", `{"m\u0065ssage":{"text":"slurword"}}`, 200, refused},
		{"letters escaped", payload(`{"text":"\u0073lurword"}`), 200, refused},
		{"letters escaped, masked", payload(`{"text":"\u0066\u0075\u0063\u006b off"}`), 200, `{"text":"**** off"}`},
		{"surrogates and invalid UTF-8 around", payload("{\"text\":\"\\ud83d\\ude00slurword \\ud800 \xff\"}"), 200, refused},
		{"NUL before", payload(`{"text":"\u0000slurword"}`), 200, refused},
		{"a key differing in case is not the text", payload(`{"text":"hello","Text":"slurword"}`), 200, `{"text":"hello","Text":"slurword"}`},
		// Repeated keys: the last counts, as in encoding/json, and the answer
		// carries no other.
		{"text twice, slur last", payload(`{"text":"hello","text":"slurword"}`), 200, refused},
		{"text twice, slur first", payload(`{"text":"slurword","text":"hello"}`), 200, `{"text":"hello","text":"hello"}`},
		{"text twice, once escaped, masked", payload(`{"t\u0065xt":"hello","text":"fuck"}`), 200, `{"t\u0065xt":"****","text":"****"}`},
		{"text twice, the last not a string", payload(`{"text":"slurword","text":null}`), 200, `{"text":null,"text":null}`},
		{"message twice, slur last", `{"message":{"text":"hi"},"message":{"text":"slurword"}}`, 200, refused},
		{"message twice, slur first", `{"message":{"text":"slurword"},"message":{"text":"hi"}}`, 200, `{"text":"hi"}`},
		// Sizes and numbers.
		{"slur after 700 KB", payload(`{"text":"` + long + `slurword"}`), 200, refused},
		{"nested 5000 deep beside it", payload(`{"x":` + deep(5000) + `,"text":"slurword"}`), 200, refused},
		{"nested deeper than encoding/json allows", payload(`{"x":` + deep(10001) + `,"text":"slurword"}`), 400, "bad_payload"},
		{"huge numbers", payload(`{"n":1e999999,"m":-0.0e-999999,"big":123456789012345678901234567890,"text":"slurword"}`), 200, refused},
		// Shapes that are not a hook payload.
		{"message null", `{"message":null}`, 400, "bad_payload"},
		{"message a string", `{"message":"slurword"}`, 400, "bad_payload"},
		{"message an array", `{"message":[{"text":"slurword"}]}`, 400, "bad_payload"},
		{"no message", `{"user":{"id":"u"}}`, 400, "bad_payload"},
		{"two payloads", payload(`{"text":"hi"}`) + payload(`{"text":"slurword"}`), 400, "bad_payload"},
		{"byte order mark", "\xef\xbb\xbf" + payload(`{"text":"slurword"}`), 400, "bad_payload"},
		{"NUL after", payload(`{"text":"slurword"}`) + "\x00", 400, "bad_payload"},
		{"empty", "", 400, "bad_payload"},
		{"text not a string", payload(`{"text":["slurword"]}`), 200, `{"text":["slurword"]}`},
	}
	f := newFixture(t, func(c *hook.Config) {
		c.Deadline = time.Hour // what is tested is what the rules read, not how fast
		withReviews(&decisionRecorder{})(c)
	})
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.send(tc.body)
			if tc.status != 200 {
				wantError(t, rec, tc.status, tc.want)
			} else if got := answerMessage(t, rec); string(got) != tc.want {
				t.Fatalf("\n got %s\nwant %s", got, tc.want)
			}
			// The pending hook reads the same body the same way.
			body := strings.ReplaceAll(tc.body, `"message":{`, `"message":{"id":"hostile-`+strconv.Itoa(i)+`",`)
			rec = f.do(signedTo(pendingPath, []byte(body)))
			switch {
			case tc.status != 200:
				wantError(t, rec, tc.status, tc.want)
			case !strings.Contains(body, `"id":"hostile-`):
				// no id to commit or delete by
			case tc.want == refused:
				if !strings.Contains(rec.Body.String(), `"result":"rejecting"`) {
					t.Fatalf("pending: %d %s", rec.Code, rec.Body)
				}
			case !strings.Contains(rec.Body.String(), `"result":"approving"`):
				t.Fatalf("pending: %d %s", rec.Code, rec.Body)
			}
		})
	}
	f.reviews.Wait()
}

// TestHostileGzip: compressed bodies are inflated once, within the size
// limit, and what they inflate to is read like any body.
func TestHostileGzip(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *hook.Config) { c.MaxBody = 64 << 10 })
	plain := []byte(payload(`{"text":"you slurword"}`))
	half := len(plain) / 2
	cases := []struct {
		name     string
		body     []byte
		signedAs []byte
		status   int
		code     string
	}{
		{"two members make one body", append(gzipped(t, plain[:half]), gzipped(t, plain[half:])...), plain, 200, ""},
		{"gzip inside gzip", gzipped(t, gzipped(t, plain)), gzipped(t, plain), 400, "bad_payload"},
		{"garbage after the stream", append(gzipped(t, plain), "garbage"...), plain, 400, "bad_body"},
		{"cut short", gzipped(t, plain)[:20], plain, 400, "bad_body"},
		{"only the magic bytes", []byte{0x1f, 0x8b}, nil, 400, "bad_body"},
		{"inflates to nothing", gzipped(t, nil), nil, 400, "bad_payload"},
		{"bomb", gzipped(t, bytes.Repeat([]byte("a"), 1<<20)), nil, 413, "too_large"},
		{"bomb that is valid JSON", gzipped(t, []byte(`{"message":{"text":"`+strings.Repeat("slurword ", 1<<17)+`"}}`)), nil, 413, "too_large"},
		{"signed over the compressed bytes", gzipped(t, plain), gzipped(t, plain), 401, "bad_signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := signed(tc.body, testKey, testSecret)
			req.Header.Set("X-Signature", stream.Sign(testSecret, tc.signedAs))
			rec := f.do(req)
			if tc.status != 200 {
				wantError(t, rec, tc.status, tc.code)
				return
			}
			if got := answerMessage(t, rec); string(got) != `{"type":"error","text":"Slurs are not allowed here."}` {
				t.Fatalf("answer %s", got)
			}
		})
	}
}

// TestPendingBodyWithLeadingWhitespace: the pending hook reads the callback
// named in a body (and its metadata and created_at) even with whitespace
// before the object, rather than taking a deletion for a new message.
func TestPendingBodyWithLeadingWhitespace(t *testing.T) {
	t.Parallel()
	pub := &decisionRecorder{}
	f := newFixture(t, withReviews(pub))
	body := " \r\n\t" + `{"type":"message.pending","method":"DeletedPendingMessage","message":{"id":"p-ws","text":"hello"},` +
		`"channel":{"cid":"messaging:general"},"user":{"id":"u1"}}`
	req := signedTo("/hooks/pending", []byte(body))
	if rec := f.do(req); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"result":"dropped"`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	f.reviews.Wait()
	if got := pub.got(); len(got) != 0 {
		t.Fatalf("a deleted message reached Stream: %v", got)
	}
}
