package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

const testCA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

// testOptions builds from fake binaries, one per platform, whose content
// names the platform.
func testOptions(t *testing.T) *buildOptions {
	t.Helper()
	dir := t.TempDir()
	o := &buildOptions{
		binaries:       map[string]string{},
		caBundle:       filepath.Join(dir, "ca.crt"),
		reference:      "registry.example/kubemacpool/kubemacpool-apiserver:v1.2.3",
		source:         "https://example.com/kubemacpool",
		revision:       "0123456789abcdef0123456789abcdef01234567",
		version:        "v1.2.3",
		created:        time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		layoutDir:      filepath.Join(dir, "oci"),
		tarballPattern: filepath.Join(dir, "kubemacpool-apiserver-%s.tar"),
	}
	for _, platform := range []string{"linux/amd64", "linux/arm64"} {
		file := filepath.Join(dir, strings.ReplaceAll(platform, "/", "-"))
		mustWrite(t, file, "binary for "+platform)
		o.binaries[platform] = file
	}
	mustWrite(t, o.caBundle, testCA)
	return o
}

func mustWrite(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func buildAndWrite(t *testing.T, o *buildOptions) v1.ImageIndex {
	t.Helper()
	index, err := o.build()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if err := o.write(index); err != nil {
		t.Fatalf("write: %v", err)
	}
	return index
}

// TestBuildWritesAValidMultiPlatformImage checks the image as a runtime
// sees it: one index with an image per platform, each valid as `crane
// validate` checks it, running the binary as the non-root user, with the
// CA bundle, the OCI labels, and a tarball per platform.
func TestBuildWritesAValidMultiPlatformImage(t *testing.T) {
	o := testOptions(t)
	buildAndWrite(t, o)

	root, err := layout.ImageIndexFromPath(o.layoutDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(root); err != nil {
		t.Fatalf("the layout read back is not valid: %v", err)
	}
	rootManifest, err := root.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if got := rootManifest.Manifests[0].Annotations[refName]; got != o.reference {
		t.Errorf("index.json names the image %q, want %q", got, o.reference)
	}

	for platform, binary := range o.binaries {
		image, err := imageForPlatform(o.layoutDir, platform)
		if err != nil {
			t.Fatalf("%s: %v", platform, err)
		}
		config, err := image.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if got := config.Platform().String(); got != platform {
			t.Errorf("%s: config platform %s", platform, got)
		}
		if got := config.Config.User; got != "65532:65532" {
			t.Errorf("%s: user %q, want the non-root 65532:65532", platform, got)
		}
		if got := config.Config.Entrypoint; len(got) != 1 || got[0] != "/kubemacpool-apiserver" {
			t.Errorf("%s: entrypoint %v", platform, got)
		}
		for key, want := range map[string]string{labelSource: o.source, labelRevision: o.revision, labelVersion: o.version} {
			if got := config.Config.Labels[key]; got != want {
				t.Errorf("%s: label %s = %q, want %q", platform, key, got, want)
			}
		}
		if !config.Created.Time.Equal(o.created) {
			t.Errorf("%s: created %s, want %s", platform, config.Created, o.created)
		}

		files := filesOf(t, image)
		want, _ := os.ReadFile(binary)
		assertFile(t, files, "kubemacpool-apiserver", 0o755, string(want), o.created)
		assertFile(t, files, "etc/ssl/certs/ca-certificates.crt", 0o644, testCA, o.created)
		assertFile(t, files, "tmp/", 0o1777, "", o.created)
		if passwd := files["etc/passwd"].content; !strings.Contains(passwd, "nonroot:x:65532:65532:") {
			t.Errorf("%s: /etc/passwd lacks the non-root user: %q", platform, passwd)
		}

		tarballFile := strings.Replace(o.tarballPattern, "%s", strings.ReplaceAll(platform, "/", "-"), 1)
		fromTarball, err := tarball.ImageFromPath(tarballFile, nil)
		if err != nil {
			t.Fatalf("%s: reading its tarball: %v", platform, err)
		}
		if err := validate.Image(fromTarball); err != nil {
			t.Errorf("%s: the tarball is not valid: %v", platform, err)
		}
		tarballDigest, _ := fromTarball.ConfigName()
		layoutDigest, _ := image.ConfigName()
		if tarballDigest != layoutDigest {
			t.Errorf("%s: the tarball holds config %s, the layout %s", platform, tarballDigest, layoutDigest)
		}
	}
}

func TestBuildIsReproducible(t *testing.T) {
	first := testOptions(t)
	second := testOptions(t)
	// Same inputs in other places.
	second.binaries = first.binaries
	second.caBundle = first.caBundle
	a, b := digestOf(t, buildAndWrite(t, first)), digestOf(t, buildAndWrite(t, second))
	if a != b {
		t.Errorf("two builds of the same inputs: index %s and %s", a, b)
	}
	// And a changed binary changes it.
	mustWrite(t, second.binaries["linux/arm64"], "another binary")
	if c := digestOf(t, buildAndWrite(t, second)); c == a {
		t.Errorf("a changed binary left the index at %s", c)
	}
}

func TestExtractReturnsThePlatformsBinary(t *testing.T) {
	o := testOptions(t)
	buildAndWrite(t, o)
	for platform, binary := range o.binaries {
		image, err := imageForPlatform(o.layoutDir, platform)
		if err != nil {
			t.Fatal(err)
		}
		output := filepath.Join(t.TempDir(), "bin", "kubemacpool-apiserver")
		if err := extractFile(image, binaryPath, output); err != nil {
			t.Fatalf("%s: %v", platform, err)
		}
		got, _ := os.ReadFile(output)
		want, _ := os.ReadFile(binary)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: extracted %q, want %q", platform, got, want)
		}
		if info, _ := os.Stat(output); info.Mode().Perm() != 0o755 {
			t.Errorf("%s: extracted with mode %s", platform, info.Mode())
		}
	}
	if _, err := imageForPlatform(o.layoutDir, "linux/s390x"); err == nil || !strings.Contains(err.Error(), "linux/amd64") {
		t.Errorf("a missing platform: %v, want an error naming the platforms there are", err)
	}
	image, _ := imageForPlatform(o.layoutDir, "linux/amd64")
	if err := extractFile(image, "/no/such/file", filepath.Join(t.TempDir(), "x")); err == nil {
		t.Errorf("extracting a missing file succeeded")
	}
}

func TestBuildRefusesBadInput(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(*buildOptions)
		want   string
	}{
		"no CA bundle":        {func(o *buildOptions) { o.caBundle = "/nonexistent/ca.crt" }, "needs CA certificates from /nonexistent/ca.crt"},
		"CA bundle not PEM":   {func(o *buildOptions) { mustWrite(t, o.caBundle, "junk") }, "holds no PEM certificate"},
		"no binaries":         {func(o *buildOptions) { o.binaries = map[string]string{} }, "--binary"},
		"image without a tag": {func(o *buildOptions) { o.reference = "registry.example/kubemacpool" }, "--image"},
		"no revision":         {func(o *buildOptions) { o.revision = "" }, "--revision"},
		"tarball pattern":     {func(o *buildOptions) { o.tarballPattern = "x.tar" }, "--tarball"},
		"missing binary": {func(o *buildOptions) { o.binaries["linux/arm64"] = "/nonexistent/binary" },
			"linux/arm64: reading the server binary"},
	} {
		t.Run(name, func(t *testing.T) {
			o := testOptions(t)
			tc.change(o)
			if _, err := o.build(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("build: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

type file struct {
	mode    int64
	modTime time.Time
	uid     int
	content string
}

// filesOf flattens image's layers.
func filesOf(t *testing.T, image v1.Image) map[string]file {
	t.Helper()
	layers, err := image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]file{}
	for _, layer := range layers {
		content, err := layer.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		reader := tar.NewReader(content)
		for {
			header, err := reader.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(reader)
			files[header.Name] = file{mode: header.Mode, modTime: header.ModTime, uid: header.Uid, content: string(data)}
		}
		content.Close()
	}
	return files
}

func assertFile(t *testing.T, files map[string]file, name string, mode int64, content string, modTime time.Time) {
	t.Helper()
	got, ok := files[name]
	switch {
	case !ok:
		t.Errorf("the image has no %s", name)
	case got.mode != mode:
		t.Errorf("%s has mode %o, want %o", name, got.mode, mode)
	case got.uid != 0:
		t.Errorf("%s belongs to uid %d, want root: the non-root user must not change it", name, got.uid)
	case !got.modTime.Equal(modTime):
		t.Errorf("%s has mtime %s, want the fixed %s", name, got.modTime, modTime)
	case got.content != content:
		t.Errorf("%s holds %q, want %q", name, got.content, content)
	}
}

func digestOf(t *testing.T, index v1.ImageIndex) v1.Hash {
	t.Helper()
	digest, err := index.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return digest
}
