package stream

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/modgate/modgate/moderation"
)

// Approvals signs and checks approval markers: the queue id of the held
// message and an HMAC over it, the sender and the text, so a marker cannot
// be forged or moved to another message.
type Approvals struct {
	key []byte
}

// NewApprovals derives the marker key from a secret (the Stream API secret,
// or one of its own).
func NewApprovals(secret string) *Approvals {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("modgate approval marker"))
	return &Approvals{key: mac.Sum(nil)}
}

func (a *Approvals) mac(id, userID, text string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(id + "\x00" + userID + "\x00" + text))
	return hex.EncodeToString(m.Sum(nil))
}

// Marker returns the marker of an approved held message.
func (a *Approvals) Marker(h *moderation.Held) string {
	return h.ID + "." + a.mac(h.ID, h.UserID, h.Text)
}

// ApprovalUsedReply is the hook's answer to a message whose approval
// marker was used already: a send tried again after Stream applied the
// first. Only modgate reads it, in Stream's answer to that send.
const ApprovalUsedReply = "modgate: this approval was used already"

// ErrBadMarker is returned by Check for a marker that is not valid.
var ErrBadMarker = errors.New("approval marker does not match the message")

// Check returns the queue id a valid marker names.
func (a *Approvals) Check(marker, userID, text string) (string, error) {
	id, mac, ok := strings.Cut(marker, ".")
	if !ok || id == "" || !hmac.Equal([]byte(mac), []byte(a.mac(id, userID, text))) {
		return "", ErrBadMarker
	}
	return id, nil
}
