package rules

import (
	"strings"
	"unicode/utf8"
)

// leetSequences are the leetspeak letters written with several symbols,
// longest first so that "|\/|" is m before "\/" is v.
var leetSequences = []struct {
	seq    string
	letter byte
	trim   bool // punctuation at the edge of a word ("f()")
}{
	{`|\/|`, 'm', false}, {`\/\/`, 'w', false},
	{`|_|`, 'u', false}, {`(_)`, 'u', false}, {`|\|`, 'n', false}, {`/\/`, 'n', false}, {`/-\`, 'a', false},
	{`|-|`, 'h', false},
	{`|<`, 'k', false}, {`|3`, 'b', false}, {`|)`, 'd', true}, {`|2`, 'r', false}, {`><`, 'x', false},
	{`()`, 'o', true}, {`\/`, 'v', false}, {`/\`, 'a', false},
}

// leetStart marks the bytes that may start a sequence, or a bracket that
// may be leetspeak.
var leetStart = [utf8.RuneSelf]bool{'|': true, '(': true, '/': true, '\\': true, '>': true, '<': true}

// grawlix marks the leetspeak symbols that may also hide a letter ("f!ck").
var grawlix = [utf8.RuneSelf]bool{'!': true, '@': true, '$': true}

// leetSequence returns the fold of the sequence s starts with and its
// length; 0 when s starts with none.
func leetSequence(s string) (fold, int) {
	for _, q := range leetSequences {
		if strings.HasPrefix(s, q.seq) {
			return fold{cls: clsSym, leet: q.letter, trim: q.trim, steps: StepLeetspeak}, len(q.seq)
		}
	}
	return fold{}, 0
}
