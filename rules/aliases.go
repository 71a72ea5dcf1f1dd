package rules

import "go.yaml.in/yaml/v3"

// MaxAliasExpansion bounds what YAML aliases (*name) may add to a rules
// file, in bytes of the values they repeat and one for each node. Aliases
// are not copied when the file is read but every time a rule is compiled
// from them, so ten levels of ten aliases each, in under a kilobyte, would
// ask for billions of conditions; a file whose aliases repeat more than this
// is refused before anything is compiled. Reusing a small condition (an
// exemption, a list of roles) in every rule stays far below it.
const MaxAliasExpansion = 1 << 20

// checkAliases measures the document with its aliases expanded, without
// expanding them, and returns the first alias (in the order of the file)
// that takes the expansion past MaxAliasExpansion.
func checkAliases(doc *yaml.Node) (*yaml.Node, bool) {
	size := map[*yaml.Node]int{}
	added := 0
	var over *yaml.Node
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if over != nil {
			return
		}
		if n.Kind == yaml.AliasNode {
			if n.Alias != nil {
				added = saturatingAdd(added, expanded(n.Alias, size))
			}
			if added > MaxAliasExpansion {
				over = n
			}
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(doc)
	return over, over == nil
}

// expanded is the size of n with its aliases expanded, memoised by node:
// each node is measured once, however often it is repeated.
func expanded(n *yaml.Node, size map[*yaml.Node]int) int {
	if s, ok := size[n]; ok {
		return s
	}
	size[n] = MaxAliasExpansion + 1 // an alias of its own ancestor: YAML refuses it, so does this
	s := 1 + len(n.Value)
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		s = expanded(n.Alias, size)
	}
	for _, c := range n.Content {
		s = saturatingAdd(s, expanded(c, size))
	}
	size[n] = s
	return s
}

func saturatingAdd(a, b int) int {
	if a > MaxAliasExpansion || b > MaxAliasExpansion {
		return MaxAliasExpansion + 1
	}
	return a + b
}
