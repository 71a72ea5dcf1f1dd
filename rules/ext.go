package rules

import (
	"encoding/json"
	"strconv"
	"strings"
	"unsafe"

	"github.com/modgate/modgate/rawjson"
)

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
