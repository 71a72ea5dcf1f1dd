package rules

import "go.yaml.in/yaml/v3"

// existsCond is `exists`: whether the field has a value (not absent, not
// null), or, with `exists: false`, has none.
type existsCond struct {
	f    field
	want bool
}

func (c *existsCond) Match(in *Input, found []Match) ([]Match, Truth) {
	return found, truth((c.f.get(in).kind != kindMissing) == c.want)
}

func (p *parser) existsOp(f field, v *yaml.Node, path string) Condition {
	b, ok := p.boolean(v, path)
	if !ok {
		return nil
	}
	return &existsCond{f: f, want: b}
}
