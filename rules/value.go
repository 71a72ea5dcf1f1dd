package rules

import (
	"strconv"
	"unsafe"

	"github.com/modgate/modgate/rawjson"
)

// valueKind is the type of a value a condition reads.
type valueKind uint8

const (
	kindMissing valueKind = iota // absent or null
	kindString
	kindNumber
	kindBool
	kindList     // links, mentions, attachments, JSON arrays
	kindDuration // user.account_age, in seconds
)

// value is what a field holds for one message.
type value struct {
	kind  valueKind
	s     string
	n     float64
	b     bool
	raw   []byte   // a JSON array, for kindList read from the payload
	key   string   // for arrays of objects: the member that names each element (mentions by id)
	items []string // for derived lists
}

// rawValue turns raw JSON into a value.
func rawValue(raw []byte) value {
	if len(raw) == 0 {
		return value{}
	}
	switch raw[0] {
	case '"':
		return value{kind: kindString, s: rawjson.View(raw)}
	case 't':
		return value{kind: kindBool, b: true}
	case 'f':
		return value{kind: kindBool, b: false}
	case '[':
		return value{kind: kindList, raw: raw}
	case 'n':
		return value{}
	case '{':
		return value{kind: kindString, s: unsafe.String(&raw[0], len(raw))} // an object compares as its JSON
	}
	if n, ok := rawjson.Number(raw); ok {
		return value{kind: kindNumber, n: n}
	}
	return value{}
}

// listOf reads a JSON array of objects (or of strings) as the list of one
// key of each object: mentioned users by id, attachments by type.
func listOf(arr []byte, key string) value {
	if len(arr) == 0 || arr[0] != '[' {
		return value{}
	}
	return value{kind: kindList, raw: arr, key: key}
}

// each calls fn with every string a value holds: itself, or its elements.
func (v value) each(fn func(s string) bool) bool {
	switch v.kind {
	case kindString:
		return fn(v.s)
	case kindNumber:
		return fn(strconv.FormatFloat(v.n, 'f', -1, 64))
	case kindBool:
		return fn(strconv.FormatBool(v.b))
	case kindList:
		for _, s := range v.items {
			if fn(s) {
				return true
			}
		}
		found := false
		rawjson.EachElement(v.raw, func(elem []byte) {
			if found {
				return
			}
			if v.key != "" && len(elem) > 0 && elem[0] == '{' {
				elem = rawjson.Lookup(elem, v.key)
			}
			e := rawValue(elem)
			found = e.kind != kindList && e.each(fn)
		})
		return found
	}
	return false
}

// count is the number of elements of a list value.
func (v value) count() int {
	n := len(v.items)
	rawjson.EachElement(v.raw, func([]byte) { n++ })
	return n
}
