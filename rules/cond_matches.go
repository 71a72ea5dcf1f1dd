package rules

import (
	"errors"
	"regexp/syntax"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// MaxRegexLength bounds the bytes of one `matches` pattern.
const MaxRegexLength = 1000

// matchesCond is `matches`: an RE2 pattern over the original text or a
// field's values.
type matchesCond struct {
	f field
	p *pattern
}

// Match runs the pattern, unless in puts costly tests off. A match cut
// short by the deadline is Unknown.
func (c *matchesCond) Match(in *Input, found []Match) ([]Match, Truth) {
	if in.SkipCostly {
		return found, Unknown
	}
	v := c.f.get(in)
	if c.f.text {
		start, end, t := in.find(c.p, v.s)
		if t == True {
			found = append(found, Match{Start: start, End: end, Term: c.p.re.String()})
		}
		return found, t
	}
	result := False
	v.each(func(s string) bool {
		switch _, _, t := in.find(c.p, s); t {
		case True:
			found = append(found, Match{Start: -1, End: -1, Term: c.p.re.String(), Value: s})
			result = True
			return true
		case Unknown:
			result = Unknown
		}
		return false
	})
	return found, result
}

func (p *parser) matchesOp(f field, v *yaml.Node, path string) Condition {
	s, ok := p.str(v, path)
	if !ok {
		return nil
	}
	if len(s) > MaxRegexLength {
		p.errorf(v, "%s: the pattern is longer than %d bytes", path, MaxRegexLength)
		return nil
	}
	pat, warning, err := compilePattern(s)
	if err != nil {
		p.errorf(v, "%s: %q is not a valid RE2 regular expression: %v", path, s, unwrapRegexp(err))
		return nil
	}
	if warning != "" {
		p.warnf(v, "%s: %s", path, warning)
	}
	return &matchesCond{f: f, p: pat}
}

func unwrapRegexp(err error) string {
	var e *syntax.Error
	if errors.As(err, &e) {
		return e.Code.String() + " " + strconv.Quote(e.Expr)
	}
	return err.Error()
}
