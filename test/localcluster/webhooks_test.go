package localcluster

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	celplugin "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	"k8s.io/apiserver/pkg/cel/environment"
	"sigs.k8s.io/yaml"
)

// TestWebhookMatchConditions evaluates the matchConditions of every shipped
// webhook configuration with kube-apiserver's own matcher: only Pods created
// with a networks annotation or updated with a change to it, and
// VirtualMachines not being deleted reach the server, and no object makes a condition fail (with failurePolicy Fail an
// evaluation error would refuse the object).
func TestWebhookMatchConditions(t *testing.T) {
	pod := func(annotations map[string]any) *unstructured.Unstructured {
		metadata := map[string]any{"name": "p", "namespace": "ns"}
		if annotations != nil {
			metadata["annotations"] = annotations
		}
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": metadata}}
	}
	binding := func(annotations map[string]any) *unstructured.Unstructured {
		metadata := map[string]any{"name": "p", "namespace": "ns"}
		if annotations != nil {
			metadata["annotations"] = annotations
		}
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Binding", "metadata": metadata,
			"target": map[string]any{"kind": "Node", "name": "node-1"}}}
	}
	vm := func(deleting bool) *unstructured.Unstructured {
		metadata := map[string]any{"name": "vm", "namespace": "ns"}
		if deleting {
			metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
			metadata["finalizers"] = []any{"example.com/hold"}
		}
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": metadata,
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{}}}}}
	}
	for _, tc := range []struct {
		name      string
		webhook   string
		operation admission.Operation
		object    *unstructured.Unstructured
		old       *unstructured.Unstructured
		want      bool
	}{
		{"pod with networks", "mutatepods.kubemacpool.io", admission.Create, pod(map[string]any{"k8s.v1.cni.cncf.io/networks": "br1"}), nil, true},
		{"pod with an empty networks annotation: the server judges it", "mutatepods.kubemacpool.io", admission.Create, pod(map[string]any{"k8s.v1.cni.cncf.io/networks": ""}), nil, true},
		{"pod with networks and the markers the server must judge", "mutatepods.kubemacpool.io", admission.Create,
			pod(map[string]any{"k8s.v1.cni.cncf.io/networks": "br1", "k8s.v1.cni.cncf.io/network-status": "[]"}), nil, true},
		{"pod without annotations", "mutatepods.kubemacpool.io", admission.Create, pod(nil), nil, false},
		{"pod with other annotations", "mutatepods.kubemacpool.io", admission.Create, pod(map[string]any{"example.com/networks": "br1"}), nil, false},
		{"pod with network-status only", "mutatepods.kubemacpool.io", admission.Create, pod(map[string]any{"k8s.v1.cni.cncf.io/network-status": "[]"}), nil, false},
		{"pod update that adds networks", "mutatepods.kubemacpool.io", admission.Update,
			pod(map[string]any{"k8s.v1.cni.cncf.io/networks": "br1,br2"}), pod(map[string]any{"k8s.v1.cni.cncf.io/networks": "br1"}), true},
		{"pod update that removes the networks annotation", "mutatepods.kubemacpool.io", admission.Update,
			pod(nil), pod(map[string]any{"k8s.v1.cni.cncf.io/networks": "br1"}), true},
		{"pod update that gives a pod networks", "mutatepods.kubemacpool.io", admission.Update,
			pod(map[string]any{"k8s.v1.cni.cncf.io/networks": "br1"}), pod(map[string]any{"example.com/other": "x"}), true},
		{"pod update that keeps the networks annotation", "mutatepods.kubemacpool.io", admission.Update,
			pod(map[string]any{"k8s.v1.cni.cncf.io/networks": "br1", "example.com/label": "x"}), pod(map[string]any{"k8s.v1.cni.cncf.io/networks": "br1"}), false},
		{"pod update without networks", "mutatepods.kubemacpool.io", admission.Update, pod(map[string]any{"example.com/other": "y"}), pod(nil), false},
		{"binding that sets networks", "mutatepods.kubemacpool.io", admission.Create, binding(map[string]any{"k8s.v1.cni.cncf.io/networks": "br1"}), nil, true},
		{"binding without networks", "mutatepods.kubemacpool.io", admission.Create, binding(map[string]any{"example.com/other": "x"}), nil, false},
		{"binding without annotations", "mutatepods.kubemacpool.io", admission.Create, binding(nil), nil, false},
		{"vm create", "mutatevirtualmachines.kubemacpool.io", admission.Create, vm(false), nil, true},
		// kube-apiserver wipes a deletionTimestamp sent with a create, but a
		// create through server-side apply only after the mutating webhooks:
		// skipped, the VM would be stored live with MACs nobody asked about.
		{"vm created with a deletion timestamp (server-side apply)", "mutatevirtualmachines.kubemacpool.io", admission.Create, vm(true), nil, true},
		{"vm update", "mutatevirtualmachines.kubemacpool.io", admission.Update, vm(false), vm(false), true},
		{"vm update that omits the deletion timestamp of a vm being deleted", "mutatevirtualmachines.kubemacpool.io", admission.Update, vm(false), vm(true), true},
		{"vm being deleted", "mutatevirtualmachines.kubemacpool.io", admission.Update, vm(true), vm(true), false},
	} {
		for _, file := range []string{"webhook/mutator-opt-out.yaml", "webhook/mutator-opt-in.yaml", "deploy/base/mutator.yaml"} {
			t.Run(tc.name+"/"+file, func(t *testing.T) {
				matcher := compiledMatcher(t, filepath.Join("..", "..", "artifacts", file), tc.webhook)
				gvk := tc.object.GroupVersionKind()
				// A nil *Unstructured would be a non-nil runtime.Object.
				var old runtime.Object
				if tc.old != nil {
					old = tc.old
				}
				record := admission.NewAttributesRecord(tc.object, old, gvk, "ns", tc.object.GetName(),
					schema.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: "objects"}, "", tc.operation, nil, false, nil)
				attributes, err := admission.NewVersionedAttributes(record, gvk, nil)
				if err != nil {
					t.Fatal(err)
				}
				result := matcher.Match(context.Background(), attributes, nil, nil)
				if result.Error != nil {
					t.Fatalf("evaluating the matchConditions: %v", result.Error)
				}
				if result.Matches != tc.want {
					t.Errorf("%s is called: %t, want %t (failed condition %q)", tc.webhook, result.Matches, tc.want, result.FailedConditionName)
				}
			})
		}
	}
}

