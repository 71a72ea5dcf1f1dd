package stream

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/modgate/modgate/rawjson"
	"github.com/modgate/modgate/rules"
)

func TestParseFindsTheParts(t *testing.T) {
	t.Parallel()
	body := []byte(`{"message":{"id":"m1","text":"caf\u00e9","x":[1,{"text":"inner"}]},"user":{"id":"u"},` +
		`"channel":{"cid":"messaging:a"},"request_info":{"ip":"1.2.3.4"},"extra":null}`)
	var p Payload
	if err := p.Parse(body); err != nil {
		t.Fatal(err)
	}
	if p.Text != "café" || p.ID != "m1" || !p.HasText {
		t.Fatalf("text %q id %q", p.Text, p.ID)
	}
	if rawjson.String(rawjson.Lookup(p.User, "id")) != "u" || rawjson.String(rawjson.Lookup(p.Channel, "cid")) != "messaging:a" ||
		rawjson.String(rawjson.Lookup(p.RequestInfo, "ip")) != "1.2.3.4" {
		t.Fatal("fields not found")
	}
	if got := string(p.AppendText(nil, `new "text"`)); got != `{"message":{"id":"m1","text":"new \"text\"","x":[1,{"text":"inner"}]}}` {
		t.Fatalf("AppendText %s", got)
	}
}

