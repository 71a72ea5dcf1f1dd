package hook

import (
	"encoding/json"
	"errors"

	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// A webhook id's answer is kept in a compact form rather than whole: a
// retry carries the same message, so the answer is rebuilt from it. Most
// messages go through unchanged and cost one byte.
//
//	"A"            the message unchanged
//	"R" + reply    refused with this reply
//	"P" + JSON     patched: {"text": ..., "fields": [[key, value], ...]}
type replayPatch struct {
	Text   *string             `json:"text,omitempty"`
	Fields [][]json.RawMessage `json:"fields,omitempty"`
}

func appendReplay(dst []byte, v *moderation.Verdict) []byte {
	switch {
	case v.Refused():
		return append(append(dst, 'R'), v.Reply...)
	case v.Changed():
		var p replayPatch
		if v.TextChanged {
			text := v.Text // a copy: a pointer into v would put every verdict on the heap
			p.Text = &text
		}
		for _, f := range v.Fields {
			key, _ := json.Marshal(f.Key)
			p.Fields = append(p.Fields, []json.RawMessage{key, f.JSON})
		}
		b, _ := json.Marshal(p)
		return append(append(dst, 'P'), b...)
	}
	return append(dst, replayUnchanged...)
}

// replayUnchanged is the stored answer of a message let through unchanged,
// which the engine may store with the claim (moderation.Options.Unchanged).
var replayUnchanged = []byte{'A'}

var errBadReplay = errors.New("stored answer is not readable")

// appendReplayed rebuilds the answer stored for a retry of p.
func appendReplayed(dst []byte, stored []byte, p *stream.Payload) ([]byte, error) {
	if len(stored) == 0 {
		return dst, errBadReplay
	}
	switch stored[0] {
	case 'A':
		return p.AppendAllow(dst), nil
	case 'R':
		return stream.AppendReject(dst, string(stored[1:])), nil
	case 'P':
		var patch replayPatch
		if err := json.Unmarshal(stored[1:], &patch); err != nil {
			return dst, errBadReplay
		}
		var fields []rules.FieldValue
		for _, kv := range patch.Fields {
			var key string
			if len(kv) != 2 || json.Unmarshal(kv[0], &key) != nil {
				return dst, errBadReplay
			}
			fields = append(fields, rules.FieldValue{Key: key, JSON: kv[1]})
		}
		text := ""
		if patch.Text != nil {
			text = *patch.Text
		}
		return p.AppendPatched(dst, text, patch.Text != nil, fields), nil
	}
	return dst, errBadReplay
}
