package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The deployment files are checked against the Compose specification and
// the Kubernetes API types in the deploy module (cd deploy && go test
// ./...); these tests hold them to what this binary reads and does.

// TestDeployFilesNameKnownVariables: every variable the Dockerfile, the
// Compose file and the Kubernetes manifests set is one modgate reads.
func TestDeployFilesNameKnownVariables(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join("..", "..", "deploy", "kubernetes", "*"))
	files = append(files, filepath.Join("..", "..", "deploy", "compose.yaml"), filepath.Join("..", "..", "Dockerfile"))
	name := regexp.MustCompile(`\b(MODGATE_[A-Z0-9_]+|REDIS_URL|STREAM_[A-Z_]+)\b`)
	seen := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range name.FindAllString(string(data), -1) {
			seen++
			if v, ok := known(n); !ok || v.who == forTests {
				t.Errorf("%s names %s, which modgate serve does not read", f, n)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("only %d variables named in the deployment files", seen)
	}
}

// TestDeployRulesAreTheShippedRules: the rules the Compose file mounts
// and the ConfigMap's are the shipped rules.yaml.
func TestDeployRulesAreTheShippedRules(t *testing.T) {
	t.Parallel()
	shipped, err := os.ReadFile(shippedRules(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, copy := range []string{"deploy/rules/rules.yaml", "deploy/kubernetes/rules.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", copy))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, shipped) {
			t.Errorf("%s is not rules.yaml: cp rules.yaml %s", copy, copy)
		}
	}
}

// TestKubernetesGraceCoversTheDrain: the pods' grace period leaves room
// for MODGATE_DRAIN and for requests in flight to finish.
func TestKubernetesGraceCoversTheDrain(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Spec struct {
			Template struct {
				Spec struct {
					Grace      int `yaml:"terminationGracePeriodSeconds"`
					Containers []struct {
						Env []struct{ Name, Value string }
					}
				}
			}
		}
	}
	if err := yaml.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	env := func(name string) string {
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			if e.Name == name {
				return e.Value
			}
		}
		return ""
	}
	c, err := loadConfig(environment{"MODGATE_DRAIN": env("MODGATE_DRAIN")}.get)
	if err != nil {
		t.Fatal(err)
	}
	grace := time.Duration(d.Spec.Template.Spec.Grace) * time.Second
	if need := c.drain + shutdownTimeout + 5*time.Second; grace < need {
		t.Fatalf("terminationGracePeriodSeconds %s < MODGATE_DRAIN %s + %s for requests in flight + 5s", grace, c.drain, shutdownTimeout)
	}
}

// TestDockerfileBuildsWithGoModsToolchain: the build image is the Go
// release go.mod names, no other Go is fetched, and the health check is
// modgate's own.
func TestDockerfileBuildsWithGoModsToolchain(t *testing.T) {
	t.Parallel()
	gomod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if goLine == nil {
		t.Fatal("go.mod has no go line")
	}
	docker, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(docker)
	for _, want := range []string{
		"FROM golang:" + string(goLine[1]) + "-bookworm AS build\n",
		"GOTOOLCHAIN=local",
		`HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/modgate", "healthcheck"]`,
		"-X main.version=${VERSION} -X main.revision=${REVISION} -X main.buildTime=${BUILD_TIME}",
		"USER nonroot:nonroot",
	} {
		if !strings.Contains(df, want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
}