func TestAppendString(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, in, want string }{
		{"plain", "plain", `"plain"`},
		{"quote and backslash", "q\"b\\", `"q\"b\\"`},
		{"control characters", "\n\r\t\x01", `"\n\r\t\u0001"`},
		{"invalid UTF-8", "bad \xff byte", `"bad \ufffd byte"`},
		{"line separator", "line\u2028sep", `"line\u2028sep"`},
		{"beyond ASCII", "emoji 😀 and é", `"emoji 😀 and é"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := string(AppendString(nil, tc.in)); got != tc.want {
				t.Errorf("AppendString(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzPayload: decoding never panics; an accepted payload's allow answer is
// valid JSON holding the received message byte for byte but for the members
// a client may not pass on (the owned one becomes [], an earlier text
// repeats the last), and a rewritten text decodes back to what was written
// in every text member.
func FuzzPayload(f *testing.F) {
	for _, s := range []string{
		`{"message":{"text":"hi"}}`,
		`{"message":{"id":"","text":"hello","custom":{"a":[1,2,null]}},"user":{"id":"u"}}`,
		`{"message":{"text":"\u00e9\ud83d\ude00","text":"dup"}}`,
		`{"message":{"text":42}}`, `{"message":null}`, `[]`, `{`, `{"message":{"text":"a\"b"}}  `,
		"{\"message\":{\"text\":\"\xff\"}}",
		`{"message":{"modgate_flags":["x"],"text":"hi","modgate\u005fflags":null}}`,
		`{"message":{ "text" : 1 , "text":"b" }}`,
	} {
		f.Add([]byte(s), "replacement")
	}
	f.Fuzz(func(t *testing.T, body []byte, text string) {
		var p Payload
		if err := p.ParseOwning(body, "modgate_flags"); err != nil {
			return
		}
		if !json.Valid(p.Message) || p.Message[0] != '{' {
			t.Fatalf("message %q is not an object", p.Message)
		}
		in := objectMembers(p.Message)
		lastText := []byte(nil)
		for _, m := range in {
			if m.Key == "text" {
				lastText = m.Val
			}
		}
		allow := answerMembers(t, p.AppendAllow(nil))
		if len(allow) != len(in) {
			t.Fatalf("allow answer has %d members, the message %d: %q", len(allow), len(in), p.AppendAllow(nil))
		}
		for i, m := range in {
			want := m.Val
			switch m.Key {
			case "text":
				want = lastText
			case "modgate_flags":
				want = []byte("[]")
			}
			if allow[i].Key != m.Key || !bytes.Equal(allow[i].Val, want) {
				t.Fatalf("allow answer member %d is %s:%s, want %s:%s", i, allow[i].Key, allow[i].Val, m.Key, want)
			}
		}
		if !p.recast && !bytes.Equal(p.AppendAllow(nil), append(append([]byte(`{"message":`), p.Message...), '}')) {
			t.Fatalf("allow answer changed the message: %q", p.AppendAllow(nil))
		}
		rewritten := answerMembers(t, p.AppendText(nil, text))
		for _, m := range rewritten {
			if m.Key != "text" || !p.HasText {
				continue
			}
			var got string
			if err := json.Unmarshal(m.Val, &got); err != nil {
				t.Fatal(err)
			}
			want := text
			if !utf8.ValidString(want) {
				want = string([]rune(want))
			}
			if got != want {
				t.Fatalf("text %q, want %q", got, want)
			}
		}
		for _, m := range answerMembers(t, p.AppendWithout(nil, "id")) {
			if m.Key == "id" {
				t.Fatalf("AppendWithout kept the member it leaves out")
			}
		}
		reject := AppendReject(nil, text)
		if !json.Valid(reject) {
			t.Fatalf("reject answer is not JSON: %q", reject)
		}
	})
}

// objectMembers lists the members of a JSON object, repeated keys included.
func objectMembers(obj []byte) []rawjson.Member {
	var out []rawjson.Member
	rawjson.EachMember(obj, 0, func(key []byte, v0, v1 int) {
		out = append(out, rawjson.Member{Key: string(key), Val: obj[v0:v1]})
	})
	return out
}

// answerMembers checks that an answer is {"message": {...}} and lists the
// message's members.
func answerMembers(t *testing.T, answer []byte) []rawjson.Member {
	t.Helper()
	var ans map[string]json.RawMessage
	if err := json.Unmarshal(answer, &ans); err != nil || len(ans) != 1 || len(ans["message"]) == 0 || ans["message"][0] != '{' {
		t.Fatalf("answer is not {\"message\": {...}}: %v: %q", err, answer)
	}
	return objectMembers(ans["message"])
}

func TestAppendPatched(t *testing.T) {
	t.Parallel()
	fv := func(k, js string) rules.FieldValue { return rules.FieldValue{Key: k, JSON: []byte(js)} }
	cases := []struct {
		name, message string
		text          string
		textChanged   bool
		fields        []rules.FieldValue
		want          string
	}{
		{"replace existing fields in place", `{"text":"Hi","silent":false, "x" : 1,"z":[1]}`, "hi", true,
			[]rules.FieldValue{fv("silent", "true"), fv("x", `{"a":2}`)},
			`{"text":"hi","silent":true, "x" : {"a":2},"z":[1]}`},
		{"add missing fields at the end", `{"text":"a" }`, "", false,
			[]rules.FieldValue{fv("flags", `["r1"]`), fv("n", "2")},
			`{"text":"a" ,"flags":["r1"],"n":2}`},
		{"empty message", `{ }`, "", false, []rules.FieldValue{fv("k", `"v"`)}, `{ "k":"v"}`},
		{"no text is never invented", `{"id":"1"}`, "new", true, nil, `{"id":"1"}`},
		{"text not a string stays", `{"text":5}`, "new", true, []rules.FieldValue{fv("k", "1")}, `{"text":5,"k":1}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p Payload
			if err := p.Parse([]byte(`{"message":` + tc.message + `,"user":{}}`)); err != nil {
				t.Fatal(err)
			}
			got := string(p.AppendPatched(nil, tc.text, tc.textChanged, tc.fields))
			if want := `{"message":` + tc.want + `}`; got != want {
				t.Fatalf("\n got %s\nwant %s", got, want)
			}
			if !json.Valid([]byte(got)) {
				t.Fatal("not JSON")
			}
		})
	}
}

