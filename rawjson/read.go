package rawjson

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// The functions here read valid JSON (Valid), as a payload is once it has
// been accepted: they find the end of a value without checking it.

// Member is one member of a JSON object: its key (unescaped) and its raw
// value.
type Member struct {
	Key string
	Val []byte
}

// EachMember calls fn for every member of the JSON object at obj[i], with
// the key (unescaped only when it needs it) and the bounds of the raw value.
// The last of repeated keys comes last, as encoding/json keeps it.
func EachMember(obj []byte, i int, fn func(key []byte, v0, v1 int)) {
	i = skipSpace(obj, i+1)
	for i < len(obj) && obj[i] != '}' {
		k0 := i
		k1 := skipString(obj, k0)
		key := obj[k0+1 : k1-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			key = []byte(unquote(obj[k0:k1]))
		}
		i = skipSpace(obj, k1)
		i = skipSpace(obj, i+1) // ':'
		v0 := i
		v1 := SkipValue(obj, v0)
		fn(key, v0, v1)
		i = skipSpace(obj, v1)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
}

// EachElement calls fn with every element of the JSON array arr; nothing
// when arr is not an array.
func EachElement(arr []byte, fn func(elem []byte)) {
	if len(arr) == 0 || arr[0] != '[' {
		return
	}
	i := skipSpace(arr, 1)
	for i < len(arr) && arr[i] != ']' {
		end := SkipValue(arr, i)
		fn(arr[i:end])
		i = skipSpace(arr, end)
		if i < len(arr) && arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
}

// Lookup returns the raw value at path inside the JSON object obj (which
// whitespace may precede, as in a whole body), or nil.
func Lookup(obj []byte, path ...string) []byte {
	for _, key := range path {
		i := skipSpace(obj, 0)
		if i >= len(obj) || obj[i] != '{' {
			return nil
		}
		var found []byte
		EachMember(obj, i, func(k []byte, v0, v1 int) {
			if string(k) == key {
				found = obj[v0:v1]
			}
		})
		if found == nil {
			return nil
		}
		obj = found
	}
	return obj
}

// skipString returns the offset just past the string whose quote is b[i].
func skipString(b []byte, i int) int {
	end, _ := scanString(b, i, false)
	return end
}

// SkipValue returns the offset just past the JSON value that starts at
// b[i].
func SkipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
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

// IsString reports whether raw is a JSON string.
func IsString(raw []byte) bool { return len(raw) >= 2 && raw[0] == '"' }

// String returns the value of the JSON string raw, or "" for any other
// value. Invalid UTF-8 becomes U+FFFD.
func String(raw []byte) string {
	if !IsString(raw) {
		return ""
	}
	return unquote(raw)
}

// View is String without a copy when raw needs no unescaping: the string
// then shares raw's bytes, and must not outlive them. The hot path reads
// the strings of every payload this way.
func View(raw []byte) string {
	if !IsString(raw) {
		return ""
	}
	inner := raw[1 : len(raw)-1]
	if len(inner) == 0 {
		return ""
	}
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return unsafe.String(&inner[0], len(inner))
	}
	return unquote(raw)
}

// Key returns a member's key as Object gives it (quotes included) without
// its quotes: a view of quoted, or a decoded copy when it has escapes.
func Key(quoted []byte) string {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') >= 0 {
		return unquote(quoted)
	}
	return unsafe.String(unsafe.SliceData(raw), len(raw))
}

// Number returns the value of the JSON number raw, and false for any other
// value.
func Number(raw []byte) (float64, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	return f, err == nil
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
