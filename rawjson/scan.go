package rawjson

import "encoding/binary"

// MaxNesting is encoding/json's limit on nested arrays and objects.
const MaxNesting = 10000

// Valid reports whether b is one JSON value with nothing but whitespace
// around it. It accepts exactly what encoding/json's Valid accepts (a fuzz
// test holds them together) at a fraction of its cost: hook bodies are
// checked on every request.
func Valid(b []byte) bool {
	s := NewScanner(b)
	s.SkipSpace()
	if !s.Value(0) {
		return false
	}
	s.SkipSpace()
	return s.AtEnd()
}

// Scanner checks JSON one value at a time. A reader calls Object to look
// inside an object it needs and Value for whatever it does not; each
// checks what it reads and moves past it, and reports false at the first
// thing encoding/json would refuse, leaving the position undefined.
type Scanner struct {
	b []byte
	i int
}

// NewScanner returns a scanner at the start of b.
func NewScanner(b []byte) Scanner { return Scanner{b: b} }

// Pos returns the scanner's offset in its input.
func (s *Scanner) Pos() int { return s.i }

// AtEnd reports whether the scanner read all of its input.
func (s *Scanner) AtEnd() bool { return s.i >= len(s.b) }

// Peek returns the byte at the scanner's position, or 0 at the end (0 is
// never valid outside a string, so a test against a JSON character fails).
func (s *Scanner) Peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// SkipSpace moves past whitespace.
func (s *Scanner) SkipSpace() { s.i = skipSpace(s.b, s.i) }

// Value checks the value at the scanner's position, which depth arrays and
// objects enclose, and moves past it.
func (s *Scanner) Value(depth int) bool {
	switch c := s.Peek(); {
	case c == '"':
		return s.string()
	case c == '{':
		return s.Object(depth, s.member)
	case c == '[':
		return s.array(depth + 1)
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return false
}

// member checks a member's value whole: Value's way through an object.
func (s *Scanner) member(_ []byte, depth int) bool { return s.Value(depth) }

// Object checks the object at the scanner's position, which depth arrays
// and objects enclose, and moves past it. For each member it calls member
// with the key as written (quotes included, escapes not decoded: see Key)
// and the depth that encloses the value, with the scanner at the value:
// member checks it and moves past it (Value, or Object to look inside) and
// reports whether it is valid. Of repeated keys, member sees each in turn.
func (s *Scanner) Object(depth int, member func(key []byte, depth int) bool) bool {
	depth++
	if depth > MaxNesting || s.Peek() != '{' {
		return false
	}
	s.i++
	s.SkipSpace()
	if s.Peek() == '}' {
		s.i++
		return true
	}
	for {
		k0 := s.i
		if s.Peek() != '"' || !s.string() {
			return false
		}
		key := s.b[k0:s.i]
		s.SkipSpace()
		if s.Peek() != ':' {
			return false
		}
		s.i++
		s.SkipSpace()
		if !member(key, depth) {
			return false
		}
		s.SkipSpace()
		switch s.Peek() {
		case ',':
			s.i++
			s.SkipSpace()
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

func (s *Scanner) array(depth int) bool {
	if depth > MaxNesting {
		return false
	}
	s.i++ // [
	s.SkipSpace()
	if s.Peek() == ']' {
		s.i++
		return true
	}
	for {
		if !s.Value(depth) {
			return false
		}
		s.SkipSpace()
		switch s.Peek() {
		case ',':
			s.i++
			s.SkipSpace()
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

func (s *Scanner) string() bool {
	end, ok := scanString(s.b, s.i, true)
	s.i = end
	return ok
}

func (s *Scanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

func (s *Scanner) number() bool {
	b, i := s.b, s.i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		start := i + 1
		if i = digits(b, start); i == start {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		if i = digits(b, start); i == start {
			return false
		}
	}
	s.i = i
	return true
}

// digits returns the offset past the decimal digits at b[i].
func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// scanString returns the offset just past the string whose quote is b[i].
// With check, it also reports whether the string is valid JSON: no raw
// control characters, and escapes that exist (like encoding/json, it does
// not require valid UTF-8); an invalid string ends at the offending byte.
// Without check, for input known to be valid, it only looks for the closing
// quote, which spares a fifth of the work. An unterminated string ends at
// len(b).
//
// Most of a body is plain text: the scan goes eight bytes at a time while
// none of them ends the string, starts an escape or (with check) is a
// control character.
func scanString(b []byte, i int, check bool) (int, bool) {
	for i++; i < len(b); {
		for i+8 <= len(b) && !stringSpecial(binary.LittleEndian.Uint64(b[i:]), check) {
			i += 8
		}
		if i >= len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			n := 2
			if check {
				if n = escapeLen(b[i:]); n == 0 {
					return i, false
				}
			}
			i += n
		case c < 0x20 && check:
			return i, false
		default:
			i++
		}
	}
	return len(b), false
}

// stringSpecial reports whether one of the eight bytes of x is '"' or '\\',
// or with control below 0x20. It may report true for a byte after one that
// is (a borrow runs on), never false for one that is.
func stringSpecial(x uint64, control bool) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ (ones * '"')
	slash := x ^ (ones * '\\')
	special := (quote-ones)&^quote | (slash-ones)&^slash
	if control {
		special |= (x - ones*0x20) &^ x
	}
	return special&highs != 0
}

// escapeLen returns the length of the escape at the start of b (a
// backslash), or 0 when it is not one JSON has.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if len(b) < 6 {
			return 0
		}
		for _, h := range b[2:6] {
			if !isHex(h) {
				return 0
			}
		}
		return 6
	}
	return 0
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
