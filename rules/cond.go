package rules

// Condition is a compiled `when` (or `exempt`). Match reports whether it
// holds for in and appends to found what it matched (the words of the text,
// or the values of other fields), which masking, replies and explanations
// use. Match answers Unknown only when in puts off costly tests
// (Input.SkipCostly) or runs out of time (Input.Budget); without either it
// answers True or False.
type Condition interface {
	Match(in *Input, found []Match) ([]Match, Truth)
}

// Truth is what a condition makes of a message. Combinators follow
// three-valued logic: `all` is False when any part is False, `any` is True
// when any part is True, `not` turns True and False round; otherwise an
// Unknown part leaves the whole Unknown.
type Truth uint8

// The truths.
const (
	False   Truth = iota
	True          // the condition holds
	Unknown       // a costly test was put off or ran out of time
)

func truth(b bool) Truth {
	if b {
		return True
	}
	return False
}

var truthText = [...]string{False: "false", True: "true", Unknown: "unknown"}

func (t Truth) String() string { return truthText[t] }
