package chart

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The only ways the chart's objects may differ from the kustomize
// install's (docs/deployment.md, "Helm", lists them too). Anything else,
// an object more or less, a field, a list's order, fails the test.
var (
	// helmLabels are the release's labels on every object's metadata
	// (never in selectors or Pod templates, which stay as kustomize has
	// them, so a Deployment's immutable selector survives a switch).
	helmLabels = []string{"app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "helm.sh/chart"}
	// helmAnnotations, by object: helm uninstall keeps the embedded etcd's
	// data, where kubectl delete -k removes it.
	helmAnnotations = map[string][]string{
		" PersistentVolumeClaim %s/kubemacpool-etcd": {"helm.sh/resource-policy"},
	}
)

// profiles pairs each values file of the chart with the kustomize install it
// must equal.
var profiles = []struct {
	name        string
	valuesFiles []string
	// kustomization is a directory of artifacts/deploy, or, with namespace
	// set, the resources of a kustomization that sets it.
	kustomization string
	namespace     string
	components    []string
}{
	{name: "default values = artifacts/deploy (single-node, opt-out)", kustomization: "."},
	{name: "opt-in", valuesFiles: []string{"ci/opt-in-values.yaml"}, kustomization: "overlays/opt-in"},
	{name: "ha", valuesFiles: []string{"ci/ha-values.yaml"}, kustomization: "overlays/ha"},
	{name: "monitoring", valuesFiles: []string{"ci/monitoring-values.yaml"}, kustomization: "overlays/monitoring"},
	{name: "ha with opt-in and monitoring", valuesFiles: []string{"ci/ha-values.yaml", "ci/opt-in-values.yaml", "ci/monitoring-values.yaml"},
		kustomization: "overlays/ha", components: []string{"components/opt-in", "components/monitoring"}},
	{name: "another namespace = kustomize namespace:", valuesFiles: []string{"ci/namespace-values.yaml"},
		kustomization: ".", namespace: "macpool", components: []string{"components/monitoring"}},
}

func TestChartRendersTheKustomizeInstall(t *testing.T) {
	for _, profile := range profiles {
		t.Run(profile.name, func(t *testing.T) {
			chart := helmTemplate(t, profile.valuesFiles)
			var installed []*unstructured.Unstructured
			if profile.namespace != "" || len(profile.components) > 0 {
				installed = kustomizeWith(t, profile.namespace, []string{profile.kustomization}, profile.components)
			} else {
				installed = kustomize(t, "artifacts/deploy/"+profile.kustomization)
			}
			namespace := "kubemacpool-system"
			if profile.namespace != "" {
				namespace = profile.namespace
			}
			compare(t, namespace, byKey(t, chart), byKey(t, installed))
		})
	}
}

// compare fails for every object only one side renders and for every field
// where the two differ, after removing the allowed differences.
func compare(t *testing.T, namespace string, chart, installed map[string]*unstructured.Unstructured) {
	t.Helper()
	for _, key := range sortedKeys(installed) {
		if _, ok := chart[key]; !ok {
			t.Errorf("the kustomize install renders %s, the chart does not", key)
		}
	}
	for _, key := range sortedKeys(chart) {
		want, ok := installed[key]
		if !ok {
			t.Errorf("the chart renders %s, the kustomize install does not", key)
			continue
		}
		got := chart[key].DeepCopy()
		removeAllowed(t, namespace, got)
		for _, difference := range differences("", got.Object, want.Object) {
			t.Errorf("%s: %s", key, difference)
		}
	}
}

func removeAllowed(t *testing.T, namespace string, object *unstructured.Unstructured) {
	t.Helper()
	labels := object.GetLabels()
	for _, label := range helmLabels {
		if _, ok := labels[label]; !ok {
			t.Errorf("%s lacks the release label %s", key(object), label)
		}
		delete(labels, label)
	}
	object.SetLabels(labels)
	annotations := object.GetAnnotations()
	for pattern, allowed := range helmAnnotations {
		if key(object) != fmt.Sprintf(pattern, namespace) {
			continue
		}
		for _, annotation := range allowed {
			delete(annotations, annotation)
		}
	}
	if len(annotations) == 0 {
		annotations = nil
	}
	object.SetAnnotations(annotations)
}

// differences lists, by field path, where got differs from want.
func differences(path string, got, want interface{}) []string {
	switch want := want.(type) {
	case map[string]interface{}:
		gotMap, ok := got.(map[string]interface{})
		if !ok {
			return []string{fmt.Sprintf("%s: chart has %#v, kustomize %#v", path, got, want)}
		}
		keys := map[string]bool{}
		for key := range want {
			keys[key] = true
		}
		for key := range gotMap {
			keys[key] = true
		}
		sorted := make([]string, 0, len(keys))
		for key := range keys {
			sorted = append(sorted, key)
		}
		sort.Strings(sorted)
		var found []string
		for _, key := range sorted {
			gotValue, inGot := gotMap[key]
			wantValue, inWant := want[key]
			switch {
			case !inGot:
				found = append(found, fmt.Sprintf("%s.%s: only kustomize has it (%v)", path, key, wantValue))
			case !inWant:
				found = append(found, fmt.Sprintf("%s.%s: only the chart has it (%v)", path, key, gotValue))
			default:
				found = append(found, differences(path+"."+key, gotValue, wantValue)...)
			}
		}
		return found
	case []interface{}:
		gotList, ok := got.([]interface{})
		if !ok || len(gotList) != len(want) {
			return []string{fmt.Sprintf("%s: chart has %v, kustomize %v", path, got, want)}
		}
		var found []string
		for i := range want {
			found = append(found, differences(fmt.Sprintf("%s[%d]", path, i), gotList[i], want[i])...)
		}
		return found
	default:
		if !reflect.DeepEqual(got, want) {
			return []string{fmt.Sprintf("%s: chart has %#v, kustomize %#v", path, got, want)}
		}
		return nil
	}
}

// TestDifferencesFindsEveryChange keeps the comparison honest: a changed,
// added or removed field, and a reordered list, are each reported.
func TestDifferencesFindsEveryChange(t *testing.T) {
	want := map[string]interface{}{"spec": map[string]interface{}{"replicas": int64(1), "args": []interface{}{"--a", "--b"}}}
	for name, got := range map[string]map[string]interface{}{
		"changed": {"spec": map[string]interface{}{"replicas": int64(3), "args": []interface{}{"--a", "--b"}}},
		"added":   {"spec": map[string]interface{}{"replicas": int64(1), "args": []interface{}{"--a", "--b"}, "paused": true}},
		"removed": {"spec": map[string]interface{}{"args": []interface{}{"--a", "--b"}}},
		"order":   {"spec": map[string]interface{}{"replicas": int64(1), "args": []interface{}{"--b", "--a"}}},
		"longer":  {"spec": map[string]interface{}{"replicas": int64(1), "args": []interface{}{"--a", "--b", "--c"}}},
	} {
		if found := differences("", got, want); len(found) == 0 {
			t.Errorf("%s: no difference found", name)
		}
	}
	if found := differences("", want, want); len(found) != 0 {
		t.Errorf("equal objects differ: %s", strings.Join(found, "; "))
	}
}
