// Package stream speaks Stream Chat's side of the wire: the hook payloads,
// their signatures and compression, and the answers Stream expects.
//
// Payloads are read with an exact scanner (package rawjson) rather than
// decoded into structs: the received message object is kept as raw bytes so
// that an answer returns it byte for byte, unknown fields, nulls and odd
// types included, with only the fields a verdict changes replaced.
package stream

import (
	"errors"
	"unicode/utf8"

	"github.com/modgate/modgate/rawjson"
	"github.com/modgate/modgate/rules"
)

// ApprovalField is the custom field that marks a message a moderator
// approved, when modgate sends it again on its sender's behalf.
const ApprovalField = "modgate_approval"

// Errors for bodies that are not a hook payload. They are the sender's
// fault: the HTTP layer answers 400.
var (
	ErrMalformed = errors.New("body is not valid JSON")
	ErrNotObject = errors.New("body is not a JSON object")
	ErrNoMessage = errors.New("body has no message object")
)

// Payload is a hook request body, scanned once. Fields point into Body.
//
// The answers built from a Payload return the received message byte for
// byte except what a verdict changes, and except two kinds of member that a
// client must not be able to pass on as they came: the member modgate owns
// (see ParseOwning), and a text repeated under the same key.
type Payload struct {
	Body []byte

	Message     []byte // the raw message object
	User        []byte // raw objects; nil when absent or not an object
	Channel     []byte
	RequestInfo []byte

	Text    string // message.text; "" when absent or not a string. It may share Body's bytes
	HasText bool
	ID      string // message.id; "" for a new message. It may share Body's bytes

	// Approval is the raw value of message.modgate_approval, the marker of
	// a message a moderator approved and modgate sent again; nil for others.
	Approval []byte

	// Members of the message, user, channel and request_info objects, for
	// the rules (moderation.Message.Members).
	Members rules.Members

	msgStart int
	text     [2]int           // the raw value of the last text member in Body, of any type; text[1] == 0 when absent
	owned    string           // the member of the message that belongs to modgate; "" for none
	recast   bool             // the message has the owned member, or more than one text: answers rewrite them
	store    []rawjson.Member // backing of Members, kept by a Payload that is parsed again
}

// Parse scans body. It accepts any valid JSON object with a `message` object;
// every other key is ignored and kept.
func (p *Payload) Parse(body []byte) error { return p.ParseOwning(body, "") }

// ParseOwning is Parse for a message with a member that belongs to modgate,
// named owned (the rule set's flag field; "" for none): whatever a client put
// there, every answer built from p replaces it with [] unless the verdict
// sets it. An empty list rather than no member: whether Stream keeps a member
// an answer leaves out is not documented, and [] reads as "no flags" either
// way. The scan finds the member on its way, so a message without it costs
// nothing more.
func (p *Payload) ParseOwning(body []byte, owned string) error {
	*p = Payload{Body: body, msgStart: -1, owned: owned, store: p.store[:0]}
	s := rawjson.NewScanner(body)
	s.SkipSpace()
	if s.Peek() != '{' {
		if !rawjson.Valid(body) {
			return ErrMalformed
		}
		return ErrNotObject
	}
	if !s.Object(0, func(key []byte, depth int) bool { return p.member(&s, key, depth) }) {
		return ErrMalformed
	}
	if s.SkipSpace(); !s.AtEnd() {
		return ErrMalformed
	}
	if p.Message == nil {
		return ErrNoMessage
	}
	return nil
}

// Reset empties p for another Parse, keeping its buffer, and returns how
// many members that buffer holds, for a pool to let a large one go.
func (p *Payload) Reset() int {
	clear(p.store)
	*p = Payload{store: p.store[:0]}
	return cap(p.store)
}

// AppendAllow appends the answer that lets the message through unchanged:
// the received message byte for byte (see Payload for the members it
// rewrites).
func (p *Payload) AppendAllow(dst []byte) []byte {
	if p.recast {
		return p.appendMessage(dst, "", false, nil, "")
	}
	dst = append(dst, `{"message":`...)
	dst = append(dst, p.Message...)
	return append(dst, '}')
}

// AppendText appends the answer that lets the message through with its text
// replaced; every other byte of the message is kept.
func (p *Payload) AppendText(dst []byte, text string) []byte {
	return p.AppendPatched(dst, text, true, nil)
}

