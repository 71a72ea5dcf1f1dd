package rules

import "sort"

// What tests cost: for ordering the conditions of an `all` and an `any`
// (condCost), and for the budget of an evaluation (Rule.Work).

// Costs of reading a value, for ordering the conditions of an `all`.
const (
	costLookup  = iota // a member of the payload, or a value modgate has
	costScan           // one pass over the text
	costPattern        // a pattern over the text (links)
	costWords          // the text's words against word lists
	costRegex          // a moderator's regular expression
)

// condCost estimates what a condition costs to check. An `all` checks its
// cheapest conditions first: a message that fails a field comparison never
// has its text scanned for links. Conditions have no side effects, so the
// order changes nothing but the time taken.
func condCost(c Condition) int {
	switch c := c.(type) {
	case *containsCond:
		return max(costWords, int(c.f.cost))
	case *matchesCond:
		return max(costRegex, int(c.f.cost))
	case *setCond:
		return int(c.f.cost)
	case *compareCond:
		return int(c.f.cost)
	case *cidrCond:
		return int(c.f.cost)
	case *existsCond:
		return int(c.f.cost)
	case notCond:
		return condCost(c.c)
	case allOf:
		n := 0
		for _, sub := range c {
			n = max(n, condCost(sub))
		}
		return n
	case anyOf:
		n := 0
		for _, sub := range c {
			n = max(n, condCost(sub))
		}
		return n
	}
	return costRegex
}

// cheapestFirst orders the conditions of an `all` by cost, keeping the
// written order among equals.
func cheapestFirst(conds []Condition) allOf {
	sort.SliceStable(conds, func(i, j int) bool { return condCost(conds[i]) < condCost(conds[j]) })
	return allOf(conds)
}

// Work estimates, in Budget steps, what the rule's tests other than
// regular expressions cost over in: a few steps for fields of the payload,
// and for each test that reads the text, a few steps a byte of it. Regular
// expressions count their own work as they match.
func (r *Rule) Work(in *Input) int {
	return 64 + r.textTests*len(in.Text.Source())*textStepsPerByte
}

// scansText is 1 for a field read by scanning the text (links), else 0.
func scansText(f field) int {
	if f.cost >= costPattern {
		return 1
	}
	return 0
}

// textTests counts the tests of c, other than patterns, that read the text
// or another free-text field.
func textTests(c Condition) int {
	switch c := c.(type) {
	case *containsCond:
		return 1
	case *setCond:
		return scansText(c.f)
	case *compareCond:
		return scansText(c.f)
	case *cidrCond:
		return scansText(c.f)
	case *existsCond:
		return scansText(c.f)
	case notCond:
		return textTests(c.c)
	case allOf:
		n := 0
		for _, sub := range c {
			n += textTests(sub)
		}
		return n
	case anyOf:
		n := 0
		for _, sub := range c {
			n += textTests(sub)
		}
		return n
	}
	return 0
}
