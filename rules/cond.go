package rules

import (
	"encoding/json"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unsafe"

	"github.com/modgate/modgate/rawjson"
)

// Input is what conditions read: one message, with its text analysed once.
// Raw objects are the JSON of the payload (nil when absent); values derived
// from them are computed on first use and kept for the other rules.
type Input struct {
	Text        *Text
	Message     []byte
	User        []byte
	Channel     []byte
	RequestInfo []byte
	Metadata    []byte
	Hook        string // "before_send" or "pending"
	Now         time.Time

	links     []string // domains of the links, lower case
	linksDone bool
	ext       string // request_info.ext as received
	extDone   bool
	fields    []cachedField  // raw fields read so far: several rules often read the same
	index     [5]objectIndex // the members of message, user, channel, request_info, metadata

	// Known are members the payload's reader found already; nil, or a
	// nil list in it, means the object is scanned when first read.
	Known *Members

	// SkipCostly puts costly tests (regular expressions) off: they answer
	// Unknown. The engine evaluates every rule's cheap tests first, then the
	// costly ones of the rules still undecided.
	SkipCostly bool
	// Budget is the time the evaluation has; a regular expression reads it
	// while it matches, and answers Unknown once the deadline passed.
	Budget Budget
	reader textReader
}

// Members are the members of a payload's objects, in the order written.
type Members struct {
	Message, User, Channel, RequestInfo []rawjson.Member
}

// RootOf tells which of Members' objects a top-level key of a hook payload
// names: 0 message, 1 user, 2 channel, 3 request_info; -1 for any other key.
func RootOf(key string) int {
	switch key {
	case "message":
		return rootMessage
	case "user":
		return rootUser
	case "channel":
		return rootChannel
	case "request_info":
		return rootRequestInfo
	}
	return -1
}

// Set takes the members of the object RootOf named root.
func (m *Members) Set(root int, list []rawjson.Member) {
	switch root {
	case rootMessage:
		m.Message = list
	case rootUser:
		m.User = list
	case rootChannel:
		m.Channel = list
	case rootRequestInfo:
		m.RequestInfo = list
	}
}

// objectIndex lists the members of one top-level object, found in one pass
// the first time a rule looks into it.
type objectIndex struct {
	done    bool
	members []rawjson.Member // this Input's own buffer
	known   []rawjson.Member // Known's list for this object, when there is one
}

// Roots of the payload, in the order of Input.index.
const (
	rootMessage = iota
	rootUser
	rootChannel
	rootRequestInfo
	rootMetadata
)

// get returns the raw value of a member of a top-level object, or nil.
func (in *Input) get(root int, key string) []byte {
	ix := &in.index[root]
	if !ix.done {
		ix.done = true
		if ix.known = in.known(root); ix.known == nil {
			obj := in.objectAt(root)
			if len(obj) > 0 && obj[0] == '{' {
				rawjson.EachMember(obj, 0, func(k []byte, v0, v1 int) {
					ix.members = append(ix.members, rawjson.Member{Key: unsafe.String(unsafe.SliceData(k), len(k)), Val: obj[v0:v1]})
				})
			}
		}
	}
	members := ix.members
	if ix.known != nil {
		members = ix.known
	}
	var found []byte
	for i := range members {
		if members[i].Key == key {
			found = members[i].Val // the last of repeated keys counts
		}
	}
	return found
}

// lookup reads root.keys[0].keys[1]...
func (in *Input) lookup(root int, keys []string) []byte {
	v := in.get(root, keys[0])
	if len(keys) > 1 && v != nil {
		return rawjson.Lookup(v, keys[1:]...)
	}
	return v
}

// known returns the members Known has of a root object, or nil.
func (in *Input) known(root int) []rawjson.Member {
	if in.Known == nil {
		return nil
	}
	switch root {
	case rootMessage:
		return in.Known.Message
	case rootUser:
		return in.Known.User
	case rootChannel:
		return in.Known.Channel
	case rootRequestInfo:
		return in.Known.RequestInfo
	}
	return nil
}

