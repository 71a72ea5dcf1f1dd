package stream

import (
	"github.com/modgate/modgate/rawjson"
	"github.com/modgate/modgate/rules"
)

// A body is scanned once: rawjson checks it whole as encoding/json would,
// and on the way the payload notes the members of the objects the rules
// read (message, user, channel, request_info) and the message's own
// fields. Of repeated keys the last counts, as in encoding/json.

// member reads one member of the body's top-level object: an object the
// rules read, member by member; anything else is only checked.
func (p *Payload) member(s *rawjson.Scanner, quoted []byte, depth int) bool {
	if s.Peek() != '{' {
		return s.Value(depth)
	}
	key := rawjson.Key(quoted)
	root := rules.RootOf(key)
	if root < 0 {
		return s.Value(depth)
	}
	isMessage := key == "message"
	if isMessage {
		p.msgStart = s.Pos()
		p.text, p.Text, p.HasText, p.ID, p.Approval, p.recast = [2]int{}, "", false, "", nil, false
	}
	v0, n0 := s.Pos(), len(p.store)
	ok := s.Object(depth, func(quoted []byte, depth int) bool {
		m0 := s.Pos()
		if !s.Value(depth) {
			return false
		}
		key := rawjson.Key(quoted)
		p.store = append(p.store, rawjson.Member{Key: key, Val: p.Body[m0:s.Pos()]})
		if isMessage {
			p.noteMessage(key, m0, s.Pos())
		}
		return true
	})
	if ok {
		p.setMembers(root, key, p.Body[v0:s.Pos()], p.store[n0:len(p.store):len(p.store)])
	}
	return ok
}

// setMembers takes a top-level object (root by rules.RootOf) and its
// members.
func (p *Payload) setMembers(root int, key string, obj []byte, members []rawjson.Member) {
	switch key {
	case "message":
		p.Message = obj
	case "user":
		p.User = obj
	case "channel":
		p.Channel = obj
	case "request_info":
		p.RequestInfo = obj
	}
	p.Members.Set(root, members)
}

// noteMessage takes one member of the message object. Strings are read
// without a copy: the hot path reads the text of every message, and the
// body outlives every use of it within a request.
func (p *Payload) noteMessage(key string, v0, v1 int) {
	raw := p.Body[v0:v1]
	switch key {
	case "text":
		if p.text[1] != 0 {
			// A reader of the answer that took the first text would see one
			// the rules never read: every answer repeats the last.
			p.recast = true
		}
		p.text = [2]int{v0, v1}
		p.Text, p.HasText = rawjson.View(raw), rawjson.IsString(raw)
	case "id":
		p.ID = rawjson.View(raw)
	case ApprovalField:
		p.Approval = raw
	default:
		if key == p.owned && key != "" {
			p.recast = true
		}
	}
}
