package rules

// The combinators follow three-valued logic (see Truth); a combinator keeps
// the matches of its parts only when it holds.

// allOf is `all`, and several tests written in one mapping. Its parts are
// ordered cheapest first (cheapestFirst): the first False spares the rest.
type allOf []Condition

func (c allOf) Match(in *Input, found []Match) ([]Match, Truth) {
	start := len(found)
	all := True
	for _, sub := range c {
		var t Truth
		switch found, t = sub.Match(in, found); t {
		case False:
			return found[:start], False
		case Unknown:
			all = Unknown // a later part may still be False
		}
	}
	if all == Unknown {
		return found[:start], Unknown
	}
	return found, True
}

// anyOf is `any`. Its parts are ordered cheapest first, like those of an
// `all`: a part that needs no costly test is tried before those that do, so
// a cheap part that holds decides in the first pass.
type anyOf []Condition

func (c anyOf) Match(in *Input, found []Match) ([]Match, Truth) {
	start := len(found)
	some := False
	for _, sub := range c {
		var t Truth
		switch found, t = sub.Match(in, found); t {
		case True:
			return found, True
		case Unknown:
			some = Unknown
		}
		found = found[:start]
	}
	return found, some
}

// notCond is `not`.
type notCond struct{ c Condition }

func (c notCond) Match(in *Input, found []Match) ([]Match, Truth) {
	start := len(found)
	found, t := c.c.Match(in, found)
	switch t {
	case True:
		t = False
	case False:
		t = True
	}
	return found[:start], t
}