// AppendPatched appends the answer that lets the message through with
// changes: text replaced (when textChanged) and fields set. Members keep
// their place and every untouched byte; fields the message lacked are added
// at its end.
func (p *Payload) AppendPatched(dst []byte, text string, textChanged bool, fields []rules.FieldValue) []byte {
	if !p.HasText {
		textChanged = false // never invent a text the message did not have
	}
	if !textChanged && len(fields) == 0 {
		return p.AppendAllow(dst)
	}
	return p.appendMessage(dst, text, textChanged, fields, "")
}

// AppendPatchedWithout is AppendPatched for a message without one of its
// members (the marker of a message modgate updates itself).
func (p *Payload) AppendPatchedWithout(dst []byte, text string, textChanged bool, fields []rules.FieldValue, drop string) []byte {
	if !p.HasText {
		textChanged = false
	}
	return p.appendMessage(dst, text, textChanged, fields, drop)
}

// AppendWithout appends the answer that lets the message through without
// one of its members; the others keep their bytes.
func (p *Payload) AppendWithout(dst []byte, key string) []byte {
	return p.appendMessage(dst, "", false, nil, key)
}

// emptyList is what the member modgate owns holds when no rule set it.
var emptyList = []byte("[]")

// appendMessage appends {"message": ...}: the received message with every
// text member holding the new text (when textChanged) or else the last
// text's value, fields set, the owned member [] unless a field sets it, and
// the members named drop left out. Every other byte is kept; fields the
// message lacked are added at its end.
func (p *Payload) appendMessage(dst []byte, text string, textChanged bool, fields []rules.FieldValue, drop string) []byte {
	msg := p.Body[p.msgStart : p.msgStart+len(p.Message)]
	dst = append(dst, `{"message":{`...)
	var done [16]bool
	if len(fields) > len(done) {
		fields = fields[:len(done)]
	}
	pos := 1      // msg[:pos] is written
	kept := false // a member is written
	rawjson.EachMember(msg, 0, func(key []byte, v0, v1 int) {
		var value []byte
		newText := false
		switch {
		case drop != "" && string(key) == drop:
			pos = v1 // with the comma before it, if any
			return
		case string(key) == "text":
			switch {
			case textChanged:
				newText = true
			case p.msgStart+v0 != p.text[0]:
				value = p.Body[p.text[0]:p.text[1]] // an earlier text repeats the last
			}
		default:
			for i, f := range fields {
				if f.Key == string(key) {
					value, done[i] = f.JSON, true
				}
			}
			if value == nil && p.owned != "" && string(key) == p.owned {
				value = emptyList
			}
		}
		between := msg[pos:v0] // [whitespace, comma] key colon
		if !kept {
			between = trimComma(between) // what came before was left out
		}
		dst = append(dst, between...)
		switch {
		case newText:
			dst = AppendString(dst, text)
		case value != nil:
			dst = append(dst, value...)
		default:
			dst = append(dst, msg[v0:v1]...)
		}
		pos, kept = v1, true
	})
	dst = append(dst, msg[pos:len(msg)-1]...) // whitespace before the closing brace
	for i, f := range fields {
		if done[i] {
			continue
		}
		if kept {
			dst = append(dst, ',')
		}
		kept = true
		dst = AppendString(dst, f.Key)
		dst = append(dst, ':')
		dst = append(dst, f.JSON...)
	}
	return append(dst, "}}"...)
}

// trimComma drops the comma that separates a member from the one before.
func trimComma(b []byte) []byte {
	for i, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
		case ',':
			return b[i+1:]
		default:
			return b
		}
	}
	return b
}

// AppendEphemeral appends a custom command's answer that shows text to its
// sender alone: the received message, byte for byte but for its type
// ("ephemeral") and its text (see Payload for the members it rewrites).
func (p *Payload) AppendEphemeral(dst []byte, text string) []byte {
	fields := []rules.FieldValue{{Key: "type", JSON: ephemeralJSON}}
	if p.HasText {
		return p.appendMessage(dst, text, true, fields, "")
	}
	// A text that is not a string (null) goes, and the text is added.
	fields = append(fields, rules.FieldValue{Key: "text", JSON: AppendString(nil, text)})
	return p.appendMessage(dst, "", false, fields, "text")
}

var ephemeralJSON = []byte(`"ephemeral"`)

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
