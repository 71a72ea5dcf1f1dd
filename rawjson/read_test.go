package rawjson

import (
	"strings"
	"testing"
	"unsafe"
)

// TestSkipStringEveryOffset: the end of a string is found whatever offset
// its quote or escapes fall on.
func TestSkipStringEveryOffset(t *testing.T) {
	t.Parallel()
	for _, sp := range []string{`\"`, `\\`, `\u0041`, "é", "\x80", ""} {
		for n := 0; n < 26; n++ {
			for at := 0; at <= n; at++ {
				s := `"` + strings.Repeat("a", at) + sp + strings.Repeat("b", n-at) + `"`
				b := []byte(s + `,"next"`)
				if got := SkipValue(b, 0); got != len(s) {
					t.Fatalf("SkipValue(%q) = %d, want %d", b, got, len(s))
				}
			}
		}
	}
	if got := SkipValue([]byte(`"abcdefghijkl`), 0); got != 13 {
		t.Fatalf("an unterminated string runs to the end, got %d", got)
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	const obj = ` {"a":{"b":"x","b":"y"},"s":"plain","e":"caf\u00e9","n":-1.5e2,"l":[1,{"k":"v"}],"z":null,"k\u0065y":true}`
	cases := []struct {
		name   string
		path   []string
		raw    string // what Lookup returns
		str    string // String of it
		number float64
	}{
		{"nested, last of repeated keys", []string{"a", "b"}, `"y"`, "y", 0},
		{"string", []string{"s"}, `"plain"`, "plain", 0},
		{"escaped string", []string{"e"}, `"caf\u00e9"`, "café", 0},
		{"number", []string{"n"}, `-1.5e2`, "", -150},
		{"array", []string{"l"}, `[1,{"k":"v"}]`, "", 0},
		{"null", []string{"z"}, `null`, "", 0},
		{"escaped key", []string{"key"}, `true`, "", 0},
		{"missing", []string{"nope"}, ``, "", 0},
		{"inside a string", []string{"s", "x"}, ``, "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := Lookup([]byte(obj), tc.path...)
			if string(raw) != tc.raw {
				t.Fatalf("Lookup = %q, want %q", raw, tc.raw)
			}
			if got := String(raw); got != tc.str {
				t.Errorf("String = %q, want %q", got, tc.str)
			}
			if got := View(raw); got != tc.str {
				t.Errorf("View = %q, want %q", got, tc.str)
			}
			if n, ok := Number(raw); n != tc.number || ok != (tc.number != 0) {
				t.Errorf("Number = %v %v, want %v", n, ok, tc.number)
			}
		})
	}
}

func TestEachElement(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, arr, want string }{
		{"values", `[ 1 , "a,b" , {"c":[2,3]} , [] ]`, `1|"a,b"|{"c":[2,3]}|[]`},
		{"empty", `[]`, ``},
		{"not an array", `{"a":1}`, ``},
		{"nothing", ``, ``},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			EachElement([]byte(tc.arr), func(e []byte) { got = append(got, string(e)) })
			if strings.Join(got, "|") != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestViewSharesPlainStrings: a string without escapes is read in place;
// one with escapes, or invalid UTF-8, is decoded into a copy.
func TestViewSharesPlainStrings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, raw, want string
		shared          bool
	}{
		{"plain", `"hello"`, "hello", true},
		{"escaped", `"a\nb"`, "a\nb", false},
		{"invalid UTF-8", "\"a\xffb\"", "a\uFFFDb", false},
		{"empty", `""`, "", false},
		{"not a string", `12`, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := []byte(tc.raw)
			got := View(raw)
			if got != tc.want {
				t.Fatalf("View = %q, want %q", got, tc.want)
			}
			if shared := got != "" && &raw[1] == unsafe.StringData(got); shared != tc.shared {
				t.Fatalf("shared %v, want %v", shared, tc.shared)
			}
		})
	}
}
