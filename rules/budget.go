package rules

import (
	"io"
	"time"
	"unicode/utf8"
)

// Budget is the time one evaluation may take. Work is counted in steps of
// about a nanosecond (see the costs below, measured on the machine the
// defaults were chosen on), and the clock is read once about a millisecond
// of work was done since it was last read: often inside a costly regular
// expression, seldom for word lists over a short text, never without a
// deadline. The zero Budget has no deadline.
type Budget struct {
	Deadline time.Time        // zero: none
	Clock    func() time.Time // nil: time.Now

	work   int
	passed bool
}

// Costs of work, in budget steps.
const (
	// clockEvery is the work between two readings of the clock: about a
	// millisecond, against a default deadline of 300 ms.
	clockEvery = 1 << 20
	// textStepsPerByte is the cost of one test that reads the text (a word
	// list, the links), for each byte of text: matching a word list takes
	// 6 to 14 ns a byte.
	textStepsPerByte = 16
	// fieldStepsPerByte is the cost of analysing another field than the
	// text, for each byte, before its words are matched: 40 to 120 ns.
	fieldStepsPerByte = 64
	// regexStepsPerInst is the worst cost of a regular expression for each
	// byte of text and instruction of its program: 6 to 7 ns when every
	// thread of the matching machine stays alive ([a-z]{1000}[0-9] over
	// letters). Most patterns cost far less; the estimate is an upper bound.
	regexStepsPerInst = 7
	// oneGo is the most work a regular expression does in one call, without
	// looking at the clock: about 4 ms. Longer matches read the text through
	// a reader that looks at the clock every clockEvery steps.
	oneGo = 4 << 20
)

// Spend counts work and reports whether there is time left: false once the
// deadline passed.
func (b *Budget) Spend(work int) bool {
	if b.passed {
		return false
	}
	if b.Deadline.IsZero() {
		return true
	}
	if b.work += work; b.work < clockEvery {
		return true
	}
	return b.Check()
}

// Check reads the clock and reports whether there is time left.
func (b *Budget) Check() bool {
	if b.passed {
		return false
	}
	if b.Deadline.IsZero() {
		return true
	}
	b.work = 0
	now := time.Now
	if b.Clock != nil {
		now = b.Clock
	}
	if now().After(b.Deadline) {
		b.passed = true
	}
	return !b.passed
}

// Passed reports whether the deadline was seen to pass.
func (b *Budget) Passed() bool { return b.passed }

// find runs p over s within in's budget: the bytes of the leftmost match
// and True, False, or Unknown when the deadline passed before it finished.
// A match that fits in oneGo runs on the string itself, with every fast
// path of package regexp; a longer one reads s through a reader that stops
// at the deadline. Cut short, its answer is thrown away: the end of what was
// read is not the end of the text.
func (in *Input) find(p *pattern, s string) (start, end int, t Truth) {
	if in.Budget.passed {
		return -1, -1, Unknown
	}
	work := p.work(len(s))
	if in.Budget.Deadline.IsZero() || work <= oneGo {
		loc := p.re.FindStringIndex(s)
		in.Budget.Spend(work) // finished: the answer stands even if time ran out meanwhile
		if loc == nil {
			return -1, -1, False
		}
		return loc[0], loc[1], True
	}
	in.reader = textReader{s: s, budget: &in.Budget, every: max(1, clockEvery/(p.insts*regexStepsPerInst))}
	in.reader.left = in.reader.every
	loc := p.re.FindReaderIndex(&in.reader)
	cut := in.reader.cut
	in.reader = textReader{}
	switch {
	case cut:
		return -1, -1, Unknown
	case loc == nil:
		return -1, -1, False
	}
	return loc[0], loc[1], True
}

// textReader hands a text to a regular expression rune by rune, and ends it
// early once the budget's deadline passed, every so many runes.
type textReader struct {
	s      string
	i      int
	budget *Budget
	every  int // runes between two looks at the clock
	left   int // runes until the next look
	cut    bool
}

func (r *textReader) ReadRune() (rune, int, error) {
	if r.i >= len(r.s) {
		return 0, 0, io.EOF
	}
	if r.left--; r.left <= 0 {
		r.left = r.every
		if !r.budget.Check() {
			r.cut = true
			return 0, 0, io.EOF
		}
	}
	c := rune(r.s[r.i])
	size := 1
	if c >= utf8.RuneSelf {
		c, size = utf8.DecodeRuneInString(r.s[r.i:])
	}
	r.i += size
	return c, size, nil
}
