package plugin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The krew manifest is a template filled in at release: it must offer every
// platform, name the binary this package builds, and leave nothing fixed
// that differs per release.
func TestKrewManifest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "plugins", "krew", "macpool.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			Version          string `json:"version"`
			Homepage         string `json:"homepage"`
			ShortDescription string `json:"shortDescription"`
			Description      string `json:"description"`
			Platforms        []struct {
				Selector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				} `json:"selector"`
				URI    string `json:"uri"`
				SHA256 string `json:"sha256"`
				Bin    string `json:"bin"`
			} `json:"platforms"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(data, &manifest, yaml.DisallowUnknownFields); err != nil {
		t.Fatalf("decoding the manifest: %v", err)
	}
	if manifest.Kind != "Plugin" || manifest.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || manifest.Metadata.Name != "macpool" {
		t.Errorf("kind %q, apiVersion %q, name %q: want a krew Plugin named macpool", manifest.Kind, manifest.APIVersion, manifest.Metadata.Name)
	}
	if manifest.Spec.Version != "{{VERSION}}" {
		t.Errorf("spec.version = %q, want the {{VERSION}} placeholder", manifest.Spec.Version)
	}
	want := map[string]bool{"linux/amd64": true, "linux/arm64": true, "darwin/amd64": true, "darwin/arm64": true}
	for _, platform := range manifest.Spec.Platforms {
		os, arch := platform.Selector.MatchLabels["os"], platform.Selector.MatchLabels["arch"]
		key := os + "/" + arch
		if !want[key] {
			t.Errorf("unexpected or repeated platform %s", key)
		}
		delete(want, key)
		if platform.Bin != "kubectl-macpool" {
			t.Errorf("%s: bin %q, want kubectl-macpool", key, platform.Bin)
		}
		if wantURI := "{{RELEASE_URL}}/kubectl-macpool_{{VERSION}}_" + os + "_" + arch + ".tar.gz"; platform.URI != wantURI {
			t.Errorf("%s: uri %q, want %q", key, platform.URI, wantURI)
		}
		if wantSum := "{{SHA256_" + strings.ToUpper(os+"_"+arch) + "}}"; platform.SHA256 != wantSum {
			t.Errorf("%s: sha256 %q, want %q", key, platform.SHA256, wantSum)
		}
	}
	for missing := range want {
		t.Errorf("no platform %s", missing)
	}
}
