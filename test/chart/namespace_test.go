package chart

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestInstallNamespaceMovesEverything installs into namespace macpool, with
// the chart's namespace.name and with a kustomization's namespace: over the
// kustomize install: every namespaced object moves there, no object still
// names kubemacpool-system (the APIService's and the webhooks' Service, the
// ServiceAccount subjects, the ServiceMonitor), and the server can still
// read the CAs in kube-system.
func TestInstallNamespaceMovesEverything(t *testing.T) {
	const namespace = "macpool"
	for name, objects := range map[string][]*unstructured.Unstructured{
		"chart":        helmTemplate(t, []string{"ci/namespace-values.yaml", "ci/opt-in-values.yaml"}),
		"chart ha":     helmTemplate(t, []string{"ci/namespace-values.yaml", "ci/ha-values.yaml"}),
		"kustomize":    kustomizeWith(t, namespace, []string{"."}, []string{"components/monitoring", "components/opt-in"}),
		"kustomize ha": kustomizeWith(t, namespace, []string{"overlays/ha"}, []string{"components/monitoring"}),
	} {
		t.Run(name, func(t *testing.T) {
			for _, object := range objects {
				if object.GetNamespace() != "" && object.GetNamespace() != namespace {
					t.Errorf("%s is not in %s", key(object), namespace)
				}
				data, err := json.Marshal(object.Object)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(data), "kubemacpool-system") {
					t.Errorf("%s still names kubemacpool-system: %s", key(object), data)
				}
			}
			if !canReadAuthenticationConfig(t, objects, namespace) {
				t.Errorf("no binding lets ServiceAccount %s/kubemacpool-apiserver read ConfigMap kube-system/extension-apiserver-authentication", namespace)
			}
		})
	}
}

// TestCanReadAuthenticationConfigNeedsKubeSystem keeps the check above
// honest: the base's former RoleBinding, moved out of kube-system by a
// namespace:, grants nothing there.
func TestCanReadAuthenticationConfigNeedsKubeSystem(t *testing.T) {
	binding := func(namespace string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]interface{}{
			"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
			"metadata": map[string]interface{}{"name": "reader", "namespace": namespace},
			"roleRef":  map[string]interface{}{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "extension-apiserver-authentication-reader"},
			"subjects": []interface{}{map[string]interface{}{"kind": "ServiceAccount", "name": "kubemacpool-apiserver", "namespace": "macpool"}},
		}}
	}
	if !canReadAuthenticationConfig(t, []*unstructured.Unstructured{binding("kube-system")}, "macpool") {
		t.Error("the built-in Role bound in kube-system is not recognised")
	}
	if canReadAuthenticationConfig(t, []*unstructured.Unstructured{binding("macpool")}, "macpool") {
		t.Error("a RoleBinding outside kube-system is taken to grant kube-system's ConfigMap")
	}
}

// canReadAuthenticationConfig tells whether the objects bind the server's
// ServiceAccount to get, list and watch kube-system/extension-apiserver-authentication:
// the built-in Role of that name bound in kube-system, or a ClusterRole
// among the objects, bound cluster-wide.
func canReadAuthenticationConfig(t *testing.T, objects []*unstructured.Unstructured, namespace string) bool {
	t.Helper()
	clusterRoles := map[string]*rbacv1.ClusterRole{}
	for _, object := range objects {
		if object.GetKind() == "ClusterRole" {
			role := &rbacv1.ClusterRole{}
			convert(t, object, role)
			clusterRoles[role.Name] = role
		}
	}
	server := rbacv1.Subject{Kind: "ServiceAccount", Name: "kubemacpool-apiserver", Namespace: namespace}
	for _, object := range objects {
		if object.GetKind() != "ClusterRoleBinding" && object.GetKind() != "RoleBinding" {
			continue
		}
		binding := &rbacv1.RoleBinding{}
		convert(t, object, binding)
		if !slices.Contains(binding.Subjects, server) {
			continue
		}
		switch {
		case binding.Namespace == "kube-system" && binding.RoleRef.Kind == "Role" &&
			binding.RoleRef.Name == "extension-apiserver-authentication-reader":
			return true
		case object.GetKind() == "ClusterRoleBinding" && binding.RoleRef.Kind == "ClusterRole":
			if role, ok := clusterRoles[binding.RoleRef.Name]; ok && grantsAuthenticationConfig(role.Rules) {
				return true
			}
		}
	}
	return false
}

func grantsAuthenticationConfig(rules []rbacv1.PolicyRule) bool {
	for _, verb := range []string{"get", "list", "watch"} {
		granted := false
		for _, rule := range rules {
			if slices.Contains(rule.APIGroups, "") && slices.Contains(rule.Resources, "configmaps") &&
				(len(rule.ResourceNames) == 0 || slices.Contains(rule.ResourceNames, "extension-apiserver-authentication")) &&
				slices.Contains(rule.Verbs, verb) {
				granted = true
			}
		}
		if !granted {
			return false
		}
	}
	return true
}

func convert(t *testing.T, object *unstructured.Unstructured, into interface{}) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(object.Object, into, true); err != nil {
		t.Fatalf("%s: %v", key(object), err)
	}
}
