package rules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
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
		if !contains(TemplateKeys, key) {
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
	Match      string
	RuleID     string
	UserName   string
	Limit      *Limit
	RetryAfter time.Duration
}

// Render writes the reply.
func (t *Template) Render(d ReplyData) string {
	if len(t.parts) == 1 && t.parts[0].key == "" {
		return t.parts[0].text
	}
	var b strings.Builder
	for _, p := range t.parts {
		switch p.key {
		case "":
			b.WriteString(p.text)
		case "match":
			b.WriteString(d.Match)
		case "rule.id":
			b.WriteString(d.RuleID)
		case "user.name":
			b.WriteString(d.UserName)
		case "limit.count":
			if d.Limit != nil {
				b.WriteString(strconv.Itoa(d.Limit.Count))
			}
		case "limit.per":
			if d.Limit != nil {
				b.WriteString(HumanDuration(d.Limit.Per))
			}
		case "retry_after":
			b.WriteString(HumanDuration(d.RetryAfter.Round(time.Second)))
		}
	}
	return b.String()
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
