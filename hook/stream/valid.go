package stream

import (
	"encoding/binary"
	"unsafe"

	"github.com/modgate/modgate/rules"
)

// valid reports whether b is one JSON value with nothing but whitespace
// around it, accepting exactly what encoding/json's Valid accepts (a fuzz
// test holds them together) at a fraction of its cost: hook bodies are
// checked on every request.
func valid(b []byte) bool {
	v := validator{b: b}
	v.space()
	if !v.value(0) {
		return false
	}
	v.space()
	return v.i == len(b)
}

// maxNesting is encoding/json's limit on nesting.
const maxNesting = 10000

type validator struct {
	b []byte
	i int
	p *Payload // when set, the parts of a hook payload are noted on the way

	recAt int // where the top-level object whose members are noted starts
}

func (v *validator) space() {
	for v.i < len(v.b) {
		switch v.b[v.i] {
		case ' ', '\t', '\n', '\r':
			v.i++
		default:
			return
		}
	}
}

func (v *validator) value(depth int) bool {
	if v.i >= len(v.b) {
		return false
	}
	switch c := v.b[v.i]; {
	case c == '"':
		return v.string()
	case c == '{':
		return v.object(depth + 1)
	case c == '[':
		return v.array(depth + 1)
	case c == '-' || (c >= '0' && c <= '9'):
		return v.number()
	case c == 't':
		return v.literal("true")
	case c == 'f':
		return v.literal("false")
	case c == 'n':
		return v.literal("null")
	}
	return false
}

func (v *validator) literal(lit string) bool {
	if len(v.b)-v.i < len(lit) || string(v.b[v.i:v.i+len(lit)]) != lit {
		return false
	}
	v.i += len(lit)
	return true
}

func (v *validator) object(depth int) bool {
	if depth > maxNesting {
		return false
	}
	// The payload's parts: members of the top-level object, and those of
	// the objects among them that rules read.
	top := v.p != nil && depth == 1
	noting := v.p != nil && depth == 2 && v.i == v.recAt
	isMessage := noting && v.i == v.p.msgStart
	if isMessage {
		v.p.text, v.p.Text, v.p.HasText, v.p.ID, v.p.Approval, v.p.recast = [2]int{}, "", false, "", nil, false
	}
	v.i++ // {
	v.space()
	if v.i < len(v.b) && v.b[v.i] == '}' {
		v.i++
		return true
	}
	for {
		k0 := v.i
		if v.i >= len(v.b) || v.b[v.i] != '"' || !v.string() {
			return false
		}
		k1 := v.i
		v.space()
		if v.i >= len(v.b) || v.b[v.i] != ':' {
			return false
		}
		v.i++
		v.space()
		v0 := v.i
		var key string
		root, n0 := -1, 0
		if top || noting {
			key = memberKey(v.b[k0:k1])
		}
		if top && v0 < len(v.b) && v.b[v0] == '{' {
			if root = rules.RootOf(key); root >= 0 {
				v.recAt, n0 = v0, len(v.p.store)
				if key == "message" {
					v.p.msgStart = v0
				}
			}
		}
		if !v.value(depth) {
			return false
		}
		switch {
		case root >= 0:
			v.p.setMembers(root, key, v.b[v0:v.i], v.p.store[n0:len(v.p.store):len(v.p.store)])
		case noting:
			v.p.store = append(v.p.store, rules.Member{Key: key, Val: v.b[v0:v.i]})
			if isMessage {
				v.p.noteMessage(key, v0, v.i)
			}
		}
		v.space()
		if v.i >= len(v.b) {
			return false
		}
		switch v.b[v.i] {
		case ',':
			v.i++
			v.space()
		case '}':
			v.i++
			return true
		default:
			return false
		}
	}
}

// memberKey is a key as written, quotes removed and escapes read (rarely
// needed, so it is a view of the body otherwise).
func memberKey(quoted []byte) string {
	raw := quoted[1 : len(quoted)-1]
	for _, c := range raw {
		if c == '\\' {
			s, _ := rules.JSONString(quoted)
			return s
		}
	}
	return unsafe.String(unsafe.SliceData(raw), len(raw))
}

func (v *validator) array(depth int) bool {
	if depth > maxNesting {
		return false
	}
	v.i++ // [
	v.space()
	if v.i < len(v.b) && v.b[v.i] == ']' {
		v.i++
		return true
	}
	for {
		if !v.value(depth) {
			return false
		}
		v.space()
		if v.i >= len(v.b) {
			return false
		}
		switch v.b[v.i] {
		case ',':
			v.i++
			v.space()
		case ']':
			v.i++
			return true
		default:
			return false
		}
	}
}

// string checks a string: no raw control characters, and escapes that
// exist. Like encoding/json, it does not require valid UTF-8.
func (v *validator) string() bool {
	b := v.b
	i := v.i + 1
	for i < len(b) {
		// Eight bytes at a time while none of them ends the string, starts
		// an escape or is a control character: most of a body is plain text.
		for i+8 <= len(b) && !stringSpecial(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			v.i = i + 1
			return true
		case c == '\\':
			if i+1 >= len(b) {
				return false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return false
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return false
					}
				}
				i += 6
			default:
				return false
			}
		case c < 0x20:
			return false
		default:
			i++
		}
	}
	return false
}

// stringSpecial reports whether one of the eight bytes of x is '"', '\\'
// or below 0x20. It may report true for a byte after one that is (a borrow
// runs on), never false for one that is.
func stringSpecial(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ (ones * '"')
	slash := x ^ (ones * '\\')
	return ((quote-ones)&^quote|(slash-ones)&^slash|(x-ones*0x20)&^x)&highs != 0
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func (v *validator) number() bool {
	b := v.b
	i := v.i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	v.i = i
	return true
}
