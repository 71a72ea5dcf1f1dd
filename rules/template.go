package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Template is a reply with placeholders, compiled when the file is loaded:
// {{match}}, {{rule.id}}, {{user.name}}, {{limit.count}}, {{limit.per}},
// {{retry_after}}.
type Template struct {
	src   string
	parts []templatePart
}

type templatePart struct {
	text string // literal text, when key is ""
	key  string
}

// TemplateKeys are the placeholders a reply may use.
var TemplateKeys = []string{"match", "rule.id", "user.name", "limit.count", "limit.per", "retry_after"}

var placeholder = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

func parseTemplate(src string) (*Template, error) {
	t := &Template{src: src}
	last := 0
	for _, loc := range placeholder.FindAllStringSubmatchIndex(src, -1) {
		key := src[loc[2]:loc[3]]
		if !slices.Contains(TemplateKeys, key) {
			return nil, fmt.Errorf("unknown placeholder {{%s}} (known: %s)", key, strings.Join(TemplateKeys, ", "))
		}
		if loc[0] > last {
			t.parts = append(t.parts, templatePart{text: src[last:loc[0]]})
		}
		t.parts = append(t.parts, templatePart{key: key})
		last = loc[1]
	}
	if last < len(src) {
		t.parts = append(t.parts, templatePart{text: src[last:]})
	}
	return t, nil
}

func literal(s string) *Template {
	return &Template{src: s, parts: []templatePart{{text: s}}}
}

// Uses reports whether the template has the placeholder key.
func (t *Template) Uses(key string) bool {
	for _, p := range t.parts {
		if p.key == key {
			return true
		}
	}
	return false
}

// String is the template as written.
func (t *Template) String() string { return t.src }

// ReplyData fills a template's placeholders.
type ReplyData struct {
	Match      string // what met the rule: the words of the text, or a field's value (a link's domain, a role)
	RuleID     string
	UserName   string
	Limit      *Limit
	RetryAfter time.Duration
	RetryKnown bool // RetryAfter was counted; false when state was unreachable or the rule has no limit
}

// RetryUnknown is what {{retry_after}} says when the limit could not be
// counted (shared state unreachable, or no time left).
const RetryUnknown = "a little while"

// Render writes the reply. A placeholder with nothing to say ({{user.name}}
// of a sender without a name, {{match}} of a rule without one) drops out
// with the space before it, or at the start with the punctuation after it:
// "Sorry {{user.name}}, no" is "Sorry, no", never "Sorry , no".
func (t *Template) Render(d ReplyData) string {
	if len(t.parts) == 1 && t.parts[0].key == "" {
		return t.parts[0].text
	}
	var b []byte
	dropped := false // the last placeholder said nothing
	for i, p := range t.parts {
		if p.key == "" {
			text := p.text
			if dropped && len(strings.TrimSpace(string(b))) == 0 {
				text = strings.TrimLeft(text, " \t,;:.!?-–—")
			}
			b = append(b, text...)
			dropped = false
			continue
		}
		value := d.value(p.key)
		if value == "" {
			dropped = true
			if i+1 == len(t.parts) || !isWordStart(t.parts[i+1].text) {
				b = []byte(strings.TrimRight(string(b), " \t"))
			}
			continue
		}
		b = append(b, value...)
		dropped = false
	}
	return string(b)
}

// value is what one placeholder says.
func (d ReplyData) value(key string) string {
	switch key {
	case "match":
		return d.Match
	case "rule.id":
		return d.RuleID
	case "user.name":
		return d.UserName
	case "limit.count":
		if d.Limit != nil {
			return strconv.Itoa(d.Limit.Count)
		}
	case "limit.per":
		if d.Limit != nil {
			return HumanDuration(d.Limit.Per)
		}
	case "retry_after":
		if !d.RetryKnown {
			return RetryUnknown
		}
		return HumanDuration(d.RetryAfter.Round(time.Second))
	}
	return ""
}

// isWordStart reports whether s starts with a letter or digit: an empty
// placeholder glued to a word keeps the space before it.
func isWordStart(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// HumanDuration writes a duration for people: "10 seconds", "1 minute",
// "1 hour 30 minutes", "2 days".
func HumanDuration(d time.Duration) string {
	if d < time.Second {
		d = time.Second
	}
	units := []struct {
		name string
		size time.Duration
	}{{"day", 24 * time.Hour}, {"hour", time.Hour}, {"minute", time.Minute}, {"second", time.Second}}
	var parts []string
	for _, u := range units {
		if n := d / u.size; n > 0 {
			name := u.name
			if n > 1 {
				name += "s"
			}
			parts = append(parts, strconv.Itoa(int(n))+" "+name)
			d -= n * u.size
		}
		if len(parts) == 2 {
			break
		}
	}
	return strings.Join(parts, " ")
}

// ParseDuration reads a duration as moderators write it: Go's forms ("90s",
// "1h30m") and days and weeks ("7d", "2w").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for _, u := range []struct {
		suffix string
		size   time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseFloat(num, 64)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("%q is not a duration such as 10s, 5m, 24h or 7d", s)
			}
			return time.Duration(n * float64(u.size)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration such as 10s, 5m, 24h or 7d", s)
	}
	return d, nil
}
