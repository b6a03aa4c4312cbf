package chart

import (
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestValuesChangeTheirObjects renders the chart with each value that has
// no kustomize counterpart and checks the objects it changes.
func TestValuesChangeTheirObjects(t *testing.T) {
	for _, tc := range []struct {
		name        string
		valuesFiles []string
		sets        []string
		check       func(t *testing.T, objects []*unstructured.Unstructured)
	}{{
		name: "image",
		sets: []string{"image.repository=registry.example/kmp/server", "image.tag=v1.2.3", "image.pullPolicy=IfNotPresent",
			"rbacProxy.image.tag=v0.19.0"},
		check: func(t *testing.T, objects []*unstructured.Unstructured) {
			pod := deploymentOf(t, objects).Spec.Template.Spec
			server, proxy := containerOf(t, pod, "kubemacpool-apiserver"), containerOf(t, pod, "kube-rbac-proxy")
			expect(t, "server image", server.Image, "registry.example/kmp/server:v1.2.3")
			expect(t, "server pull policy", server.ImagePullPolicy, corev1.PullIfNotPresent)
			expect(t, "proxy image", proxy.Image, "quay.io/brancz/kube-rbac-proxy:v0.19.0")
			expect(t, "proxy pull policy", proxy.ImagePullPolicy, corev1.PullPolicy(""))
		},
	}, {
		name: "resources",
		sets: []string{"resources.requests.memory=1Gi", "resources.limits.memory=2Gi", "rbacProxy.resources.limits.cpu=50m"},
		check: func(t *testing.T, objects []*unstructured.Unstructured) {
			pod := deploymentOf(t, objects).Spec.Template.Spec
			server, proxy := containerOf(t, pod, "kubemacpool-apiserver"), containerOf(t, pod, "kube-rbac-proxy")
			expectQuantity(t, "server memory request", server.Resources.Requests.Memory(), "1Gi")
			expectQuantity(t, "server cpu request", server.Resources.Requests.Cpu(), "100m")
			expectQuantity(t, "server memory limit", server.Resources.Limits.Memory(), "2Gi")
			expectQuantity(t, "proxy cpu limit", proxy.Resources.Limits.Cpu(), "50m")
		},
	}, {
		name: "webhook authorization disabled, and extra args after the chart's",
		sets: []string{"webhookAuthorization.mode=Disabled", "extraArgs={--v=4,--etcd-compaction-interval=10m}"},
		check: func(t *testing.T, objects []*unstructured.Unstructured) {
			args := containerOf(t, deploymentOf(t, objects).Spec.Template.Spec, "kubemacpool-apiserver").Args
			expect(t, "last args", strings.Join(args[len(args)-3:], " "),
				"--webhook-authorization=Disabled --v=4 --etcd-compaction-interval=10m")
		},
	}, {
		name: "webhook caller",
		sets: []string{"webhookAuthorization.callerUser=kube-apiserver-webhooks"},
		check: func(t *testing.T, objects []*unstructured.Unstructured) {
			binding := &rbacv1.ClusterRoleBinding{}
			convert(t, objectOf(t, objects, "ClusterRoleBinding", "kubemacpool-webhook-caller"), binding)
			expect(t, "subjects", len(binding.Subjects), 1)
			expect(t, "subject", binding.Subjects[0], rbacv1.Subject{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "kube-apiserver-webhooks"})
		},
	}, {
		name: "audit log to a file",
		sets: []string{"audit.logPath=/var/log/kubemacpool/audit.log"},
		check: func(t *testing.T, objects []*unstructured.Unstructured) {
			args := strings.Join(containerOf(t, deploymentOf(t, objects).Spec.Template.Spec, "kubemacpool-apiserver").Args, " ")
			if !strings.Contains(args, "--audit-policy-file=/etc/kubemacpool/audit/policy.yaml --audit-log-path=/var/log/kubemacpool/audit.log") {
				t.Errorf("args %q lack the audit flags", args)
			}
			objectOf(t, objects, "ConfigMap", "kubemacpool-audit-policy")
		},
	}, {
		name: "audit off",
		sets: []string{"audit.enabled=false"},
		check: func(t *testing.T, objects []*unstructured.Unstructured) {
			pod := deploymentOf(t, objects).Spec.Template.Spec
			for _, arg := range containerOf(t, pod, "kubemacpool-apiserver").Args {
				if strings.HasPrefix(arg, "--audit-") {
					t.Errorf("audit.enabled=false passes %s", arg)
				}
			}
			for _, volume := range pod.Volumes {
				if volume.Name == "audit-policy" {
					t.Error("audit.enabled=false mounts the audit policy")
				}
			}
			for _, object := range objects {
				if object.GetKind() == "ConfigMap" && object.GetName() == "kubemacpool-audit-policy" {
					t.Error("audit.enabled=false renders the audit policy")
				}
			}
		},
	}, {
		name: "single-node storage",
		sets: []string{"singleNode.storage=5Gi", "singleNode.storageClassName=fast"},
		check: func(t *testing.T, objects []*unstructured.Unstructured) {
			claim := &corev1.PersistentVolumeClaim{}
			convert(t, objectOf(t, objects, "PersistentVolumeClaim", "kubemacpool-etcd"), claim)
			expectQuantity(t, "storage", claim.Spec.Resources.Requests.Storage(), "5Gi")
			expect(t, "storage class", *claim.Spec.StorageClassName, "fast")
		},
	}, {
		name:        "ha without etcd TLS, five replicas",
		valuesFiles: []string{"ci/ha-values.yaml"},
		sets:        []string{"ha.etcdClientSecret=", "ha.replicas=5", "ha.minAvailable=3", "ha.etcdServers={http://etcd:2379}"},
		check: func(t *testing.T, objects []*unstructured.Unstructured) {
			deployment := deploymentOf(t, objects)
			expect(t, "replicas", *deployment.Spec.Replicas, int32(5))
			server := containerOf(t, deployment.Spec.Template.Spec, "kubemacpool-apiserver")
			for _, arg := range server.Args {
				if strings.HasPrefix(arg, "--etcd-") && arg != "--etcd-servers=$(ETCD_SERVERS)" {
					t.Errorf("etcd without TLS gets %s", arg)
				}
			}
			for _, volume := range deployment.Spec.Template.Spec.Volumes {
				if volume.Name == "etcd-client" {
					t.Error("etcd without TLS mounts the client certificate")
				}
			}
			configMap := &corev1.ConfigMap{}
			convert(t, objectOf(t, objects, "ConfigMap", "kubemacpool-etcd"), configMap)
			expect(t, "servers", configMap.Data["servers"], "http://etcd:2379")
		},
	}, {
		name: "one webhook opt-in",
		sets: []string{"webhooks.pods.mode=opt-in"},
		check: func(t *testing.T, objects []*unstructured.Unstructured) {
			config := objectOf(t, objects, "MutatingWebhookConfiguration", "kubemacpool-mutator")
			webhooks, _, _ := unstructured.NestedSlice(config.Object, "webhooks")
			for i, want := range []string{"In allocate", "NotIn ignore"} {
				expressions, _, _ := unstructured.NestedSlice(webhooks[i].(map[string]interface{}), "namespaceSelector", "matchExpressions")
				first := expressions[0].(map[string]interface{})
				got := first["operator"].(string) + " " + first["values"].([]interface{})[0].(string)
				expect(t, "webhook "+first["key"].(string), got, want)
			}
		},
	}, {
		name: "namespace left to its owner, Prometheus elsewhere",
		sets: []string{"namespace.create=false", "metrics.allowedNamespaces={observability}", "monitoring.enabled=true",
			"monitoring.prometheusServiceAccount.name=prometheus", "monitoring.prometheusServiceAccount.namespace=observability"},
		check: func(t *testing.T, objects []*unstructured.Unstructured) {
			for _, object := range objects {
				if object.GetKind() == "Namespace" {
					t.Error("namespace.create=false renders a Namespace")
				}
			}
			binding := &rbacv1.RoleBinding{}
			convert(t, objectOf(t, objects, "RoleBinding", "kubemacpool-prometheus"), binding)
			expect(t, "Prometheus", binding.Subjects, []rbacv1.Subject{{Kind: "ServiceAccount", Name: "prometheus", Namespace: "observability"}})
			policy := objectOf(t, objects, "NetworkPolicy", "kubemacpool-allow-ingress-to-metrics-endpoint")
			ingress, _, _ := unstructured.NestedSlice(policy.Object, "spec", "ingress")
			from, _, _ := unstructured.NestedSlice(ingress[0].(map[string]interface{}), "from")
			expressions, _, _ := unstructured.NestedSlice(from[0].(map[string]interface{}), "namespaceSelector", "matchExpressions")
			expect[interface{}](t, "metrics namespaces", expressions[0].(map[string]interface{})["values"], []interface{}{"observability"})
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, helmTemplate(t, tc.valuesFiles, tc.sets...))
		})
	}
}