// TestAnswersRecastWhatClientsMayNotPassOn: the member modgate owns (the
// flag field) comes back [] unless the verdict sets it, whatever the
// client put there and however it wrote the key; a repeated text comes back
// as the text the rules read in every place; AppendWithout leaves a member
// out wherever it stands. Everything else keeps its bytes.
func TestAnswersRecastWhatClientsMayNotPassOn(t *testing.T) {
	t.Parallel()
	fv := func(k, js string) rules.FieldValue { return rules.FieldValue{Key: k, JSON: []byte(js)} }
	const allow, patch, without = "allow", "patch", "without"
	cases := []struct {
		name, owned, message string
		op                   string
		text                 string // patch: the new text ("" keeps it)
		fields               []rules.FieldValue
		want                 string
	}{
		{"owned member emptied", "modgate_flags", `{"text":"hi","modgate_flags":["admin-approved"],"x":1}`, allow, "", nil,
			`{"text":"hi","modgate_flags":[],"x":1}`},
		{"owned key written with an escape", "modgate_flags", `{"modgate\u005fflags":"x","text":"hi"}`, allow, "", nil,
			`{"modgate\u005fflags":[],"text":"hi"}`},
		{"owned member repeated, odd spacing", "modgate_flags", `{ "modgate_flags" : 1 , "text":"hi","modgate_flags":{"a":[]} }`, allow, "", nil,
			`{ "modgate_flags" : [] , "text":"hi","modgate_flags":[] }`},
		{"owned member of another name", "review", `{"text":"hi","review":true,"modgate_flags":["x"]}`, allow, "", nil,
			`{"text":"hi","review":[],"modgate_flags":["x"]}`},
		{"no owned member configured", "", `{"text":"hi","modgate_flags":["x"],"":1}`, allow, "", nil,
			`{"text":"hi","modgate_flags":["x"],"":1}`},
		{"flags set by the verdict", "modgate_flags", `{"modgate_flags":["forged"],"text":"why"}`, patch, "", []rules.FieldValue{fv("modgate_flags", `["question"]`)},
			`{"modgate_flags":["question"],"text":"why"}`},
		{"text masked, owned member emptied", "modgate_flags", `{"text":"what the fuck","modgate_flags":["x"]}`, patch, "what the ****", nil,
			`{"text":"what the ****","modgate_flags":[]}`},
		{"rewrite, owned member emptied", "modgate_flags", `{"silent":false,"modgate_flags":["x"]}`, patch, "", []rules.FieldValue{fv("silent", "true")},
			`{"silent":true,"modgate_flags":[]}`},
		{"repeated text: the last in every place", "", `{"text":"you slurword","id":"1","text":"hello"}`, allow, "", nil,
			`{"text":"hello","id":"1","text":"hello"}`},
		{"repeated text masked in every place", "", `{"text":"hello","t\u0065xt":"what the fuck"}`, patch, "what the ****", nil,
			`{"text":"what the ****","t\u0065xt":"what the ****"}`},
		{"repeated text, the last not a string", "", `{"text":"slurword","text":null}`, allow, "", nil,
			`{"text":null,"text":null}`},
		{"without the first member", "", `{"modgate_approval":"m","text":"hi"}`, without, "", nil, `{"text":"hi"}`},
		{"without a middle member", "", `{"a":1, "modgate_approval":"m" ,"b":2}`, without, "", nil, `{"a":1 ,"b":2}`},
		{"without the last member", "", `{"a":1,"modgate_approval":"m"}`, without, "", nil, `{"a":1}`},
		{"without the only member", "", `{ "modgate_approval":"m" }`, without, "", nil, `{ }`},
		{"without, repeated, with the owned member", "modgate_flags", `{"modgate_approval":1,"modgate_approval":2,"modgate_flags":["x"],"text":"a,b"}`,
			without, "", nil, `{"modgate_flags":[],"text":"a,b"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p Payload
			if err := p.ParseOwning([]byte(`{"message":`+tc.message+`,"user":{}}`), tc.owned); err != nil {
				t.Fatal(err)
			}
			var got []byte
			switch tc.op {
			case allow:
				got = p.AppendAllow(nil)
			case patch:
				got = p.AppendPatched(nil, tc.text, tc.text != "", tc.fields)
			case without:
				got = p.AppendWithout(nil, ApprovalField)
			}
			if want := `{"message":` + tc.want + `}`; string(got) != want {
				t.Fatalf("\n got %s\nwant %s", got, want)
			}
			if !json.Valid(got) {
				t.Fatal("not JSON")
			}
		})
	}
}

// referenceParse is Parse written plainly, in separate passes: validate,
// then walk the top-level object, then the message. FuzzParseOnePass holds
// the single-pass Parse to it.
func referenceParse(body []byte, owned string) (Payload, error) {
	p := Payload{Body: body, owned: owned}
	if !json.Valid(body) {
		return p, ErrMalformed
	}
	i := 0
	for body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r' {
		i++
	}
	if body[i] != '{' {
		return p, ErrNotObject
	}
	p.msgStart = -1
	rawjson.EachMember(body, i, func(key []byte, v0, v1 int) {
		if body[v0] != '{' {
			return
		}
		switch string(key) {
		case "message":
			p.Message, p.msgStart = body[v0:v1], v0
		case "user":
			p.User = body[v0:v1]
		case "channel":
			p.Channel = body[v0:v1]
		case "request_info":
			p.RequestInfo = body[v0:v1]
		}
	})
	if p.Message == nil {
		return p, ErrNoMessage
	}
	rawjson.EachMember(body, p.msgStart, func(key []byte, v0, v1 int) {
		p.noteMessage(string(key), v0, v1)
	})
	members := func(obj []byte) []rawjson.Member {
		if obj == nil {
			return nil
		}
		out := []rawjson.Member{}
		rawjson.EachMember(obj, 0, func(key []byte, v0, v1 int) {
			out = append(out, rawjson.Member{Key: string(key), Val: obj[v0:v1]})
		})
		return out
	}
	p.Members = rules.Members{Message: members(p.Message), User: members(p.User), Channel: members(p.Channel),
		RequestInfo: members(p.RequestInfo)}
	return p, nil
}

func sameMembers(a, b []rawjson.Member) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Val, b[i].Val) {
			return false
		}
	}
	return true
}

func FuzzParseOnePass(f *testing.F) {
	for _, s := range []string{
		`{"message":{"text":"hi","id":"x"},"user":{"id":"u"},"channel":{"cid":"a:b"},"request_info":{"ip":"1.2.3.4"}}`,
		`{"message":{"text":"a"},"message":{"id":"b"}}`, `{"message":{"text":"a"},"message":7}`,
		`{"mess\u0061ge":{"t\u0065xt":"esc"}}`, `{"user":{"message":{"text":"no"}},"message":{}}`,
		`{"message":{"modgate_approval":"m","text":null,"text":"z"}}`, `{"message":{"modgate_flags":1},"message":{"text":"a"}}`, ` {"message":{"x":{"text":"deep"}}} `, `[{"message":{}}]`, `"s"`, ``, `{"message":{"text":"a"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got Payload
		got.Parse([]byte(`{"message":{"a":1,"b":2,"c":3},"user":{"id":"reused"}}`)) // a Payload parsed again keeps its buffers
		gotErr := got.ParseOwning(body, "modgate_flags")
		want, wantErr := referenceParse(body, "modgate_flags")
		if gotErr != wantErr {
			t.Fatalf("Parse(%q) error %v, reference %v", body, gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		if !bytes.Equal(got.Message, want.Message) || !bytes.Equal(got.User, want.User) || !bytes.Equal(got.Channel, want.Channel) ||
			!bytes.Equal(got.RequestInfo, want.RequestInfo) || got.Text != want.Text || got.HasText != want.HasText ||
			got.ID != want.ID || !bytes.Equal(got.Approval, want.Approval) || got.msgStart != want.msgStart || got.text != want.text || got.recast != want.recast ||
			!sameMembers(got.Members.Message, want.Members.Message) || !sameMembers(got.Members.User, want.Members.User) ||
			!sameMembers(got.Members.Channel, want.Members.Channel) || !sameMembers(got.Members.RequestInfo, want.Members.RequestInfo) {
			t.Fatalf("Parse(%q)\n got %+v\nwant %+v", body, got, want)
		}
	})
}
