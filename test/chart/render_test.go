package chart

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// repoRoot is the repository, relative to this package.
const repoRoot = "../.."

func binary(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join(repoRoot, "_output", "bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s not found (%v): run make test-chart, which builds helm and kubectl into _output/bin", name, err)
	}
	return path
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(binary(t, name), args...)
	cmd.Dir = repoRoot
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return stdout.Bytes()
}

// helmTemplate renders the chart with the given values files (relative to
// the chart) and --set flags.
func helmTemplate(t *testing.T, valuesFiles []string, sets ...string) []*unstructured.Unstructured {
	t.Helper()
	args := []string{"template", "kubemacpool", "charts/kubemacpool"}
	for _, file := range valuesFiles {
		args = append(args, "--values", filepath.Join("charts/kubemacpool", file))
	}
	for _, set := range sets {
		args = append(args, "--set", set)
	}
	return decode(t, run(t, "helm", args...))
}

// kustomize renders a kustomization directory, relative to the repository
// or absolute.
func kustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	return decode(t, run(t, "kubectl", "kustomize", dir))
}

// kustomizeWith writes a kustomization of its own, in a temporary
// directory, over the given directories of artifacts/deploy.
func kustomizeWith(t *testing.T, namespace string, resources, components []string) []*unstructured.Unstructured {
	t.Helper()
	dir := t.TempDir()
	deploy, err := filepath.Abs(filepath.Join(repoRoot, "artifacts", "deploy"))
	if err != nil {
		t.Fatal(err)
	}
	relative := func(path string) string {
		rel, err := filepath.Rel(dir, filepath.Join(deploy, path))
		if err != nil {
			t.Fatal(err)
		}
		return rel
	}
	var kustomization bytes.Buffer
	fmt.Fprintf(&kustomization, "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
	if namespace != "" {
		fmt.Fprintf(&kustomization, "namespace: %s\n", namespace)
	}
	fmt.Fprintf(&kustomization, "resources:\n")
	for _, resource := range resources {
		fmt.Fprintf(&kustomization, "  - %s\n", relative(resource))
	}
	if len(components) > 0 {
		fmt.Fprintf(&kustomization, "components:\n")
		for _, component := range components {
			fmt.Fprintf(&kustomization, "  - %s\n", relative(component))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), kustomization.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return kustomize(t, dir)
}

func decode(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objects []*unstructured.Unstructured
	for {
		object := &unstructured.Unstructured{}
		err := decoder.Decode(&object.Object)
		if errors.Is(err, io.EOF) {
			return objects
		}
		if err != nil {
			t.Fatalf("decoding rendered objects: %v", err)
		}
		if len(object.Object) > 0 {
			objects = append(objects, object)
		}
	}
}

// key names an object: group, kind, namespace and name.
func key(object *unstructured.Unstructured) string {
	return fmt.Sprintf("%s %s %s/%s", object.GroupVersionKind().Group, object.GetKind(), object.GetNamespace(), object.GetName())
}

func byKey(t *testing.T, objects []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	t.Helper()
	keyed := map[string]*unstructured.Unstructured{}
	for _, object := range objects {
		if _, twice := keyed[key(object)]; twice {
			t.Errorf("%s rendered twice", key(object))
		}
		keyed[key(object)] = object
	}
	return keyed
}

func sortedKeys(objects map[string]*unstructured.Unstructured) []string {
	keys := make([]string, 0, len(objects))
	for key := range objects {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}
