package stream

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/modgate/modgate/moderation"
)

// Approvals signs and checks the markers modgate puts on the messages it
// sends or updates itself, so that its before-message-send hook recognises
// them when Stream passes them through it:
//
//   - an approval marker, on a held message a moderator approved and
//     modgate sends again: the queue id of the held message and an HMAC
//     over it, the sender and the text, so a marker cannot be forged or
//     moved to another message;
//   - a patch marker, on the update that applies the rules' changes to a
//     pending message before its commit: "patch." and the same over the
//     pending message's queue id, its sender and its approved text, under
//     a key of its own, so that neither kind passes for the other;
//   - a tell marker, on the message that tells a sender their held
//     message was rejected: "tell." and the same over the message's id,
//     its sender (modgate's user) and its text, under a third key.
type Approvals struct {
	key      []byte
	patchKey []byte
	tellKey  []byte
}

// NewApprovals derives the marker keys from a secret (the Stream API
// secret, or one of its own).
func NewApprovals(secret string) *Approvals {
	derive := func(purpose string) []byte {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(purpose))
		return mac.Sum(nil)
	}
	return &Approvals{key: derive("modgate approval marker"), patchKey: derive("modgate patch marker"),
		tellKey: derive("modgate tell marker")}
}

func markerMAC(key []byte, id, userID, text string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "\x00" + userID + "\x00" + text))
	return hex.EncodeToString(m.Sum(nil))
}

// Marker returns the marker of an approved held message.
func (a *Approvals) Marker(h *moderation.Held) string {
	return h.ID + "." + markerMAC(a.key, h.ID, h.UserID, h.Text)
}

// patchPrefix starts a patch marker.
const patchPrefix = "patch."

// PatchMarker returns the marker of the update that applies h's patch.
func (a *Approvals) PatchMarker(h *moderation.Held) string {
	return patchPrefix + h.ID + "." + markerMAC(a.patchKey, h.ID, h.UserID, h.ApprovedText())
}

// IsPatch reports whether marker is a patch marker (valid or not).
func IsPatch(marker string) bool { return strings.HasPrefix(marker, patchPrefix) }

// tellPrefix starts a tell marker.
const tellPrefix = "tell."

// TellMarker returns the marker of the message id that tells a sender of a
// rejection, sent as userID with text.
func (a *Approvals) TellMarker(id, userID, text string) string {
	return tellPrefix + id + "." + markerMAC(a.tellKey, id, userID, text)
}

// IsTell reports whether marker is a tell marker (valid or not).
func IsTell(marker string) bool { return strings.HasPrefix(marker, tellPrefix) }

// CheckTell returns the message id a valid tell marker names.
func (a *Approvals) CheckTell(marker, userID, text string) (string, error) {
	if !IsTell(marker) {
		return "", ErrBadMarker
	}
	return check(a.tellKey, marker[len(tellPrefix):], userID, text)
}

// ApprovalUsedReply is the hook's answer to a message whose approval
// marker was used already: a send tried again after Stream applied the
// first. Only modgate reads it, in Stream's answer to that send.
const ApprovalUsedReply = "modgate: this approval was used already"

// ErrBadMarker is returned by Check for a marker that is not valid.
var ErrBadMarker = errors.New("approval marker does not match the message")

// Check returns the queue id a valid approval marker names.
func (a *Approvals) Check(marker, userID, text string) (string, error) {
	return check(a.key, marker, userID, text)
}

// CheckPatch returns the queue id a valid patch marker names.
func (a *Approvals) CheckPatch(marker, userID, text string) (string, error) {
	if !IsPatch(marker) {
		return "", ErrBadMarker
	}
	return check(a.patchKey, marker[len(patchPrefix):], userID, text)
}

// check reads id.mac; the id may hold dots (a pending message's id is
// Stream's), the hex mac cannot.
func check(key []byte, marker, userID, text string) (string, error) {
	i := strings.LastIndexByte(marker, '.')
	if i <= 0 || !hmac.Equal([]byte(marker[i+1:]), []byte(markerMAC(key, marker[:i], userID, text))) {
		return "", ErrBadMarker
	}
	return marker[:i], nil
}
