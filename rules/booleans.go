package rules

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// YAML has two readings of booleans: YAML 1.2 (and the YAML library modgate
// uses) reads only true and false as booleans, YAML 1.1 and many editors and
// people also yes, no, on, off, y and n. A rules file must mean the same to
// the moderator who wrote it and to modgate, so:
//
//   - where only a boolean makes sense (exists, or_empty, rewrite switches,
//     message.is_edit, message.is_reply), true, false, yes, no, on and off,
//     in any case, are booleans; anything else is an error;
//   - where a text is as likely (equals, in, not_in on a payload field), an
//     unquoted yes, no, on, off, y or n is refused: write true or false for
//     a boolean, or quote it for the text. true and false in any case
//     compare with JSON's true and false.

// boolWord reads the words that are booleans where only a boolean makes
// sense.
func boolWord(s string) (value, ok bool) {
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	return false, false
}

// ambiguousBool reports an unquoted scalar that YAML 1.1 reads as a boolean
// and YAML 1.2 as text.
func ambiguousBool(n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode || n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 || n.Tag != "!!str" {
		return false
	}
	switch strings.ToLower(n.Value) {
	case "yes", "no", "on", "off", "y", "n":
		return true
	}
	return false
}

// boolean reads a value that can only be a boolean.
func (p *parser) boolean(n *yaml.Node, path string) (value, ok bool) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!bool" || n.Tag == "!!str" && n.Style == 0) {
		if b, ok := boolWord(n.Value); ok {
			return b, true
		}
	}
	p.errorf(n, "%s: must be true or false", path)
	return false, false
}

// setItem reads one value an equals, in or not_in compares with, as the
// payload's JSON writes it: booleans as true and false.
func (p *parser) setItem(f field, n *yaml.Node, path string) (string, bool) {
	n = resolve(n)
	if f.boolean {
		b, ok := p.boolean(n, path)
		if !ok {
			return "", false
		}
		if b {
			return "true", true
		}
		return "false", true
	}
	if ambiguousBool(n) {
		p.errorf(n, "%s: %s is ambiguous: write true or false for a yes/no field, or \"%s\" in quotes for the text",
			path, n.Value, n.Value)
		return "", false
	}
	s, ok := p.str(n, path)
	if ok && n.Tag == "!!bool" {
		s = strings.ToLower(s)
	}
	return s, ok
}
