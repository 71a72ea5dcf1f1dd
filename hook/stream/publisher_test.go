package stream

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/modgate/modgate/moderation"
)

// streamErr answers an error in Stream's shape.
func streamErr(code int, streamCode, msg string) func(w http.ResponseWriter) bool {
	return status(code, `{"code":`+streamCode+`,"message":"`+msg+`","StatusCode":`+strconv.Itoa(code)+`}`)
}

// TestPublisherReadsStreamsAnswers: what each answer of Stream means for a
// decision: done (already), refused for good, not sent, or unknown.
func TestPublisherReadsStreamsAnswers(t *testing.T) {
	t.Parallel()
	const (
		done    = "done"
		already = "already done"
		refused = "refused"
		notSent = "not sent"
		unknown = "unknown"
	)
	held := &moderation.Held{ID: "bs-1", ChannelCID: "messaging:general", UserID: "u1", Text: "hi", Message: []byte(`{"text":"hi"}`)}
	edit := *held
	edit.MessageID = "m-7"
	masked := "****"
	pending := &moderation.Held{ID: "m-9", MessageID: "m-9", Hook: moderation.HookPending, UserID: "u1", Text: "damn",
		Patch: &moderation.Patch{Text: &masked}}
	for _, tc := range []struct {
		name   string
		call   func(p *Publisher) error
		script []func(w http.ResponseWriter) bool
		want   string
		calls  string
	}{
		{"commit", func(p *Publisher) error { return p.Commit(context.Background(), "m1") }, nil, done, "POST /messages/m1/commit"},
		{"commit of a message no longer pending", func(p *Publisher) error { return p.Commit(context.Background(), "m1") },
			[]func(http.ResponseWriter) bool{streamErr(400, "4", `CommitMessage failed with error: \"message is not pending\"`)}, already, ""},
		{"commit of a message that does not exist", func(p *Publisher) error { return p.Commit(context.Background(), "m1") },
			[]func(http.ResponseWriter) bool{streamErr(404, "16", "message does not exist")}, refused, ""},
		{"commit while pending messages are off", func(p *Publisher) error { return p.Commit(context.Background(), "m1") },
			[]func(http.ResponseWriter) bool{streamErr(400, "4", "pending messages are not enabled for this app")}, refused, ""},
		{"delete of a message that does not exist", func(p *Publisher) error { return p.Delete(context.Background(), "m1") },
			[]func(http.ResponseWriter) bool{streamErr(404, "16", "message does not exist")}, already, ""},
		{"delete, forbidden", func(p *Publisher) error { return p.Delete(context.Background(), "m1") },
			[]func(http.ResponseWriter) bool{streamErr(403, "17", "not allowed")}, refused, ""},
		{"send of an id Stream has", func(p *Publisher) error { return p.Send(context.Background(), held) },
			[]func(http.ResponseWriter) bool{streamErr(400, "4", `SendMessage failed with error: \"a message with ID bs-1 already exists\"`)}, already, ""},
		{"send of a used approval", func(p *Publisher) error { return p.Send(context.Background(), held) },
			[]func(http.ResponseWriter) bool{status(201, `{"message":{"type":"error","text":"`+ApprovalUsedReply+`"}}`)}, already, ""},
		{"send the hook refused", func(p *Publisher) error { return p.Send(context.Background(), held) },
			[]func(http.ResponseWriter) bool{status(201, `{"message":{"type":"error","text":"Not sent."}}`)}, notSent, ""},
		{"send, rate limited", func(p *Publisher) error { return p.Send(context.Background(), held) },
			[]func(http.ResponseWriter) bool{status(429, "slow down"), status(429, "slow down"), status(429, "slow down"),
				status(429, "slow down"), status(429, "slow down")}, notSent, ""},
		{"send, Stream failing", func(p *Publisher) error { return p.Send(context.Background(), held) },
			[]func(http.ResponseWriter) bool{status(503, ""), status(503, ""), status(503, ""), status(503, ""), status(503, "")}, unknown, ""},
		{"edit", func(p *Publisher) error { return p.Send(context.Background(), &edit) }, nil, done, "POST /messages/m-7"},
		{"patch", func(p *Publisher) error { return p.Patch(context.Background(), pending) }, nil, done, "PUT /messages/m-9"},
		{"patch of a message that does not exist", func(p *Publisher) error { return p.Patch(context.Background(), pending) },
			[]func(http.ResponseWriter) bool{streamErr(404, "16", "message does not exist")}, refused, ""},
		{"patch the hook refused", func(p *Publisher) error { return p.Patch(context.Background(), pending) },
			[]func(http.ResponseWriter) bool{status(200, `{"message":{"type":"error","text":"Not sent."}}`)}, notSent, ""},
		{"patch, Stream failing", func(p *Publisher) error { return p.Patch(context.Background(), pending) },
			[]func(http.ResponseWriter) bool{status(503, ""), status(503, ""), status(503, ""), status(503, ""), status(503, "")}, unknown, ""},
		{"edit of an id Stream does not have: sent as new", func(p *Publisher) error { return p.Send(context.Background(), &edit) },
			[]func(http.ResponseWriter) bool{streamErr(404, "16", "message does not exist")}, done,
			"POST /messages/m-7 POST /channels/messaging/general/message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, c, _ := newFake(t, tc.script...)
			err := tc.call(&Publisher{Client: c, Approvals: NewApprovals("secret")})
			got := unknown
			switch {
			case err == nil:
				got = done
			case errors.Is(err, moderation.ErrAlreadyDone):
				got = already
			case errors.Is(err, moderation.ErrRefused):
				got = refused
			case errors.Is(err, moderation.ErrUnavailable):
				got = notSent
			}
			if got != tc.want {
				t.Fatalf("%s (%v), want %s", got, err, tc.want)
			}
			if tc.calls != "" {
				var calls []string
				for _, c := range f.calls {
					calls = append(calls, strings.SplitN(c, "?", 2)[0])
				}
				if strings.Join(calls, " ") != tc.calls {
					t.Fatalf("calls %v", calls)
				}
			}
		})
	}
}

