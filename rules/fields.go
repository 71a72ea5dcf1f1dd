package rules

import (
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/modgate/modgate/rawjson"
)

// field reads one value of a message.
type field struct {
	path    string
	get     func(in *Input) value
	text    bool  // the message text: contains uses its analysis
	boolean bool  // true or false, nothing else: compared values must be booleans
	cost    uint8 // how dear the value is to read: see condCost
}

// fieldRoots are the objects of the payload a field path may start with.
var fieldRoots = []string{"message", "user", "channel", "request_info", "metadata"}

// derivedFields are the values modgate works out from a message, in the
// order error messages name them.
var derivedFields = []field{
	{path: "text", text: true, get: func(in *Input) value { return value{kind: kindString, s: in.Text.Source()} }},
	{path: "text.length", cost: costScan, get: func(in *Input) value {
		return value{kind: kindNumber, n: float64(in.Text.Length())}
	}},
	{path: "text.caps_ratio", cost: costScan, get: func(in *Input) value { return value{kind: kindNumber, n: in.Text.CapsRatio()} }},
	{path: "links", cost: costPattern, get: func(in *Input) value { return value{kind: kindList, items: in.Links()} }},
	{path: "mentions", get: func(in *Input) value { return listOf(in.get(rootMessage, "mentioned_users"), "id") }},
	{path: "attachments", get: func(in *Input) value { return listOf(in.get(rootMessage, "attachments"), "type") }},
	{path: "user.account_age", get: accountAge},
	{path: "message.is_edit", boolean: true, get: func(in *Input) value {
		return value{kind: kindBool, b: nonEmptyString(in.get(rootMessage, "id"))}
	}},
	{path: "message.is_reply", boolean: true, get: func(in *Input) value {
		return value{kind: kindBool, b: nonEmptyString(in.get(rootMessage, "parent_id")) ||
			nonEmptyString(in.get(rootMessage, "quoted_message_id"))}
	}},
	{path: "hook", get: func(in *Input) value { return value{kind: kindString, s: in.Hook} }},
}

// derivedFieldNames names the derived values, and the keys of
// request_info.ext, for error messages.
func derivedFieldNames() []string {
	names := make([]string, 0, len(derivedFields)+1)
	for _, f := range derivedFields {
		names = append(names, f.path)
	}
	return append(names, "request_info.ext.<key>")
}

// resolveField compiles a field path. It returns false for a path modgate
// does not know.
func resolveField(path string) (field, bool) {
	for _, f := range derivedFields {
		if f.path == path {
			return f, true
		}
	}
	return payloadField(path)
}

// payloadField compiles the path of a value of the payload: a member of a
// root object (root.key.key...), a whole root object (for exists), or a key
// of request_info.ext. A member is read once per message, however many
// rules read it.
func payloadField(path string) (field, bool) {
	f := field{path: path}
	root, rest, ok := strings.Cut(path, ".")
	switch {
	case !slices.Contains(fieldRoots, root) || (ok && rest == ""):
		return f, false
	case !ok:
		ri := rootIndex(root)
		f.get = func(in *Input) value { return rawValue(in.objectAt(ri)) }
		return f, true
	}
	if key, isExt := strings.CutPrefix(path, "request_info.ext."); isExt {
		f.get = func(in *Input) value { return in.extValue(key) }
		return f, true
	}
	keys := strings.Split(rest, ".")
	if slices.Contains(keys, "") {
		return f, false
	}
	ri := rootIndex(root)
	read := func(in *Input) value { return rawValue(in.lookup(ri, keys)) }
	fp := &f // the field's identity, under which Input keeps what it read
	f.get = func(in *Input) value { return in.cached(fp, read) }
	return f, true
}

// accountAge is user.account_age: the time since user.created_at.
func accountAge(in *Input) value {
	raw := in.get(rootUser, "created_at")
	if !rawjson.IsString(raw) {
		return value{}
	}
	t, err := time.Parse(time.RFC3339Nano, rawjson.View(raw))
	if err != nil {
		return value{}
	}
	return value{kind: kindDuration, n: in.Now.Sub(t).Seconds()}
}

func nonEmptyString(raw []byte) bool { return len(raw) > 2 && raw[0] == '"' }

// capsRatioUnicode is Text.CapsRatio for a text beyond ASCII.
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
