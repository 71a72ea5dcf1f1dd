// Package rules owns modgate's rule language: the rules.yaml schema, loading
// it with file:line:column errors, compiling it into an immutable Set, and the
// text folding and matchers the conditions use. It knows nothing of HTTP,
// Redis or the engine that applies a Set: of modgate's packages it imports
// only rawjson, to read the fields of a message.
//
// # Evaluation order and precedence
//
// Rules run from top to bottom. A rule is skipped when it is outside its
// `active` window or when its exemption holds (the rule's own `exempt`, or
// else the settings' one; `exempt: none` applies the rule to everyone). A
// rule whose `when` holds (a rule without `when` matches every message)
// fires. A rule with a `limit` acts only once the sender went past it.
//
// The first firing rule whose action is allow, hold or reject ends the
// check. mask, rewrite and flag accumulate: masks star the matched
// characters of the original text, then rewrites apply in rule order, then
// flags add the settings' flag_field listing the flagging rules. allow ends
// the check but keeps what earlier rules changed. A rule in `mode: observe`
// fires (it is logged and counted as "would <action>") but has no effect and
// does not end the check.
//
// Conditions are evaluated in two passes with the same result: first the
// cheap tests of every rule (word lists, fields, links, networks), top to
// bottom, up to the first rule that surely ends the check; then the
// costly ones (regular expressions) of the rules above it still undecided
// (Input.SkipCostly, Truth). A costly rule above a cheap one thus never keeps
// the cheap one from being evaluated. In `any` and `all` the cheap
// conditions come first.
//
// When a rule cannot be evaluated (the deadline passed, or the state it
// needs is unreachable), its `on_error` applies: allow (the default, like
// Stream itself) passes over it, hold or reject decide in its place. The
// deadline is watched as work is done (Budget), inside a long regular
// expression too.
//
// Over a list of values (links, mentions, an array field) `in` holds when
// an element is in the set and `not_in` when an element is not; an empty or
// missing list holds neither unless the test says `or_empty: true`.
//
// A mask stars the matched letters and changes nothing else: invisible and
// format characters stay where they are.
//
// # Text folding
//
// `contains` matches terms against the folded words of a text: Unicode
// compatibility forms (NFKC: fullwidth, mathematical, enclosed letters),
// case, diacritics and combining marks, look-alike letters of other scripts
// and styled letters without a compatibility form (generated from Unicode's
// confusables data and the character names: Cyrillic, Greek, Armenian,
// Cherokee, Coptic, small capitals, negative squared and circled letters,
// modifier letters, regional indicators, letters with hooks and strokes),
// invisible and format characters, leetspeak digits and symbols inside
// words, sequences such as |_| and |<, letters split by separators of any
// kind, and stretched letters. A word split into single characters is
// matched as a whole, never searched for terms inside. camelCase and
// PascalCase words are also read as the words a reader sees in them, and
// hashtags and handles are split with an English dictionary, so that
// "#therapistlife" stays innocent. Bidirectional overrides are applied, and
// the reversed words matched and masked where the reader sees them. Letters
// hidden by * # % ! ("f*ck") match the one listed term that fits, unless
// settings.allow_censored lets them through. Whole words match; a `*` at the
// start or end of a term matches word endings or beginnings. See Text and
// Matcher for the details.
//
// # Regular expressions
//
// `matches` uses Go's RE2 syntax (package regexp): no backreferences or
// lookaround, and matching time linear in the input, so no pattern can stall
// the hook. Patterns are limited to MaxRegexLength bytes. They run on the
// original text, not the folded one; add (?i) for case-insensitive matching.
// The factor of that linear time is the size of the pattern's program:
// a pattern whose counted repetitions make it longer than
// CostlyPatternSteps is accepted with a warning (Set.Warnings).
//
// # The file
//
// A rules file is YAML. Booleans are true and false; yes, no, on and off
// are booleans only where nothing else makes sense, and refused unquoted
// where a text could be meant. Aliases may repeat at most MaxAliasExpansion
// of the file. List files are regular files inside the rules file's folder,
// and errors about them point at their own lines without quoting them.
package rules
