package rules

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// The functions here read values out of raw JSON without decoding it:
// conditions look at a few fields of a payload whose other fields must stay
// byte for byte. Their input must be valid JSON (json.Valid), as a hook
// payload is once it has been accepted.

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
			key = []byte(unquoteJSON(obj[k0:k1]))
		}
		i = skipSpace(obj, k1)
		i = skipSpace(obj, i+1) // ':'
		v0 := i
		v1 := skipValue(obj, v0)
		fn(key, v0, v1)
		i = skipSpace(obj, v1)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
}

// EachElement calls fn with every element of the JSON array arr.
func EachElement(arr []byte, fn func(elem []byte)) {
	if len(arr) == 0 || arr[0] != '[' {
		return
	}
	i := skipSpace(arr, 1)
	for i < len(arr) && arr[i] != ']' {
		end := skipValue(arr, i)
		fn(arr[i:end])
		i = skipSpace(arr, end)
		if i < len(arr) && arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
}

// Lookup returns the raw value at path inside the JSON object obj, or nil.
func Lookup(obj []byte, path ...string) []byte {
	for _, key := range path {
		if len(obj) == 0 || obj[0] != '{' {
			return nil
		}
		var found []byte
		EachMember(obj, 0, func(k []byte, v0, v1 int) {
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

// JSONString returns the value of a JSON string and true, or "" and false
// for any other value.
func JSONString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	return unquoteJSON(raw), true
}

// JSONNumber returns the value of a JSON number.
func JSONNumber(raw []byte) (float64, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	return f, err == nil
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
		// Eight bytes at a time while none is a quote or a backslash.
		for j+8 <= len(b) && !quoteOrBackslash(binary.LittleEndian.Uint64(b[j:])) {
			j += 8
		}
		if j >= len(b) {
			break
		}
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// quoteOrBackslash reports whether one of the eight bytes of x is '"' or
// '\\'. It may report true for a byte after one that is, never false for
// one that is.
func quoteOrBackslash(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ (ones * '"')
	slash := x ^ (ones * '\\')
	return ((quote-ones)&^quote|(slash-ones)&^slash)&highs != 0
}

// SkipValue returns the index just past the JSON value starting at b[i].
func SkipValue(b []byte, i int) int { return skipValue(b, i) }

func skipValue(b []byte, i int) int {
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

// unquoteJSON decodes a JSON string literal. Invalid UTF-8 becomes U+FFFD.
func unquoteJSON(raw []byte) string {
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
