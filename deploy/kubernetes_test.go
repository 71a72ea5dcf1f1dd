package deploy

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// rendered is kubernetes/ as kustomize renders it (kubectl kustomize),
// each object decoded strictly into its Kubernetes API type: a field the
// type does not have, or a value of the wrong type, is an error.
type rendered struct {
	deployment appsv1.Deployment
	services   map[string]corev1.Service
	configMaps map[string]corev1.ConfigMap
	secrets    map[string]corev1.Secret
	pdb        policyv1.PodDisruptionBudget
	hpa        autoscalingv2.HorizontalPodAutoscaler
	kinds      []string
}

func render(t *testing.T) *rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), "kubernetes")
	if err != nil {
		t.Fatalf("kustomize: %v", err)
	}
	r := &rendered{services: map[string]corev1.Service{}, configMaps: map[string]corev1.ConfigMap{}, secrets: map[string]corev1.Secret{}}
	for _, obj := range res.Resources() {
		data, err := obj.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		kind := obj.GetApiVersion() + " " + obj.GetKind()
		r.kinds = append(r.kinds, kind+" "+obj.GetName())
		var into any
		switch kind {
		case "apps/v1 Deployment":
			into = &r.deployment
		case "v1 Service":
			var s corev1.Service
			strict(t, kind, data, &s)
			r.services[s.Name] = s
			continue
		case "v1 ConfigMap":
			var c corev1.ConfigMap
			strict(t, kind, data, &c)
			r.configMaps[c.Name] = c
			continue
		case "v1 Secret":
			var s corev1.Secret
			strict(t, kind, data, &s)
			r.secrets[s.Name] = s
			continue
		case "policy/v1 PodDisruptionBudget":
			into = &r.pdb
		case "autoscaling/v2 HorizontalPodAutoscaler":
			into = &r.hpa
		default:
			t.Fatalf("an object of a kind this test does not know: %s", kind)
		}
		strict(t, kind, data, into)
	}
	return r
}

func strict(t *testing.T, kind string, data []byte, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		t.Fatalf("%s: %v\n%s", kind, err, data)
	}
}

