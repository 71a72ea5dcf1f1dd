package deploy

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

func loadCompose(t *testing.T, env []string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"compose.yaml"}, cli.WithWorkingDirectory("."), cli.WithEnv(env),
		cli.WithName("modgate"))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

// TestComposeFile: compose.yaml is valid against the Compose
// specification and brings up modgate with an append-only Redis, the rules
// from the host, and health checks, modgate waiting for Redis.
func TestComposeFile(t *testing.T) {
	p, err := loadCompose(t, []string{"STREAM_API_KEY=key", "STREAM_API_SECRET=secret"})
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	m, ok := p.Services["modgate"]
	if !ok {
		t.Fatal("no modgate service")
	}
	r, ok := p.Services["redis"]
	if !ok {
		t.Fatal("no redis service")
	}
	if !slices.Contains(r.Command, "--appendonly") || r.Command[slices.Index(r.Command, "--appendonly")+1] != "yes" {
		t.Errorf("redis is not append-only: %v", r.Command)
	}
	if len(r.Volumes) != 1 || r.Volumes[0].Type != types.VolumeTypeVolume || r.Volumes[0].Target != "/data" {
		t.Errorf("redis keeps its data in no volume: %+v", r.Volumes)
	}
	for _, s := range []types.ServiceConfig{m, r} {
		if s.HealthCheck == nil || len(s.HealthCheck.Test) < 2 || s.HealthCheck.Disable {
			t.Errorf("%s: no health check", s.Name)
		}
	}
	if got := strings.Join(m.HealthCheck.Test, " "); got != "CMD /modgate healthcheck" {
		t.Errorf("modgate's health check: %q", got)
	}
	if d, ok := m.DependsOn["redis"]; !ok || d.Condition != types.ServiceConditionHealthy {
		t.Errorf("modgate does not wait for a healthy Redis: %+v", m.DependsOn)
	}
	env := func(k string) string {
		if v := m.Environment[k]; v != nil {
			return *v
		}
		return ""
	}
	if env("REDIS_URL") != "redis://redis:6379/0" || env("STREAM_API_SECRET") != "secret" {
		t.Errorf("modgate's environment: %v", m.Environment)
	}
	var rules *types.ServiceVolumeConfig
	for i, v := range m.Volumes {
		if v.Target == "/etc/modgate/rules" {
			rules = &m.Volumes[i]
		}
	}
	if rules == nil || rules.Type != types.VolumeTypeBind || !rules.ReadOnly || !strings.HasSuffix(rules.Source, "/deploy/rules") {
		t.Fatalf("the rules are not a read-only folder from the host: %+v", m.Volumes)
	}
	if env("MODGATE_RULES") != "/etc/modgate/rules/rules.yaml" {
		t.Errorf("MODGATE_RULES %q is not in the mounted folder", env("MODGATE_RULES"))
	}
	if !m.ReadOnly {
		t.Error("modgate's root filesystem is writable")
	}
	if m.StopGracePeriod == nil || time.Duration(*m.StopGracePeriod) < 20*time.Second {
		t.Errorf("stop_grace_period %v leaves no room for the drain (5s) and requests in flight (15s)", m.StopGracePeriod)
	}
	published := map[string]string{}
	for _, port := range m.Ports {
		published[port.Published] = port.HostIP
	}
	if published["8080"] != "" || published["9090"] != "127.0.0.1" {
		t.Errorf("the hooks should be published, the admin address on the loopback only: %+v", m.Ports)
	}
}

// TestComposeFileNeedsTheSecret: without the Stream key and secret
// compose says which variable is missing rather than starting a modgate
// that refuses every call.
func TestComposeFileNeedsTheSecret(t *testing.T) {
	_, err := loadCompose(t, []string{"STREAM_API_KEY=key"})
	if err == nil || !strings.Contains(err.Error(), "STREAM_API_SECRET") {
		t.Fatalf("no error naming STREAM_API_SECRET: %v", err)
	}
}
