package rawjson

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// FuzzValid: the fast validator accepts exactly what encoding/json accepts.
func FuzzValid(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,2.5e-3,-0,true,false,null,"x\u00e9\n"]}`, `{"a":}`, `[1,]`, `01`, `-`, `1.`,
		`1e`, `"\x"`, "\"a\tb\"", "\"\x01\"", `{"a" 1}`, `  {"a":1}  `, `{"a":1}}`, "\xff", `"\ud800"`, `[[[[]]]]`, `1E+2`, `tru`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, want := Valid(b), json.Valid(b)
		if got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
		// Over valid JSON, the readers find the ends the checks found.
		if i := skipSpace(b, 0); want {
			s := NewScanner(b[i:])
			s.Value(0)
			if end := SkipValue(b, i); end != i+s.Pos() {
				t.Fatalf("SkipValue(%q) = %d, the check ends at %d", b, end, i+s.Pos())
			}
		}
	})
}

func TestValidNesting(t *testing.T) {
	t.Parallel()
	for _, depth := range []int{1, 9999, 10000, 10001, 50000} {
		for _, open := range []string{"[", `{"a":`} {
			closing := strings.Repeat("]", depth)
			if open != "[" {
				closing = "1" + strings.Repeat("}", depth)
			}
			b := []byte(strings.Repeat(open, depth) + closing)
			t.Run(open+strconv.Itoa(depth), func(t *testing.T) {
				t.Parallel()
				if got, want := Valid(b), json.Valid(b); got != want {
					t.Fatalf("depth %d: %v, encoding/json says %v", depth, got, want)
				}
			})
		}
	}
}

// TestValidStringsEveryOffset puts each kind of byte a string scan must
// notice at every offset of strings longer than the eight bytes read at a
// time, and compares with encoding/json.
func TestValidStringsEveryOffset(t *testing.T) {
	t.Parallel()
	specials := []string{`"`, `\`, "\x00", "\x01", "\x1f", " ", "\x7f", "\x80", "\xff", `\"`, `\\`, `\n`, `\u00e9`, `\u12`, `\x`, "é"}
	for _, sp := range specials {
		t.Run(strconv.Quote(sp), func(t *testing.T) {
			t.Parallel()
			for n := 0; n < 26; n++ {
				for at := 0; at <= n; at++ {
					s := strings.Repeat("a", at) + sp + strings.Repeat("b", n-at)
					for _, b := range [][]byte{[]byte(`"` + s + `"`), []byte(`{"k":"` + s + `","x":[1]}`), []byte(`"` + s)} {
						if got, want := Valid(b), json.Valid(b); got != want {
							t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
						}
					}
				}
			}
		})
	}
}

// TestObjectSeesEveryMember: Object hands each member to its caller, keys
// as written, repeated keys included, with the depth that encloses the
// value; the caller's answer decides whether the object is valid.
func TestObjectSeesEveryMember(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in string
		keys     []string
		valid    bool
	}{
		{"plain", `{"a":1,"b":[2],"a":{"c":3}}`, []string{`"a"`, `"b"`, `"a"`}, true},
		{"spaces", " {\n\"a\" :\t\"x\" , \"b\\u0041\":null } ", []string{`"a"`, `"b\u0041"`}, true},
		{"empty", `{}`, nil, true},
		{"bad value", `{"a":tru}`, []string{`"a"`}, false},
		{"trailing comma", `{"a":1,}`, []string{`"a"`}, false},
		{"no colon", `{"a" 1}`, nil, false},
		{"not an object", `[1]`, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := NewScanner([]byte(tc.in))
			s.SkipSpace()
			var keys []string
			ok := s.Object(0, func(key []byte, depth int) bool {
				keys = append(keys, string(key))
				if depth != 1 {
					t.Errorf("depth %d inside a top-level object", depth)
				}
				return s.Value(depth)
			})
			if s.SkipSpace(); ok && !s.AtEnd() {
				ok = false
			}
			if ok != tc.valid || strings.Join(keys, " ") != strings.Join(tc.keys, " ") {
				t.Fatalf("valid %v keys %q, want %v %q", ok, keys, tc.valid, tc.keys)
			}
		})
	}
}