// TestBadValuesAreRefused: values.schema.json (and the chart's own checks)
// refuse values that would render a broken install, naming the value.
func TestBadValuesAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name        string
		valuesFiles []string
		sets        []string
		wantError   []string
	}{
		{name: "unknown profile", sets: []string{"profile=triple"}, wantError: []string{"profile", "single-node", "ha"}},
		{name: "ha without etcd", sets: []string{"profile=ha"}, wantError: []string{"etcdServers", "minItems"}},
		{name: "etcd URL list in one string", valuesFiles: []string{"ci/ha-values.yaml"},
			sets: []string{"ha.etcdServers={https://a:2379\\,https://b:2379}"}, wantError: []string{"etcdServers"}},
		{name: "a budget that blocks every drain", valuesFiles: []string{"ci/ha-values.yaml"},
			sets: []string{"ha.minAvailable=3"}, wantError: []string{"ha.minAvailable (3) must be below ha.replicas (3)"}},
		{name: "unknown webhook mode", sets: []string{"webhooks.pods.mode=allocate"}, wantError: []string{"webhooks", "pods", "mode"}},
		{name: "misspelt value", sets: []string{"replica=3"}, wantError: []string{"replica"}},
		{name: "webhook authorization off", sets: []string{"webhookAuthorization.mode=Off"}, wantError: []string{"webhookAuthorization", "mode"}},
		{name: "a namespace that is no DNS label", sets: []string{"namespace.name=Kube_MacPool"}, wantError: []string{"namespace", "name"}},
		{name: "an extra argument that is no flag", sets: []string{"extraArgs={v=4}"}, wantError: []string{"extraArgs"}},
		{name: "an image tag with a digest", sets: []string{"image.tag=sha256:abc"}, wantError: []string{"image", "tag"}},
		{name: "an audit log nowhere", sets: []string{"audit.logPath="}, wantError: []string{"audit", "logPath"}},
		{name: "audit as a string", sets: []string{"audit.enabled=maybe"}, wantError: []string{"audit", "enabled"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"template", "kubemacpool", "charts/kubemacpool"}
			for _, file := range tc.valuesFiles {
				args = append(args, "--values", filepath.Join("charts/kubemacpool", file))
			}
			for _, set := range tc.sets {
				args = append(args, "--set", set)
			}
			cmd := exec.Command(binary(t, "helm"), args...)
			cmd.Dir = repoRoot
			output, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("helm template %v succeeded", tc.sets)
			}
			for _, want := range tc.wantError {
				if !strings.Contains(string(output), want) {
					t.Errorf("the error does not name %q:\n%s", want, output)
				}
			}
		})
	}
}

func objectOf(t *testing.T, objects []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, object := range objects {
		if object.GetKind() == kind && object.GetName() == name {
			return object
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return nil
}

func deploymentOf(t *testing.T, objects []*unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	deployment := &appsv1.Deployment{}
	convert(t, objectOf(t, objects, "Deployment", "kubemacpool-apiserver"), deployment)
	return deployment
}

func containerOf(t *testing.T, pod corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, container := range pod.Containers {
		if container.Name == name {
			return container
		}
	}
	t.Fatalf("no container %s", name)
	return corev1.Container{}
}

func expect[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func expectQuantity(t *testing.T, what string, got *resource.Quantity, want string) {
	t.Helper()
	if got.Cmp(resource.MustParse(want)) != 0 {
		t.Errorf("%s: got %s, want %s", what, got, want)
	}
}
