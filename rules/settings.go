package rules

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Settings are the file-wide defaults.
type Settings struct {
	RejectReply string    // sent for a reject rule that has no reply of its own
	HoldReply   string    // sent for a hold rule that has no reply of its own
	Exempt      Condition // who every rule skips unless the rule says otherwise; nil: nobody
	FlagField   string    // the custom field a flag rule sets
	// AllowCensored lets words through whose letters are already hidden by
	// symbols ("f*ck") instead of matching the one listed term they fit.
	AllowCensored bool
}

// Defaults of Settings.
const (
	DefaultRejectReply = "Your message was not sent: it breaks the community rules."
	DefaultHoldReply   = "Your message is waiting for a moderator."
	DefaultFlagField   = "modgate_flags"
)

// defaultDeviceKey is the request_info.ext key that names a device, unless
// settings.device_key names another.
const defaultDeviceKey = "device-id"

func defaultSettings() Settings {
	return Settings{RejectReply: DefaultRejectReply, HoldReply: DefaultHoldReply, FlagField: DefaultFlagField}
}

// settings reads the file-wide settings into s, and returns the ext key
// that names a device.
func (p *parser) settings(n *yaml.Node, s *Settings) (deviceKey string) {
	deviceKey = defaultDeviceKey
	m := p.mapping(n, "settings", "reject_reply", "hold_reply", "exempt", "flag_field", "device_key", "allow_censored")
	if v, ok := m["allow_censored"]; ok {
		s.AllowCensored, _ = p.boolean(v, "settings.allow_censored")
	}
	if v, ok := m["reject_reply"]; ok {
		if r, ok := p.str(v, "settings.reject_reply"); ok {
			s.RejectReply = r
		}
	}
	if v, ok := m["hold_reply"]; ok {
		if r, ok := p.str(v, "settings.hold_reply"); ok {
			s.HoldReply = r
		}
	}
	if v, ok := m["flag_field"]; ok {
		if r, ok := p.str(v, "settings.flag_field"); ok {
			switch {
			case !idPattern.MatchString(r):
				p.errorf(v, "settings.flag_field: %q is not a usable field name", r)
			case slices.Contains(messageFields, strings.ToLower(r)):
				p.errorf(v, "settings.flag_field: %q is a field of Stream's messages or of modgate's, which every answer "+
					"would overwrite; name a custom field such as %s", r, DefaultFlagField)
			}
			s.FlagField = r
		}
	}
	if v, ok := m["device_key"]; ok {
		if r, ok := p.str(v, "settings.device_key"); ok {
			deviceKey = r
		}
	}
	if v, ok := m["exempt"]; ok {
		s.Exempt = p.cond(v, "settings.exempt", 0)
	}
	return deviceKey
}

// messageFields are the fields of a Stream message that the flag field may
// not name, since every answer and every approved pending message sets the
// flag field: Stream's own fields (compared without case, as Stream's JSON
// decoder may match them) and modgate's approval marker.
var messageFields = []string{"id", "text", "html", "mml", "type", "user", "user_id", "cid", "channel", "member",
	"created_at", "updated_at", "deleted_at", "message_text_updated_at", "silent", "show_in_channel", "attachments",
	"mentioned_users", "mentioned_channel", "parent_id", "quoted_message_id", "quoted_message", "thread_participants",
	"reply_count", "deleted_reply_count", "latest_reactions", "own_reactions", "reaction_counts", "reaction_scores",
	"reaction_groups", "pinned", "pinned_at", "pinned_by", "pin_expires", "i18n", "image_labels", "shadowed",
	"command", "args", "poll_id", "poll", "restricted_visibility", "before_message_send_failed", "moderation",
	"moderation_details", "pending", "pending_message_metadata", "reminder", "shared_location", "draft",
	"modgate_approval"}
