package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// Ban is Stream's ban of a user: POST /moderation/ban. A channel's type and
// id make it a ban from that channel only (a timeout); Shadow makes it a
// shadow ban (the user sees their own messages, nobody else does).
type Ban struct {
	TargetUserID string `json:"target_user_id"`
	Timeout      int    `json:"timeout,omitempty"` // minutes; 0: until lifted
	Reason       string `json:"reason,omitempty"`
	Shadow       bool   `json:"shadow,omitempty"`
	Type         string `json:"type,omitempty"` // a channel ban: the channel's type and id
	ID           string `json:"id,omitempty"`
	UserID       string `json:"user_id,omitempty"` // who bans; "" for the app
}

// BanUser bans a user: POST /moderation/ban.
func (c *Client) BanUser(ctx context.Context, b Ban) error {
	if b.TargetUserID == "" {
		return errors.New("stream client: a ban names its target")
	}
	body, _ := json.Marshal(b)
	_, err := c.do(ctx, http.MethodPost, "/moderation/ban", nil, body)
	return err
}

// UnbanUser lifts a ban: DELETE /moderation/ban?target_user_id=...; shadow
// for a shadow ban, a channel's type and id for a ban from that channel.
func (c *Client) UnbanUser(ctx context.Context, targetUserID string, shadow bool, channelType, channelID string) error {
	if targetUserID == "" {
		return errors.New("stream client: an unban names its target")
	}
	q := url.Values{"target_user_id": {targetUserID}}
	if shadow {
		q.Set("shadow", "true")
	}
	if channelType != "" {
		q.Set("type", channelType)
		q.Set("id", channelID)
	}
	_, err := c.do(ctx, http.MethodDelete, "/moderation/ban", q, nil)
	return err
}

// Flag is Stream's flag of a message or a user, for its moderation
// dashboard: POST /moderation/flag.
type Flag struct {
	TargetMessageID string `json:"target_message_id,omitempty"`
	TargetUserID    string `json:"target_user_id,omitempty"`
	UserID          string `json:"user_id"` // who flags
	Reason          string `json:"reason,omitempty"`
}

// FlagContent flags a message or a user: POST /moderation/flag.
func (c *Client) FlagContent(ctx context.Context, f Flag) error {
	if (f.TargetMessageID == "") == (f.TargetUserID == "") {
		return errors.New("stream client: a flag names a message or a user")
	}
	body, _ := json.Marshal(f)
	_, err := c.do(ctx, http.MethodPost, "/moderation/flag", nil, body)
	return err
}

// RemoveMessage deletes a message as Stream's moderators do, softly (the
// channel shows it was deleted): DELETE /messages/{id}.
func (c *Client) RemoveMessage(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/messages/"+url.PathEscape(id), nil, nil)
	return err
}

// GetMessage reads a stored message: GET /messages/{id}. It returns the
// message object.
func (c *Client) GetMessage(ctx context.Context, id string) (json.RawMessage, error) {
	answer, err := c.do(ctx, http.MethodGet, "/messages/"+url.PathEscape(id), nil, nil)
	if err != nil {
		return nil, err
	}
	var got struct {
		Message json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal(answer, &got); err != nil || len(got.Message) == 0 || got.Message[0] != '{' {
		return nil, fmt.Errorf("stream client: GET /messages/%s answered no message", id)
	}
	return got.Message, nil
}
