package rules

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// compareCond is `over` and `under`: numbers, durations, sizes, and the
// length of lists.
type compareCond struct {
	f     field
	limit float64
	over  bool
}

func (c *compareCond) Match(in *Input, found []Match) ([]Match, Truth) {
	v := c.f.get(in)
	var n float64
	switch v.kind {
	case kindNumber, kindDuration:
		n = v.n
	case kindList:
		n = float64(v.count())
	case kindString:
		f, err := strconv.ParseFloat(v.s, 64)
		if err != nil {
			return found, False
		}
		n = f
	default:
		return found, False
	}
	if c.over {
		return found, truth(n > c.limit)
	}
	return found, truth(n < c.limit)
}

// compareOp reads over and under: a number, a percentage ("70%"), a
// duration ("24h", "7d") or a size ("64KiB").
func (p *parser) compareOp(f field, v *yaml.Node, path string, over bool) Condition {
	s, ok := p.str(v, path)
	if !ok {
		return nil
	}
	want := "number"
	switch f.path {
	case "user.account_age":
		want = "duration"
	case "text.caps_ratio":
		want = "ratio"
	case "text", "hook":
		p.errorf(v, "%s: %s is text; compare text.length instead", path, f.path)
		return nil
	}
	n, err := parseQuantity(s, want)
	if err != nil {
		p.errorf(v, "%s: %v", path, err)
		return nil
	}
	return &compareCond{f: f, limit: n, over: over}
}

func parseQuantity(s, want string) (float64, error) {
	s = strings.TrimSpace(s)
	switch want {
	case "duration":
		d, err := ParseDuration(s)
		if err != nil {
			return 0, err
		}
		return d.Seconds(), nil
	case "ratio":
		if pct, ok := strings.CutSuffix(s, "%"); ok {
			n, err := strconv.ParseFloat(pct, 64)
			if err != nil || n < 0 || n > 100 {
				return 0, fmt.Errorf("%q is not a percentage from 0%% to 100%%", s)
			}
			return n / 100, nil
		}
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || n < 0 || n > 1 {
			return 0, fmt.Errorf("%q is not a ratio from 0 to 1 or a percentage such as 70%%", s)
		}
		return n, nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return n, nil
	}
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			if n, err := strconv.ParseFloat(strings.TrimSpace(num), 64); err == nil {
				return n * u.mult, nil
			}
		}
	}
	if d, err := ParseDuration(s); err == nil {
		return d.Seconds(), nil
	}
	return 0, fmt.Errorf("%q is not a number, size (64KiB) or duration (24h)", s)
}
