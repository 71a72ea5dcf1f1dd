package rules

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
)

// pattern is a compiled `matches`, with what it costs.
type pattern struct {
	re    *regexp.Regexp
	insts int // instructions of its program: the most work it does a character
}

// work is the most a match over n bytes can cost, in budget steps.
func (p *pattern) work(n int) int { return n * p.insts * regexStepsPerInst }

// CostlyPatternSteps is the program size above which `check` warns about a
// pattern whose counted repetitions make it so. Go's regexp runs a pattern
// in time linear in the text, but the factor is the size of its program:
// matching costs up to 6-7 ns per character and instruction. At 150
// instructions that is about 5 ms on a 5,000-character message (Stream's
// default longest), a sixtieth of the default deadline; [a-z]{1000}[0-9]
// compiles to 1,003 and costs 35 ms.
const CostlyPatternSteps = 150

// warnLength is the text length the warnings price a pattern at.
const warnLength = 5000

// compilePattern compiles a `matches` pattern and reports, as a warning,
// when counted repetitions make its program long.
func compilePattern(s string) (*pattern, string, error) {
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, "", err
	}
	parsed, err := syntax.Parse(s, syntax.Perl)
	if err != nil {
		return nil, "", err
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return nil, "", err
	}
	p := &pattern{re: re, insts: len(prog.Inst)}
	if p.insts <= CostlyPatternSteps || prog.StartCond()&syntax.EmptyBeginText != 0 {
		// Small, or anchored at the start of the text: the match cannot
		// start again at every character.
		return p, "", nil
	}
	rep := largestRepeat(parsed)
	if rep == "" {
		return p, "", nil
	}
	ms := float64(p.work(warnLength)) / 1e6
	return p, fmt.Sprintf("the repetition %s makes this pattern %d steps long: it may cost that many steps a character, "+
		"about %.0f ms on a %d-character message (more than %d is slow); it runs after the cheap rules and stops at "+
		"the deadline, where on_error decides. Use a smaller count, or anchor it with ^",
		rep, p.insts, ms, warnLength, CostlyPatternSteps), nil
}

// largestRepeat returns the counted repetition of re that multiplies its
// program most, as written ({1000}, {2,300}), or "" when it has none.
func largestRepeat(re *syntax.Regexp) string {
	best, bestN := "", 0
	var walk func(re *syntax.Regexp)
	walk = func(re *syntax.Regexp) {
		if re.Op == syntax.OpRepeat {
			n := re.Max
			if n < 0 {
				n = re.Min
			}
			if n > bestN {
				bestN = n
				best = "{" + strconv.Itoa(re.Min)
				switch {
				case re.Max < 0:
					best += ",}"
				case re.Max != re.Min:
					best += "," + strconv.Itoa(re.Max) + "}"
				default:
					best += "}"
				}
			}
		}
		for _, sub := range re.Sub {
			walk(sub)
		}
	}
	walk(re)
	return best
}