// TestKustomization: the manifests render, every object is valid for its
// API type, and together they run modgate as it needs: two pods at least,
// non-root on a read-only filesystem with resources, probes on the paths
// modgate serves, a grace period longer than its drain, the rules from the
// ConfigMap as a folder (so that updates reach the pods), the secrets from
// the Secret, and selectors that find the pods.
func TestKustomization(t *testing.T) {
	r := render(t)
	t.Logf("rendered: %s", strings.Join(r.kinds, "; "))
	d := r.deployment
	pod := d.Spec.Template.Spec
	labels := d.Spec.Template.Labels
	if d.Name != "modgate" || len(pod.Containers) != 1 {
		t.Fatalf("deployment %q with %d containers", d.Name, len(pod.Containers))
	}
	c := pod.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}

	// Two pods at least: the autoscaler's floor, the Deployment leaving the
	// count to it (or naming two or more).
	if r.hpa.Spec.MinReplicas == nil || *r.hpa.Spec.MinReplicas < 2 || r.hpa.Spec.MaxReplicas < *r.hpa.Spec.MinReplicas {
		t.Errorf("autoscaler: min %v max %d", r.hpa.Spec.MinReplicas, r.hpa.Spec.MaxReplicas)
	}
	if ref := r.hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != d.Name || ref.APIVersion != "apps/v1" {
		t.Errorf("the autoscaler scales %+v", ref)
	}
	if d.Spec.Replicas != nil && *d.Spec.Replicas < 2 {
		t.Errorf("deployment replicas %d", *d.Spec.Replicas)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("a rollout may take pods away before new ones are ready: %+v", d.Spec.Strategy)
	}

	// Non-root, read-only, no privileges, resources.
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod security context %+v", psc)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
		len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container security context %+v", sc)
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := c.Resources.Requests[name], c.Resources.Limits[name]
		if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
			t.Errorf("%s: request %s, limit %s", name, req.String(), lim.String())
		}
	}
	if memLimit, goLimit := c.Resources.Limits[corev1.ResourceMemory], env["MODGATE_MEMORY_LIMIT"]; goLimit == "" ||
		!below(goLimit, memLimit.Value()) {
		t.Errorf("MODGATE_MEMORY_LIMIT %q should be set below the memory limit %s", goLimit, memLimit.String())
	}

	// Probes on modgate's paths and its hooks' port.
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if fmt.Sprint(":", ports["hooks"]) != env["MODGATE_ADDR"] || fmt.Sprint(":", ports["admin"]) != env["MODGATE_ADMIN_ADDR"] {
		t.Errorf("ports %v against MODGATE_ADDR %q and MODGATE_ADMIN_ADDR %q", ports, env["MODGATE_ADDR"], env["MODGATE_ADMIN_ADDR"])
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port != intstr.FromString("hooks") {
			t.Errorf("%s probe: %+v", p.name, p.probe)
		}
	}

	// The grace period holds the drain and the requests in flight (15 s).
	drain, err := time.ParseDuration(env["MODGATE_DRAIN"])
	if err != nil {
		t.Fatalf("MODGATE_DRAIN %q: %v", env["MODGATE_DRAIN"], err)
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second < drain+15*time.Second+5*time.Second {
		t.Errorf("terminationGracePeriodSeconds %v does not cover MODGATE_DRAIN %s, 15s for requests in flight and 5s to spare", g, drain)
	}
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Exec != nil {
		t.Errorf("an exec preStop hook cannot run in an image without a shell: %+v", c.Lifecycle.PreStop)
	}

	// The rules: a ConfigMap of a fixed name, mounted as a folder.
	var rulesVolume *corev1.Volume
	for i, v := range pod.Volumes {
		if v.ConfigMap != nil {
			rulesVolume = &pod.Volumes[i]
		}
	}
	if rulesVolume == nil {
		t.Fatal("no ConfigMap volume for the rules")
	}
	cm, ok := r.configMaps[rulesVolume.ConfigMap.Name]
	if !ok || cm.Data["rules.yaml"] == "" {
		t.Fatalf("the rules volume names ConfigMap %q, which holds no rules.yaml", rulesVolume.ConfigMap.Name)
	}
	if cm.Name != "modgate-rules" {
		t.Errorf("the rules ConfigMap is %q: with a content hash in its name, an update restarts the pods instead of reloading", cm.Name)
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		if m.Name == rulesVolume.Name {
			mounted = true
			if m.SubPath != "" {
				t.Errorf("the rules are mounted with subPath %q: such a mount never sees the ConfigMap's updates", m.SubPath)
			}
			if !strings.HasPrefix(env["MODGATE_RULES"], m.MountPath+"/") || !m.ReadOnly {
				t.Errorf("MODGATE_RULES %q is not in the read-only mount %q", env["MODGATE_RULES"], m.MountPath)
			}
		}
	}
	if !mounted {
		t.Error("the rules volume is not mounted")
	}
	shipped, err := os.ReadFile("../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["rules.yaml"] != string(shipped) {
		t.Error("kubernetes/rules.yaml is not the shipped rules.yaml: copy it over (cp rules.yaml deploy/kubernetes/)")
	}

	// The secrets, from the Secret.
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil {
		t.Fatalf("envFrom %+v", c.EnvFrom)
	}
	secret, ok := r.secrets[c.EnvFrom[0].SecretRef.Name]
	if !ok {
		t.Fatalf("the pods read Secret %q, which is not rendered", c.EnvFrom[0].SecretRef.Name)
	}
	for _, k := range []string{"STREAM_API_KEY", "STREAM_API_SECRET", "MODGATE_ADMIN_TOKENS", "REDIS_URL"} {
		if _, ok := secret.Data[k]; !ok {
			t.Errorf("the Secret has no %s", k)
		}
		if _, ok := env[k]; ok {
			t.Errorf("%s is in the Deployment's plain environment", k)
		}
	}

	// Selectors find the pods.
	if !subset(d.Spec.Selector.MatchLabels, labels) || !subset(r.pdb.Spec.Selector.MatchLabels, labels) || len(r.pdb.Spec.Selector.MatchLabels) == 0 {
		t.Errorf("selectors: deployment %v, disruption budget %v, pod labels %v", d.Spec.Selector, r.pdb.Spec.Selector, labels)
	}
	if r.pdb.Spec.MaxUnavailable == nil && r.pdb.Spec.MinAvailable == nil {
		t.Error("the disruption budget allows anything")
	}
	for name, port := range map[string]string{"modgate": "hooks", "modgate-admin": "admin"} {
		s, ok := r.services[name]
		if !ok || len(s.Spec.Selector) == 0 || !subset(s.Spec.Selector, labels) || len(s.Spec.Ports) != 1 ||
			s.Spec.Ports[0].TargetPort != intstr.FromString(port) {
			t.Errorf("service %s: %+v", name, s.Spec)
		}
		if s.Spec.Type != "" && s.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("service %s is %s: exposing it is the ingress's choice", name, s.Spec.Type)
		}
	}
}

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

// below reports whether a size such as 192MiB is under limit bytes.
func below(size string, limit int64) bool {
	var n int64
	var unit string
	if _, err := fmt.Sscanf(size, "%d%s", &n, &unit); err != nil {
		return false
	}
	mult := map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]
	return mult > 0 && n*mult < limit
}
