// Package stream speaks Stream Chat's side of the wire: the hook payloads,
// their signatures and compression, and the answers Stream expects.
//
// Payloads are read with an exact scanner rather than decoded into structs:
// the received message object is kept as raw bytes so that an answer returns
// it byte for byte, unknown fields, nulls and odd types included, with only
// the fields a verdict changes replaced.
package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Errors for bodies that are not a hook payload. They are the sender's
// fault: the HTTP layer answers 400.
var (
	ErrMalformed = errors.New("body is not valid JSON")
	ErrNotObject = errors.New("body is not a JSON object")
	ErrNoMessage = errors.New("body has no message object")
)

// Payload is a hook request body, scanned once. Fields point into Body.
type Payload struct {
	Body []byte

	Message     []byte // the raw message object
	User        []byte // raw objects; nil when absent or not an object
	Channel     []byte
	RequestInfo []byte

	Text    string // message.text; "" when absent or not a string
	HasText bool
	ID      string // message.id; "" for a new message

	msgStart int
	text     [2]int // raw text value in Body, quotes included; text[1] == 0 when absent
}

// Parse scans body. It accepts any valid JSON object with a `message` object;
// every other key is ignored and kept.
func (p *Payload) Parse(body []byte) error {
	*p = Payload{Body: body}
	if !json.Valid(body) {
		return ErrMalformed
	}
	i := skipSpace(body, 0)
	if body[i] != '{' {
		return ErrNotObject
	}
	eachMember(body, i, func(key []byte, v0, v1 int) {
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
		return ErrNoMessage
	}
	// The last of repeated keys counts, as in encoding/json.
	eachMember(body, p.msgStart, func(key []byte, v0, v1 int) {
		isString := body[v0] == '"'
		switch string(key) {
		case "text":
			p.text, p.Text, p.HasText = [2]int{}, "", false
			if isString {
				p.text = [2]int{v0, v1}
				p.Text, p.HasText = unquote(body[v0:v1]), true
			}
		case "id":
			p.ID = ""
			if isString {
				p.ID = unquote(body[v0:v1])
			}
		}
	})
	return nil
}

// Field returns the raw value of a top-level key of obj, or nil.
func Field(obj []byte, name string) []byte {
	var out []byte
	if len(obj) == 0 || obj[0] != '{' {
		return nil
	}
	eachMember(obj, 0, func(key []byte, v0, v1 int) {
		if string(key) == name {
			out = obj[v0:v1]
		}
	})
	return out
}

// String returns the value of a JSON string, or "" for any other value.
func String(raw []byte) string {
	if len(raw) < 2 || raw[0] != '"' {
		return ""
	}
	return unquote(raw)
}

// eachMember calls fn for every member of the object starting at body[i].
// body must be valid JSON. Keys are unescaped only when they need it.
func eachMember(body []byte, i int, fn func(key []byte, v0, v1 int)) {
	i = skipSpace(body, i+1)
	for i < len(body) && body[i] != '}' {
		k0 := i
		k1 := skipString(body, k0)
		key := body[k0+1 : k1-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			key = []byte(unquote(body[k0:k1]))
		}
		i = skipSpace(body, k1)
		i = skipSpace(body, i+1) // ':'
		v0 := i
		v1 := skipValue(body, v0)
		fn(key, v0, v1)
		i = skipSpace(body, v1)
		if i < len(body) && body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i].
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		// Valid JSON: find the matching close by counting, skipping strings.
		level := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				level++
			case '}', ']':
				level--
				if level == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\n', '\r', '\t':
			return j
		}
		j++
	}
	return j
}

// unquote decodes a JSON string literal. Invalid UTF-8 becomes U+FFFD.
func unquote(raw []byte) string {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return ""
	}
	return s
}

// AppendAllow appends the answer that lets the message through unchanged.
func (p *Payload) AppendAllow(dst []byte) []byte {
	dst = append(dst, `{"message":`...)
	dst = append(dst, p.Message...)
	return append(dst, '}')
}

// AppendText appends the answer that lets the message through with its text
// replaced; every other byte of the message is kept.
func (p *Payload) AppendText(dst []byte, text string) []byte {
	if !p.HasText {
		return p.AppendAllow(dst) // never invent a field the message did not have
	}
	dst = append(dst, `{"message":`...)
	dst = append(dst, p.Body[p.msgStart:p.text[0]]...)
	dst = AppendString(dst, text)
	dst = append(dst, p.Body[p.text[1]:p.msgStart+len(p.Message)]...)
	return append(dst, '}')
}

// AppendReject appends the answer that refuses the message: the sender sees
// reply as an error, nothing is stored.
func AppendReject(dst []byte, reply string) []byte {
	dst = append(dst, `{"message":{"type":"error","text":`...)
	dst = AppendString(dst, reply)
	return append(dst, "}}"...)
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