func (in *Input) objectAt(root int) []byte {
	switch root {
	case rootMessage:
		return in.Message
	case rootUser:
		return in.User
	case rootChannel:
		return in.Channel
	case rootRequestInfo:
		return in.RequestInfo
	}
	return in.Metadata
}

func rootIndex(root string) int {
	if r := RootOf(root); r >= 0 {
		return r
	}
	return rootMetadata
}

type cachedField struct {
	f *field
	v value
}

// Reset prepares in for another message, keeping its buffers.
func (in *Input) Reset() {
	links, fields := in.links[:0], in.fields[:0]
	var index [5]objectIndex
	for i := range in.index {
		index[i].members = in.index[i].members[:0]
	}
	*in = Input{links: links, fields: fields, index: index}
}

// cached reads a raw field once per message.
func (in *Input) cached(f *field, read func(in *Input) value) value {
	for i := range in.fields {
		if in.fields[i].f == f {
			return in.fields[i].v
		}
	}
	v := read(in)
	in.fields = append(in.fields, cachedField{f: f, v: v})
	return v
}

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

// valueKind is the type of a value a condition reads.
type valueKind uint8

const (
	kindMissing valueKind = iota // absent or null
	kindString
	kindNumber
	kindBool
	kindList     // links, mentions, attachments, JSON arrays
	kindDuration // user.account_age, in seconds
)

// value is what a field holds for one message.
type value struct {
	kind  valueKind
	s     string
	n     float64
	b     bool
	raw   []byte   // a JSON array, for kindList read from the payload
	key   string   // for arrays of objects: the member that names each element (mentions by id)
	items []string // for derived lists
}

// field reads one value of a message.
type field struct {
	path    string
	get     func(in *Input) value
	text    bool  // the message text: contains uses its analysis
	boolean bool  // true or false, nothing else: compared values must be booleans
	cost    uint8 // how dear the value is to read: see condCost
}

// Roots a field path may start with, and the derived values.
var (
	fieldRoots    = []string{"message", "user", "channel", "request_info", "metadata"}
	derivedFields = []string{"text", "text.length", "text.caps_ratio", "links", "mentions", "attachments",
		"user.account_age", "message.is_edit", "message.is_reply", "hook", "request_info.ext.<key>"}
)

// resolveField compiles a field path. It returns false for a path modgate
// does not know.
func resolveField(path string) (field, bool) {
	f := field{path: path}
	switch path {
	case "text":
		f.text = true
		f.get = func(in *Input) value { return value{kind: kindString, s: in.Text.Source()} }
	case "text.length":
		f.cost = costScan
		f.get = func(in *Input) value {
			return value{kind: kindNumber, n: float64(in.Text.Length())}
		}
	case "text.caps_ratio":
		f.cost = costScan
		f.get = func(in *Input) value { return value{kind: kindNumber, n: in.Text.CapsRatio()} }
	case "links":
		f.cost = costPattern
		f.get = func(in *Input) value { return value{kind: kindList, items: in.Links()} }
	case "mentions":
		f.get = func(in *Input) value { return listOf(in.get(rootMessage, "mentioned_users"), "id") }
	case "attachments":
		f.get = func(in *Input) value { return listOf(in.get(rootMessage, "attachments"), "type") }
	case "user.account_age":
		f.get = func(in *Input) value {
			raw := in.get(rootUser, "created_at")
			if len(raw) < 2 || raw[0] != '"' {
				return value{}
			}
			created := rawjson.View(raw)
			t, err := time.Parse(time.RFC3339Nano, created)
			if err != nil {
				return value{}
			}
			return value{kind: kindDuration, n: in.Now.Sub(t).Seconds()}
		}
	case "message.is_edit":
		f.boolean = true
		f.get = func(in *Input) value {
			return value{kind: kindBool, b: nonEmptyString(in.get(rootMessage, "id"))}
		}
	case "message.is_reply":
		f.boolean = true
		f.get = func(in *Input) value {
			return value{kind: kindBool, b: nonEmptyString(in.get(rootMessage, "parent_id")) ||
				nonEmptyString(in.get(rootMessage, "quoted_message_id"))}
		}
	case "hook":
		f.get = func(in *Input) value { return value{kind: kindString, s: in.Hook} }
	default:
		root, rest, ok := strings.Cut(path, ".")
		if !contains(fieldRoots, root) || (ok && rest == "") {
			return f, false
		}
		if !ok { // a whole object: for exists
			ri := rootIndex(root)
			f.get = func(in *Input) value { return rawValue(in.objectAt(ri)) }
			break
		}
		if key, isExt := strings.CutPrefix(path, "request_info.ext."); isExt {
			f.get = func(in *Input) value { return in.extValue(key) }
			break
		}
		keys := strings.Split(rest, ".")
		for _, k := range keys {
			if k == "" {
				return f, false
			}
		}
		ri := rootIndex(root)
		read := func(in *Input) value { return rawValue(in.lookup(ri, keys)) }
		fp := &f
		f.get = func(in *Input) value { return in.cached(fp, read) }
	}
	return f, true
}

