package moderation

import (
	"encoding/json"

	"github.com/modgate/modgate/rules"
)

// The answer the before-send hook gave for a webhook id is kept in State,
// for Stream's retries of the call, in a compact form rather than whole: a
// retry carries the same message, so the answer is rebuilt from the message
// and the stored verdict. Most messages go through unchanged and cost one
// byte. (A pending call's retries are answered from the review queue.)
//
//	"A"            let through unchanged
//	"R" + reply    refused with this reply
//	"P" + JSON     let through patched: {"text": ..., "fields": [[key, value], ...]}
//
// Several versions of modgate may share one Redis during an upgrade: a
// stored answer this version cannot read makes a retry whose first answer
// is not known (Result.Retry), which is evaluated again and counts nothing.

// answerUnchanged is the stored answer of a message let through unchanged,
// which the engine stores with the claim when only limits can change it.
var answerUnchanged = []byte{'A'}

type answerPatch struct {
	Text   *string             `json:"text,omitempty"`
	Fields [][]json.RawMessage `json:"fields,omitempty"`
}

// appendAnswer appends the stored form of v's answer.
func appendAnswer(dst []byte, v *Verdict) []byte {
	switch {
	case v.Refused():
		return append(append(dst, 'R'), v.Reply...)
	case v.Changed():
		var p answerPatch
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
	return append(dst, answerUnchanged...)
}

// readAnswer reads a stored answer back into a verdict holding what the
// answer needs: a refusal reads as ActionReject with its reply, a patch as
// ActionRewrite with its text and fields, anything else as ActionNone.
func readAnswer(stored []byte) (Verdict, bool) {
	if len(stored) == 0 {
		return Verdict{}, false
	}
	switch stored[0] {
	case 'A':
		return Verdict{}, true
	case 'R':
		return Verdict{Action: rules.ActionReject, Reply: string(stored[1:])}, true
	case 'P':
		var patch answerPatch
		if err := json.Unmarshal(stored[1:], &patch); err != nil {
			return Verdict{}, false
		}
		v := Verdict{Action: rules.ActionRewrite}
		if patch.Text != nil {
			v.Text, v.TextChanged = *patch.Text, true
		}
		for _, kv := range patch.Fields {
			var key string
			if len(kv) != 2 || json.Unmarshal(kv[0], &key) != nil {
				return Verdict{}, false
			}
			v.Fields = append(v.Fields, rules.FieldValue{Key: key, JSON: kv[1]})
		}
		return v, true
	}
	return Verdict{}, false
}
