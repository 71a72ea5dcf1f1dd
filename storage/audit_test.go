package storage

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/modgate/modgate/moderation"
)

func TestAuditLogPagesNewestFirst(t *testing.T) {
	logs := []struct {
		name string
		new  func(t *testing.T) moderation.AuditLog
	}{
		{"memory", func(t *testing.T) moderation.AuditLog { return NewMemoryAudit(20) }},
		{"redis", func(t *testing.T) moderation.AuditLog { return newTestRedis(t).Audit(0) }},
	}
	for _, lg := range logs {
		t.Run(lg.name, func(t *testing.T) {
			a := lg.new(t)
			ctx := context.Background()
			for i := range 25 {
				if err := a.Record(ctx, moderation.AuditEntry{At: t0.Add(time.Duration(i) * time.Second), Actor: "ann",
					Action: "approved", ItemID: fmt.Sprint("m", i), Rules: []string{"r"}}); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			cursor := ""
			for {
				page, next, err := a.List(ctx, cursor, 8)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range page {
					got = append(got, e.ItemID)
				}
				if next == "" {
					break
				}
				cursor = next
			}
			want := 25
			if lg.name == "memory" {
				want = 20 // the ring keeps the newest 20
			}
			if len(got) != want || got[0] != "m24" || got[len(got)-1] != fmt.Sprint("m", 25-want) {
				t.Fatalf("entries %v", got)
			}
			if _, _, err := a.List(ctx, "not-a-cursor", 5); !errors.Is(err, moderation.ErrInvalid) {
				t.Fatalf("bad cursor: %v", err)
			}
		})
	}
}