// TestPublisherSendsUnderTheItemsID: a send names the message after the
// queue item, so that Stream refuses a second one; an edit names the
// message it changes, and keeps what its sender may set.
func TestPublisherSendsUnderTheItemsID(t *testing.T) {
	t.Parallel()
	f, c, _ := newFake(t)
	p := &Publisher{Client: c, Approvals: NewApprovals("secret")}
	msg := []byte(`{"id":"","text":"hi","pinned":true,"silent":true,"user":{"id":"u1"},"created_at":"x"}`)
	p.Send(context.Background(), &moderation.Held{ID: "bs-1", ChannelCID: "messaging:general", UserID: "u1", Text: "hi", Message: msg})
	p.Send(context.Background(), &moderation.Held{ID: "bs-2", MessageID: "m-7", ChannelCID: "messaging:general", UserID: "u1", Text: "hi", Message: msg})
	if len(f.calls) != 2 || !strings.Contains(f.calls[0], `{"message":{"id":"bs-1","text":"hi","user_id":"u1","modgate_approval":"bs-1.`) ||
		!strings.Contains(f.calls[1], `{"message":{"id":"m-7","text":"hi","pinned":true,"silent":true,"user_id":"u1","modgate_approval":"bs-2.`) {
		t.Fatalf("calls:\n%s", strings.Join(f.calls, "\n"))
	}
}

// TestPublisherPatchesPendingMessages: a patch is one partial update, as
// the sender, setting the text and the fields it names and its marker,
// always in the same order; nothing to patch, no call.
func TestPublisherPatchesPendingMessages(t *testing.T) {
	t.Parallel()
	f, c, _ := newFake(t)
	p := &Publisher{Client: c, Approvals: NewApprovals("secret")}
	masked := "well **** it"
	h := &moderation.Held{ID: "m.9", MessageID: "m.9", Hook: moderation.HookPending, UserID: "u1", Text: "well damn it",
		Patch: &moderation.Patch{Text: &masked, Set: map[string]json.RawMessage{"silent": []byte("true"), "modgate_flags": []byte("[]")}}}
	for range 2 {
		if err := p.Patch(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Patch(context.Background(), &moderation.Held{ID: "m2", MessageID: "m2", UserID: "u1"}); err != nil {
		t.Fatal(err)
	}
	want := `PUT /messages/m.9?api_key=key {"set":{"text":"well **** it","modgate_flags":[],"silent":true,"modgate_approval":"` +
		NewApprovals("secret").PatchMarker(h) + `"},"user_id":"u1"}`
	if len(f.calls) != 2 || f.calls[0] != want || f.calls[1] != want {
		t.Fatalf("calls:\n%s\nwant twice:\n%s", strings.Join(f.calls, "\n"), want)
	}
}

// TestMarkers: a marker names its item (dots in a pending message's id
// included) for its sender and text only; an approval marker does not
// pass for a patch marker, nor the other way round.
func TestMarkers(t *testing.T) {
	t.Parallel()
	a := NewApprovals("secret")
	masked := "****"
	h := &moderation.Held{ID: "u1-2.3", UserID: "u1", Text: "damn", Patch: &moderation.Patch{Text: &masked}}
	approval, patch := a.Marker(h), a.PatchMarker(h)
	for _, tc := range []struct {
		name  string
		check func() (string, error)
		ok    bool
	}{
		{"approval", func() (string, error) { return a.Check(approval, "u1", "damn") }, true},
		{"approval, another sender", func() (string, error) { return a.Check(approval, "u2", "damn") }, false},
		{"approval as a patch", func() (string, error) { return a.CheckPatch("patch."+approval, "u1", "damn") }, false},
		{"patch", func() (string, error) { return a.CheckPatch(patch, "u1", "****") }, true},
		{"patch, the text as sent", func() (string, error) { return a.CheckPatch(patch, "u1", "damn") }, false},
		{"patch as an approval", func() (string, error) { return a.Check(strings.TrimPrefix(patch, "patch."), "u1", "****") }, false},
		{"another key", func() (string, error) { return NewApprovals("other").CheckPatch(patch, "u1", "****") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := tc.check()
			if tc.ok != (err == nil) || (tc.ok && id != "u1-2.3") {
				t.Fatalf("%q %v", id, err)
			}
		})
	}
	if !IsPatch(patch) || IsPatch(approval) {
		t.Fatal("IsPatch")
	}
}
