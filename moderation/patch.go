package moderation

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/modgate/modgate/rawjson"
)

// Patch is what the rules change in a pending message before it becomes
// visible: the text that mask and rewrite rules made, and the fields that
// rewrite and flag rules set, the flag field included. Stream holds a
// pending message as its sender wrote it, so an approval first updates the
// message with the patch, then commits it (see Publisher.Patch); the patch
// is recorded in the queue item, so that every try, after a restart too,
// applies the same one.
type Patch struct {
	Text *string                    `json:"text,omitempty"` // nil: the text stays
	Set  map[string]json.RawMessage `json:"set,omitempty"`  // field → its JSON value
}

// newPatch is what verdict v changes in pending message msg, or nil for
// nothing. The flag field belongs to modgate: a message that carries it
// (a client may set any custom field) gets it as the flag rules that
// fired say, or [] when none did.
func newPatch(msg *Message, v *Verdict, flagField string) *Patch {
	var p Patch
	if v.TextChanged {
		text := strings.Clone(v.Text)
		p.Text = &text
	}
	for _, f := range v.Fields {
		if p.Set == nil {
			p.Set = map[string]json.RawMessage{}
		}
		p.Set[strings.Clone(f.Key)] = bytes.Clone(f.JSON)
	}
	if flagField != "" && p.Set[flagField] == nil {
		if raw := rawjson.Lookup(msg.Object, flagField); raw != nil && !isEmptyList(raw) {
			if p.Set == nil {
				p.Set = map[string]json.RawMessage{}
			}
			p.Set[flagField] = json.RawMessage("[]")
		}
	}
	if p.Text == nil && len(p.Set) == 0 {
		return nil
	}
	return &p
}

// isEmptyList reports whether raw is the JSON value [].
func isEmptyList(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) >= 2 && raw[0] == '[' && raw[len(raw)-1] == ']' && len(bytes.TrimSpace(raw[1:len(raw)-1])) == 0
}

// ApprovedText is the text the message carries once approved: the
// patch's, or the text as received.
func (h *Held) ApprovedText() string {
	if h.Patch != nil && h.Patch.Text != nil {
		return *h.Patch.Text
	}
	return h.Text
}
