package rules

import (
	"regexp"
	"regexp/syntax"
)

// pattern is a compiled `matches`, with what it costs.
type pattern struct {
	re    *regexp.Regexp
	insts int // instructions of its program: the most work it does a character
}

// work is the most a match over n bytes can cost, in budget steps.
func (p *pattern) work(n int) int { return n * p.insts * regexStepsPerInst }

// compilePattern compiles a `matches` pattern and measures its program.
func compilePattern(s string) (*pattern, error) {
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, err
	}
	parsed, err := syntax.Parse(s, syntax.Perl)
	if err != nil {
		return nil, err
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return nil, err
	}
	return &pattern{re: re, insts: len(prog.Inst)}, nil
}