func nonEmptyString(raw []byte) bool { return len(raw) > 2 && raw[0] == '"' }

// rawValue turns raw JSON into a value.
func rawValue(raw []byte) value {
	if len(raw) == 0 {
		return value{}
	}
	switch raw[0] {
	case '"':
		return value{kind: kindString, s: rawjson.View(raw)}
	case 't':
		return value{kind: kindBool, b: true}
	case 'f':
		return value{kind: kindBool, b: false}
	case '[':
		return value{kind: kindList, raw: raw}
	case 'n':
		return value{}
	case '{':
		return value{kind: kindString, s: unsafe.String(&raw[0], len(raw))} // an object compares as its JSON
	}
	if n, ok := rawjson.Number(raw); ok {
		return value{kind: kindNumber, n: n}
	}
	return value{}
}

// listOf reads a JSON array of objects (or of strings) as the list of one
// key of each object: mentioned users by id, attachments by type.
func listOf(arr []byte, key string) value {
	if len(arr) == 0 || arr[0] != '[' {
		return value{}
	}
	return value{kind: kindList, raw: arr, key: key}
}

// each calls fn with every string a value holds: itself, or its elements.
func (v value) each(fn func(s string) bool) bool {
	switch v.kind {
	case kindString:
		return fn(v.s)
	case kindNumber:
		return fn(strconv.FormatFloat(v.n, 'f', -1, 64))
	case kindBool:
		return fn(strconv.FormatBool(v.b))
	case kindList:
		for _, s := range v.items {
			if fn(s) {
				return true
			}
		}
		found := false
		rawjson.EachElement(v.raw, func(elem []byte) {
			if found {
				return
			}
			if v.key != "" && len(elem) > 0 && elem[0] == '{' {
				elem = rawjson.Lookup(elem, v.key)
			}
			e := rawValue(elem)
			found = e.kind != kindList && e.each(fn)
		})
		return found
	}
	return false
}

// count is the number of elements of a list value.
func (v value) count() int {
	n := len(v.items)
	rawjson.EachElement(v.raw, func([]byte) { n++ })
	return n
}

func capsRatioUnicode(s string) float64 {
	letters, upper := 0, 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	if letters == 0 {
		return 0
	}
	return float64(upper) / float64(letters)
}

