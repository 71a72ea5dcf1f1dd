package rules

import (
	"net/netip"
	"strings"

	"go.yaml.in/yaml/v3"
)

// cidrCond is `in_cidr`: an address (or an element of a list of them) in
// one of the networks.
type cidrCond struct {
	f        field
	prefixes []netip.Prefix
}

func (c *cidrCond) Match(in *Input, found []Match) ([]Match, Truth) {
	v := c.f.get(in)
	var value string
	var network netip.Prefix
	hit := v.each(func(s string) bool {
		addr, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return false
		}
		addr = addr.Unmap()
		for _, p := range c.prefixes {
			if p.Contains(addr) {
				value, network = s, p
				return true
			}
		}
		return false
	})
	if !hit {
		return found, False
	}
	return append(found, Match{Start: -1, End: -1, Term: network.String(), Value: value}), True
}

// cidrOp reads in_cidr: networks, or lists of them. Conditions naming the
// same networks share them.
func (p *parser) cidrOp(f field, v *yaml.Node, path string) Condition {
	items := p.strs(v, path)
	key := strings.Join(items, "\x00")
	prefixes, shared := p.networks[key]
	if shared {
		p.eachValue(v, path, items, nil)
	} else {
		const notNetwork = "not an IP network such as 203.0.113.0/24 or 2001:db8::/32"
		p.eachValue(v, path, items, func(s string, list *List, i int) {
			prefix, ok := parsePrefix(s)
			if !ok {
				if list == nil || !p.fileTermError(list, i, notNetwork) {
					p.errorf(v, "%s: %q is %s", path, s, notNetwork)
				}
				return
			}
			prefixes = append(prefixes, prefix)
		})
		p.networks[key] = prefixes
	}
	if len(prefixes) == 0 {
		return nil
	}
	return &cidrCond{f: f, prefixes: prefixes}
}

// parsePrefix reads a network, or one address as a network of one.
func parsePrefix(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	prefix, err := netip.ParsePrefix(s)
	if err != nil {
		addr, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return netip.Prefix{}, false
		}
		prefix = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen())
	}
	return prefix.Masked(), true
}