// compiledMatcher compiles a webhook's matchConditions as kube-apiserver
// does when the configuration is created (strictly, as new expressions).
func compiledMatcher(t *testing.T, path, name string) matchconditions.Matcher {
	t.Helper()
	manifest, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	config := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := yaml.UnmarshalStrict(manifest, config); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	for _, webhook := range config.Webhooks {
		if webhook.Name != name {
			continue
		}
		var expressions []celplugin.ExpressionAccessor
		for _, condition := range webhook.MatchConditions {
			expressions = append(expressions, &matchconditions.MatchCondition{Name: condition.Name, Expression: condition.Expression})
		}
		compiler := celplugin.NewConditionCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
		evaluator := compiler.CompileCondition(expressions, celplugin.OptionalVariableDeclarations{HasAuthorizer: true}, environment.NewExpressions)
		return matchconditions.NewMatcher(evaluator, webhook.FailurePolicy, "webhook", "admit", webhook.Name)
	}
	t.Fatalf("%s has no webhook %s", path, name)
	return nil
}

// TestPodWebhookSeesStatusUpdates: every shipped configuration sends the Pod
// webhook updates of pods/status too (filtered by the same matchConditions:
// only those that change the networks annotation), since kube-apiserver
// keeps the annotations such an update writes. Without the rule a kubelet,
// multus's ServiceAccount or anybody granted pods/status could drop a MAC a
// running Pod carries, unseen, and have its lease released. Likewise the
// creates of pods/binding, whose annotations kube-apiserver merges into the
// pending Pod, and of the bindings resource, the same BindingREST.
func TestPodWebhookSeesStatusUpdates(t *testing.T) {
	for _, file := range []string{"webhook/mutator-opt-out.yaml", "webhook/mutator-opt-in.yaml", "deploy/base/mutator.yaml"} {
		path := filepath.Join("..", "..", "artifacts", file)
		manifest, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		config := &admissionregistrationv1.MutatingWebhookConfiguration{}
		if err := yaml.UnmarshalStrict(manifest, config); err != nil {
			t.Fatalf("parsing %s: %v", path, err)
		}
		status, binding, legacyBinding := false, false, false
		for _, webhook := range config.Webhooks {
			if webhook.Name != "mutatepods.kubemacpool.io" {
				continue
			}
			for _, rule := range webhook.Rules {
				if slices.Contains(rule.Resources, "pods/status") && slices.Contains(rule.Operations, admissionregistrationv1.Update) {
					status = true
				}
				if slices.Contains(rule.Resources, "pods/binding") && slices.Contains(rule.Operations, admissionregistrationv1.Create) {
					binding = true
				}
				if slices.Contains(rule.Resources, "bindings") && slices.Contains(rule.Operations, admissionregistrationv1.Create) {
					legacyBinding = true
				}
			}
		}
		if !status {
			t.Errorf("%s: the Pod webhook takes no UPDATE of pods/status", file)
		}
		if !binding {
			t.Errorf("%s: the Pod webhook takes no CREATE of pods/binding", file)
		}
		if !legacyBinding {
			t.Errorf("%s: the Pod webhook takes no CREATE of bindings", file)
		}
	}
	chart, err := os.ReadFile(filepath.Join("..", "..", "charts", "kubemacpool", "templates", "mutator.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(chart), `resources: ["pods", "pods/status", "pods/binding", "bindings"]`) {
		t.Errorf("the chart's Pod webhook takes no UPDATE of pods/status or CREATE of pods/binding or bindings")
	}
}
