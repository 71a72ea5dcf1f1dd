package rules

import (
	"strconv"
	"time"
	"unsafe"

	"github.com/modgate/modgate/rawjson"
)

// Input is what conditions read: one message, with its text analysed once.
// Raw objects are the JSON of the payload (nil when absent); values derived
// from them are computed on first use and kept for the other rules.
type Input struct {
	Text        *Text
	Message     []byte
	User        []byte
	Channel     []byte
	RequestInfo []byte
	Metadata    []byte
	Hook        string // "before_send" or "pending"
	Now         time.Time

	links     []string // domains of the links, lower case
	linksDone bool
	ext       string // request_info.ext as received
	extDone   bool
	fields    []cachedField  // raw fields read so far: several rules often read the same
	index     [5]objectIndex // the members of message, user, channel, request_info, metadata

	// Known are members the payload's reader found already; nil, or a
	// nil list in it, means the object is scanned when first read.
	Known *Members

	// SkipCostly puts costly tests (regular expressions) off: they answer
	// Unknown. The engine evaluates every rule's cheap tests first, then the
	// costly ones of the rules still undecided.
	SkipCostly bool
	// Budget is the time the evaluation has; a regular expression reads it
	// while it matches, and answers Unknown once the deadline passed.
	Budget Budget
	// Strikes are the sender's strikes, counted with the message's own,
	// which consequences read; nil until then.
	Strikes *StrikeCounts
	reader  textReader
}

// Members are the members of a payload's objects, in the order written.
type Members struct {
	Message, User, Channel, RequestInfo []rawjson.Member
}

// RootOf tells which of Members' objects a top-level key of a hook payload
// names: 0 message, 1 user, 2 channel, 3 request_info; -1 for any other key.
func RootOf(key string) int {
	switch key {
	case "message":
		return rootMessage
	case "user":
		return rootUser
	case "channel":
		return rootChannel
	case "request_info":
		return rootRequestInfo
	}
	return -1
}

// Set takes the members of the object RootOf named root.
func (m *Members) Set(root int, list []rawjson.Member) {
	switch root {
	case rootMessage:
		m.Message = list
	case rootUser:
		m.User = list
	case rootChannel:
		m.Channel = list
	case rootRequestInfo:
		m.RequestInfo = list
	}
}

// objectIndex lists the members of one top-level object, found in one pass
// the first time a rule looks into it.
type objectIndex struct {
	done    bool
	members []rawjson.Member // this Input's own buffer
	known   []rawjson.Member // Known's list for this object, when there is one
}

// Roots of the payload, in the order of Input.index.
const (
	rootMessage = iota
	rootUser
	rootChannel
	rootRequestInfo
	rootMetadata
)

// get returns the raw value of a member of a top-level object, or nil.
func (in *Input) get(root int, key string) []byte {
	ix := &in.index[root]
	if !ix.done {
		ix.done = true
		if ix.known = in.known(root); ix.known == nil {
			obj := in.objectAt(root)
			if len(obj) > 0 && obj[0] == '{' {
				rawjson.EachMember(obj, 0, func(k []byte, v0, v1 int) {
					ix.members = append(ix.members, rawjson.Member{Key: unsafe.String(unsafe.SliceData(k), len(k)), Val: obj[v0:v1]})
				})
			}
		}
	}
	members := ix.members
	if ix.known != nil {
		members = ix.known
	}
	var found []byte
	for i := range members {
		if members[i].Key == key {
			found = members[i].Val // the last of repeated keys counts
		}
	}
	return found
}

// lookup reads root.keys[0].keys[1]...
func (in *Input) lookup(root int, keys []string) []byte {
	v := in.get(root, keys[0])
	if len(keys) > 1 && v != nil {
		return rawjson.Lookup(v, keys[1:]...)
	}
	return v
}

// known returns the members Known has of a root object, or nil.
func (in *Input) known(root int) []rawjson.Member {
	if in.Known == nil {
		return nil
	}
	switch root {
	case rootMessage:
		return in.Known.Message
	case rootUser:
		return in.Known.User
	case rootChannel:
		return in.Known.Channel
	case rootRequestInfo:
		return in.Known.RequestInfo
	}
	return nil
}

func (in *Input) objectAt(root int) []byte {
	switch root {
	case rootMessage:
		return in.Message
	case rootUser:
		return in.User
	case rootChannel:
		return in.Channel
	case rootRequestInfo:
		return in.RequestInfo
	}
	return in.Metadata
}

func rootIndex(root string) int {
	if r := RootOf(root); r >= 0 {
		return r
	}
	return rootMetadata
}

type cachedField struct {
	f *field
	v value
}

// Reset prepares in for another message, keeping its buffers.
func (in *Input) Reset() {
	links, fields := in.links[:0], in.fields[:0]
	var index [5]objectIndex
	for i := range in.index {
		index[i].members = in.index[i].members[:0]
	}
	*in = Input{links: links, fields: fields, index: index}
}

// cached reads a raw field once per message.
func (in *Input) cached(f *field, read func(in *Input) value) value {
	for i := range in.fields {
		if in.fields[i].f == f {
			return in.fields[i].v
		}
	}
	v := read(in)
	in.fields = append(in.fields, cachedField{f: f, v: v})
	return v
}

// AppendScope appends the value a limit counts by (user, channel, ip,
// device, text) to dst. It reports false when the message lacks it.
func (in *Input) AppendScope(dst []byte, by, deviceKey string) ([]byte, bool) {
	var raw []byte
	switch by {
	case "user":
		raw = in.get(rootUser, "id")
	case "channel":
		raw = in.get(rootChannel, "cid")
	case "ip":
		raw = in.get(rootRequestInfo, "ip")
	case "device":
		v := in.ExtString(deviceKey)
		return append(dst, v...), v != ""
	case "text":
		return strconv.AppendUint(dst, in.Text.Fingerprint(), 36), true
	}
	if len(raw) < 3 || raw[0] != '"' {
		return dst, false
	}
	return append(dst, rawjson.View(raw)...), true
}
