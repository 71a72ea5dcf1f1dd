package storage

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/modgate/modgate/moderation"
)

func auditLogs() []struct {
	name string
	new  func(t *testing.T) moderation.AuditLog
} {
	return []struct {
		name string
		new  func(t *testing.T) moderation.AuditLog
	}{
		{"memory", func(t *testing.T) moderation.AuditLog { return NewMemoryAudit(20) }},
		{"redis", func(t *testing.T) moderation.AuditLog { return newTestRedis(t).Audit(0) }},
	}
}

// listAll follows the cursors to the end.
func listAll(t *testing.T, a moderation.AuditLog, f moderation.AuditFilter) []string {
	t.Helper()
	var got []string
	for {
		page, next, err := a.List(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			got = append(got, e.ItemID)
		}
		if next == "" {
			return got
		}
		f.Cursor = next
	}
}

func TestAuditLogPagesNewestFirst(t *testing.T) {
	t.Parallel()
	for _, lg := range auditLogs() {
		t.Run(lg.name, func(t *testing.T) {
			t.Parallel()
			a := lg.new(t)
			ctx := context.Background()
			for i := range 25 {
				if err := a.Record(ctx, moderation.AuditEntry{At: t0.Add(time.Duration(i) * time.Second), Actor: "ann",
					Action: "approved", ItemID: fmt.Sprint("m", i), Rules: []string{"r"}}); err != nil {
					t.Fatal(err)
				}
			}
			got := listAll(t, a, moderation.AuditFilter{Limit: 8})
			want := 25
			if lg.name == "memory" {
				want = 20 // the ring keeps the newest 20
			}
			if len(got) != want || got[0] != "m24" || got[len(got)-1] != fmt.Sprint("m", 25-want) {
				t.Fatalf("entries %v", got)
			}
			if _, _, err := a.List(ctx, moderation.AuditFilter{Cursor: "not-a-cursor", Limit: 5}); !errors.Is(err, moderation.ErrInvalid) {
				t.Fatalf("bad cursor: %v", err)
			}
		})
	}
}

func TestAuditLogFilters(t *testing.T) {
	t.Parallel()
	for _, lg := range auditLogs() {
		t.Run(lg.name, func(t *testing.T) {
			t.Parallel()
			a := lg.new(t)
			ctx := context.Background()
			now := time.Now()
			entries := []moderation.AuditEntry{
				{At: now.Add(-3 * time.Hour), Actor: "modgate", Action: moderation.AuditHeld, ItemID: "a", UserID: "u1", ChannelCID: "c:1"},
				{At: now.Add(-2 * time.Hour), Actor: "ann", Action: moderation.AuditApproved, ItemID: "b", UserID: "u2", ChannelCID: "c:1"},
				{At: now.Add(-90 * time.Minute), Actor: "modgate", Action: moderation.AuditExpired, ItemID: "c", UserID: "u1", ChannelCID: "c:2"},
				{At: now.Add(-time.Hour), Actor: "bob", Action: moderation.AuditRejected, ItemID: "d", UserID: "u1", ChannelCID: "c:1"},
				{At: now.Add(-30 * time.Minute), Actor: "ann", Action: moderation.AuditReloaded, ItemID: "e"},
				{At: now.Add(-time.Minute), Actor: "ann", Action: moderation.AuditApproved, ItemID: "f"},
			}
			for _, e := range entries {
				if err := a.Record(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			for _, tc := range []struct {
				name string
				f    moderation.AuditFilter
				want string
			}{
				{"actor", moderation.AuditFilter{Actor: "ann"}, "[f e b]"},
				{"action", moderation.AuditFilter{Action: moderation.AuditApproved}, "[f b]"},
				{"since", moderation.AuditFilter{Since: now.Add(-100 * time.Minute)}, "[f e d c]"},
				{"all three", moderation.AuditFilter{Actor: "ann", Action: moderation.AuditApproved, Since: now.Add(-time.Hour)}, "[f]"},
				{"sender", moderation.AuditFilter{UserID: "u1"}, "[d c a]"},
				{"channel", moderation.AuditFilter{ChannelCID: "c:1"}, "[d b a]"},
				{"sender and channel", moderation.AuditFilter{UserID: "u1", ChannelCID: "c:1"}, "[d a]"},
				{"in pages of one", moderation.AuditFilter{Actor: "modgate", Limit: 1}, "[c a]"},
				{"nobody", moderation.AuditFilter{Actor: "nobody"}, "[]"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					if got := fmt.Sprint(listAll(t, a, tc.f)); got != tc.want {
						t.Fatalf("%s, want %s", got, tc.want)
					}
				})
			}
		})
	}
}
