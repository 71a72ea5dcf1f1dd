package rules

import (
	"regexp"
	"strings"

	"github.com/modgate/modgate/rawjson"
)

// linkPattern finds URLs in text: with a scheme, starting with www., or a
// bare domain with a common top-level domain.
var linkPattern = regexp.MustCompile(`(?i)\b(?:https?://[^\s<>"']+|www\.[^\s<>"']+|[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|gg|co|me|ly|xyz|ru|cn|info|biz|app|dev|tv|link|click|top|site|online|shop|live|us|uk|de|fr)(?:/[^\s<>"']*)?)\b`)

// Links returns the domains of the links in the message, from its text and
// its attachments, lower case.
func (in *Input) Links() []string {
	if in.linksDone {
		return in.links
	}
	in.linksDone = true
	if mayHaveLink(in.Text.Source()) {
		for _, u := range linkPattern.FindAllString(in.Text.Source(), 20) {
			in.links = append(in.links, domainOf(u))
		}
	}
	rawjson.EachElement(in.get(rootMessage, "attachments"), func(att []byte) {
		for _, key := range []string{"title_link", "og_scrape_url", "asset_url"} {
			if u := rawjson.String(rawjson.Lookup(att, key)); u != "" {
				in.links = append(in.links, domainOf(u))
			}
		}
	})
	return in.links
}

// mayHaveLink is a cheap test before the link pattern: a URL has "://" or
// a dot with a letter or digit right after it, which the ends of sentences
// ("fine. really.") do not have.
func mayHaveLink(s string) bool {
	for i := strings.IndexByte(s, '.'); i >= 0 && i+1 < len(s); {
		if c := s[i+1]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			return true
		}
		j := strings.IndexByte(s[i+1:], '.')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return strings.Contains(s, "://")
}

// domainOf returns the host of a URL, lower case, without www. and a
// port.
func domainOf(u string) string {
	u = strings.ToLower(u)
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexAny(u, "/?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.LastIndexByte(u, '@'); i >= 0 {
		u = u[i+1:]
	}
	if host, _, ok := strings.Cut(u, ":"); ok {
		u = host
	}
	return strings.TrimSuffix(strings.TrimPrefix(u, "www."), ".")
}
