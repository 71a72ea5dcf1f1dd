package hook_test

import (
	"encoding/json"
	"net/http"
	"strings"
)

// The fake Stream's moderation API: bans, unbans and flags, kept as Stream
// keeps them (a ban of a user banned already replaces it), and reading a
// stored message.

type fakeBan struct {
	Timeout int    `json:"timeout"`
	Reason  string `json:"reason"`
	Shadow  bool   `json:"shadow"`
	Type    string `json:"type"`
	ID      string `json:"id"`
}

// banKey names a ban: the user, and the channel of a channel ban.
func banKey(user, typ, id string) string {
	if typ == "" {
		return user
	}
	return user + "@" + typ + ":" + id
}

// ban returns the ban of user (in channel cid, when not ""), if any.
func (f *fakeStream) ban(user, cid string) (fakeBan, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	typ, id, _ := strings.Cut(cid, ":")
	b, ok := f.bans[banKey(user, typ, id)]
	return b, ok
}

func (f *fakeStream) flagged() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.flags...)
}

func (f *fakeStream) moderationRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /moderation/ban", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			fakeBan
			Target string `json:"target_user_id"`
		}
		if err := json.Unmarshal(f.raw(r), &b); err != nil || b.Target == "" {
			f.t.Errorf("a ban without target_user_id (%v)", err)
		}
		f.act(w, r, func() (int, string) {
			f.bans[banKey(b.Target, b.Type, b.ID)] = b.fakeBan
			return 201, `{"duration":"1ms"}`
		})
	})
	mux.HandleFunc("DELETE /moderation/ban", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f.act(w, r, func() (int, string) {
			key := banKey(q.Get("target_user_id"), q.Get("type"), q.Get("id"))
			if b, ok := f.bans[key]; ok && b.Shadow == (q.Get("shadow") == "true") {
				delete(f.bans, key)
			}
			return 200, `{"duration":"1ms"}`
		})
	})
	mux.HandleFunc("POST /moderation/flag", func(w http.ResponseWriter, r *http.Request) {
		var fl struct {
			Message string `json:"target_message_id"`
			User    string `json:"target_user_id"`
			By      string `json:"user_id"`
		}
		if err := json.Unmarshal(f.raw(r), &fl); err != nil || fl.By == "" || (fl.Message == "") == (fl.User == "") {
			f.t.Errorf("a flag without one target or without user_id (%v)", err)
		}
		f.act(w, r, func() (int, string) {
			target := "user " + fl.User
			if fl.Message != "" {
				if _, ok := f.msgs[fl.Message]; !ok {
					return 404, "Flag failed with error: \"message does not exist\""
				}
				target = "message " + fl.Message
			}
			for _, done := range f.flags {
				if done == target {
					return 400, "Flag failed with error: \"flag already exists\""
				}
			}
			f.flags = append(f.flags, target)
			return 201, `{"flag":{}}`
		})
	})
	mux.HandleFunc("GET /messages/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		f.act(w, r, func() (int, string) {
			m, ok := f.msgs[id]
			if !ok {
				return 404, "GetMessage failed with error: \"message does not exist\""
			}
			msg, _ := json.Marshal(map[string]any{"id": id, "text": m.text, "user": map[string]string{"id": m.userID}})
			return 200, `{"message":` + string(msg) + `}`
		})
	})
}
