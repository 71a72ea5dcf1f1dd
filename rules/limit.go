package rules

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Limit is a rule's rate limit: at most Count messages that meet the rule's
// condition Per window, counted separately for each key By.
type Limit struct {
	Count  int
	Per    time.Duration
	By     []string // user, channel, ip, device, text
	Device string   // the request_info.ext key that names a device
}

// Limit keys a `by` may name.
var limitKeys = []string{"user", "channel", "ip", "device", "text"}

// limit reads a rule's limit; deviceKey is the ext key that names a device.
func (p *parser) limit(n *yaml.Node, deviceKey string) *Limit {
	m := p.mapping(n, "limit", "count", "per", "by")
	if m == nil {
		return nil
	}
	l := &Limit{Device: deviceKey}
	if v, ok := m["count"]; !ok {
		p.errorf(n, "limit.count: missing")
	} else if s, ok := p.str(v, "limit.count"); ok {
		c, err := strconv.Atoi(s)
		if err != nil || c < 1 || c > 1_000_000 {
			p.errorf(v, "limit.count: %q is not a whole number from 1 to 1000000", s)
		}
		l.Count = c
	}
	if v, ok := m["per"]; !ok {
		p.errorf(n, "limit.per: missing")
	} else if s, ok := p.str(v, "limit.per"); ok {
		d, err := ParseDuration(s)
		switch {
		case err != nil:
			p.errorf(v, "limit.per: %v", err)
		case d < time.Second || d > 30*24*time.Hour:
			p.errorf(v, "limit.per: %q must be from 1s to 30d", s)
		}
		l.Per = d
	}
	l.By = []string{"user"}
	if v, ok := m["by"]; ok {
		l.By = p.limitBy(v)
	}
	return l
}

// limitBy reads what a limit counts by: one or more of limitKeys.
func (p *parser) limitBy(v *yaml.Node) []string {
	by := p.strs(v, "limit.by")
	seen := map[string]bool{}
	for _, b := range by {
		if !slices.Contains(limitKeys, b) {
			p.errorf(v, "limit.by: %q is not one of %s", b, strings.Join(limitKeys, ", "))
		}
		if seen[b] {
			p.errorf(v, "limit.by: %q is named twice", b)
		}
		seen[b] = true
	}
	if len(by) == 0 {
		p.errorf(v, "limit.by: name at least one of %s", strings.Join(limitKeys, ", "))
	}
	return by
}