// AppendScope appends the value a limit counts by (user, channel, ip,
// device, text) to dst. It reports false when the message lacks it.
func (in *Input) AppendScope(dst []byte, by, deviceKey string) ([]byte, bool) {
	var raw []byte
	switch by {
	case "user":
		raw = in.get(rootUser, "id")
	case "channel":
		raw = in.get(rootChannel, "cid")
	case "ip":
		raw = in.get(rootRequestInfo, "ip")
	case "device":
		v := in.ExtString(deviceKey)
		return append(dst, v...), v != ""
	case "text":
		return strconv.AppendUint(dst, in.Text.Fingerprint(), 36), true
	}
	if len(raw) < 3 || raw[0] != '"' {
		return dst, false
	}
	return append(dst, rawjson.View(raw)...), true
}

// ExtString returns one key of request_info.ext as text, or "".
func (in *Input) ExtString(key string) string {
	v := in.extValue(key)
	switch v.kind {
	case kindString:
		return v.s
	case kindNumber:
		return strconv.FormatFloat(v.n, 'f', -1, 64)
	}
	return ""
}

// extValue reads one key of request_info.ext: the client's x-stream-ext
// header, as `k=v,k2=v2` or a JSON object. It is untrusted free text.
func (in *Input) extValue(key string) value {
	if !in.extDone {
		in.extDone = true
		if raw := in.get(rootRequestInfo, "ext"); len(raw) > 1 && raw[0] == '"' {
			in.ext = strings.TrimSpace(rawjson.View(raw))
		}
	}
	ext := in.ext
	if len(ext) == 0 {
		return value{}
	}
	if ext[0] == '{' {
		obj := unsafe.Slice(unsafe.StringData(ext), len(ext))
		if !json.Valid(obj) {
			return value{}
		}
		return rawValue(rawjson.Lookup(obj, key))
	}
	for ext != "" {
		var pair string
		if i := strings.IndexAny(ext, ",;&"); i >= 0 {
			pair, ext = ext[:i], ext[i+1:]
		} else {
			pair, ext = ext, ""
		}
		k, v, _ := strings.Cut(pair, "=")
		if strings.TrimSpace(k) == key {
			return value{kind: kindString, s: strings.TrimSpace(v)}
		}
	}
	return value{}
}

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

// The compiled conditions.

type allOf []Condition

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

// containsCond is `contains` (with `except`): a word-list match on the
// folded words of a text field.
type containsCond struct {
	f      field
	terms  *Matcher
	except *Matcher
}

func (c *containsCond) Match(in *Input, found []Match) ([]Match, Truth) {
	if c.f.text {
		found, ok := matchText(in.Text, c.terms, c.except, found)
		return found, truth(ok)
	}
	v := c.f.get(in)
	matched := false
	v.each(func(s string) bool {
		// A field is analysed for each rule that reads it: the work counts,
		// so that a huge field cannot take the engine past its deadline.
		in.Budget.Spend(len(s) * fieldStepsPerByte)
		t := Analyze(s)
		// Spans of other fields do not point into the message text: they
		// explain and fill {{match}}, and masking ignores them.
		var local [4]Match
		got, ok := matchText(t, c.terms, c.except, local[:0])
		for _, m := range got {
			m.Value = s[m.Start:m.End]
			m.Start, m.End = -1, -1
			found = append(found, m)
		}
		t.Release()
		matched = ok
		return ok
	})
	return found, truth(matched)
}

func matchText(t *Text, terms, except *Matcher, found []Match) ([]Match, bool) {
	start := len(found)
	found = terms.Match(t, found)
	if len(found) == start {
		return found, false
	}
	if except != nil {
		var buf [8]Match
		allowed := except.Match(t, buf[:0])
		kept := found[:start]
		for _, m := range found[start:] {
			if !covered(m, allowed) {
				kept = append(kept, m)
			}
		}
		found = kept
	}
	return found, len(found) > start
}

func covered(m Match, by []Match) bool {
	for _, a := range by {
		if a.Start <= m.Start && m.End <= a.End {
			return true
		}
	}
	return false
}

type matchesCond struct {
	f field
	p *pattern
}

// Match runs the pattern, unless in puts costly tests off. A match cut
// short by the deadline is Unknown.
func (c *matchesCond) Match(in *Input, found []Match) ([]Match, Truth) {
	if in.SkipCostly {
		return found, Unknown
	}
	v := c.f.get(in)
	if c.f.text {
		start, end, t := in.find(c.p, v.s)
		if t == True {
			found = append(found, Match{Start: start, End: end, Term: c.p.re.String()})
		}
		return found, t
	}
	result := False
	v.each(func(s string) bool {
		switch _, _, t := in.find(c.p, s); t {
		case True:
			found = append(found, Match{Start: -1, End: -1, Term: c.p.re.String(), Value: s})
			result = True
			return true
		case Unknown:
			result = Unknown
		}
		return false
	})
	return found, result
}

// setCond is `equals`, `in` and `not_in`. Over a list (links, mentions, an
// array field) `in` holds when an element is one of the set and `not_in`
// when an element is none of them; an empty or missing list meets neither,
// unless orEmpty makes it meet both.
type setCond struct {
	f       field
	set     map[string]struct{}
	negate  bool
	domains bool // links: a domain matches its parent domains too
	orEmpty bool // `or_empty: true`: a missing value or empty list holds
}

func (c *setCond) Match(in *Input, found []Match) ([]Match, Truth) {
	v := c.f.get(in)
	seen, hit := false, false
	var value, term string
	v.each(func(s string) bool {
		seen = true
		t, listed := c.lookup(s)
		if listed != c.negate {
			hit, value, term = true, s, t
			if c.negate {
				term = s // outside the set: no entry of it met the test, the value did
			}
		}
		return hit
	})
	switch {
	case !seen:
		return found, truth(c.orEmpty)
	case !hit:
		return found, False
	}
	return append(found, Match{Start: -1, End: -1, Term: term, Value: value}), True
}

// lookup finds s in the set, or for links one of its parent domains; it
// returns the entry found.
func (c *setCond) lookup(s string) (string, bool) {
	if _, ok := c.set[s]; ok {
		return s, true
	}
	if c.domains {
		for d := s; ; {
			i := strings.IndexByte(d, '.')
			if i < 0 {
				return "", false
			}
			d = d[i+1:]
			if _, ok := c.set[d]; ok {
				return d, true
			}
		}
	}
	return "", false
}

// compareCond is `over` and `under`: numbers, durations, sizes, and the
// length of lists.
type compareCond struct {
	f     field
	limit float64
	over  bool
}

func (c *compareCond) Match(in *Input, found []Match) ([]Match, Truth) {
	v := c.f.get(in)
	var n float64
	switch v.kind {
	case kindNumber, kindDuration:
		n = v.n
	case kindList:
		n = float64(v.count())
	case kindString:
		f, err := strconv.ParseFloat(v.s, 64)
		if err != nil {
			return found, False
		}
		n = f
	default:
		return found, False
	}
	if c.over {
		return found, truth(n > c.limit)
	}
	return found, truth(n < c.limit)
}

type cidrCond struct {
	f        field
	prefixes []netip.Prefix
}

func (c *cidrCond) Match(in *Input, found []Match) ([]Match, Truth) {
	v := c.f.get(in)
	var value string
	var network netip.Prefix
	hit := v.each(func(s string) bool {
		addr, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return false
		}
		addr = addr.Unmap()
		for _, p := range c.prefixes {
			if p.Contains(addr) {
				value, network = s, p
				return true
			}
		}
		return false
	})
	if !hit {
		return found, False
	}
	return append(found, Match{Start: -1, End: -1, Term: network.String(), Value: value}), True
}

type existsCond struct {
	f    field
	want bool
}

func (c *existsCond) Match(in *Input, found []Match) ([]Match, Truth) {
	return found, truth((c.f.get(in).kind != kindMissing) == c.want)
}
