package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// extracted is what `kmp-image extract` prints: which image the file came
// from and that image's labels.
type extracted struct {
	Image    string            `json:"image"`
	Platform string            `json:"platform"`
	Labels   map[string]string `json:"labels"`
	Output   string            `json:"output"`
}

func runExtract(args []string) error {
	flags := flag.NewFlagSet("extract", flag.ContinueOnError)
	layoutDir := flags.String("layout", "", "directory of the OCI layout `kmp-image build` wrote")
	platform := flags.String("platform", "", "os/arch of the image to read, e.g. linux/amd64")
	file := flags.String("file", binaryPath, "absolute path of the file inside the image")
	output := flags.String("output", "", "where to write the file; it gets the mode it has in the image")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *layoutDir == "" || *platform == "" || *output == "" {
		return errors.New("extract: --layout, --platform and --output must be set")
	}
	image, err := imageForPlatform(*layoutDir, *platform)
	if err != nil {
		return err
	}
	if err := extractFile(image, *file, *output); err != nil {
		return err
	}
	digest, err := image.Digest()
	if err != nil {
		return err
	}
	config, err := image.ConfigFile()
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(extracted{
		Image: digest.String(), Platform: *platform, Labels: config.Config.Labels, Output: *output,
	})
}

// imageForPlatform finds the image of platform in the index that the
// layout's index.json points at.
func imageForPlatform(layoutDir, platformName string) (v1.Image, error) {
	want, err := v1.ParsePlatform(platformName)
	if err != nil {
		return nil, fmt.Errorf("--platform: %w", err)
	}
	root, err := layout.ImageIndexFromPath(layoutDir)
	if err != nil {
		return nil, fmt.Errorf("reading the OCI layout %s: %w", layoutDir, err)
	}
	rootManifest, err := root.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(rootManifest.Manifests) != 1 || !rootManifest.Manifests[0].MediaType.IsIndex() {
		return nil, fmt.Errorf("%s: want one image index in index.json, as kmp-image build writes", layoutDir)
	}
	index, err := root.ImageIndex(rootManifest.Manifests[0].Digest)
	if err != nil {
		return nil, err
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		return nil, err
	}
	var have []string
	for _, descriptor := range manifest.Manifests {
		if descriptor.Platform == nil {
			continue
		}
		if descriptor.Platform.Equals(*want) {
			return index.Image(descriptor.Digest)
		}
		have = append(have, descriptor.Platform.String())
	}
	return nil, fmt.Errorf("%s has no image for %s, only for %s", layoutDir, want, strings.Join(have, ", "))
}

// extractFile copies path out of the image's filesystem, as the layers
// stack up (later layers and whiteouts win), into output.
func extractFile(image v1.Image, path, output string) error {
	want := strings.TrimPrefix(path, "/")
	filesystem := mutate.Extract(image)
	defer filesystem.Close()
	reader := tar.NewReader(filesystem)
	for {
		header, err := reader.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("the image has no file %s", path)
		}
		if err != nil {
			return fmt.Errorf("reading the image's layers: %w", err)
		}
		if strings.TrimPrefix(header.Name, "./") != want {
			continue
		}
		if header.Typeflag != tar.TypeReg {
			return fmt.Errorf("%s in the image is not a regular file", path)
		}
		return writeFile(output, reader, os.FileMode(header.Mode).Perm())
	}
}

// writeFile writes through a temporary file, so a process that runs
// output never sees it half written.
func writeFile(output string, content io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(output), 0o755); err != nil {
		return err
	}
	temporary, err := os.CreateTemp(filepath.Dir(output), ".extract-*")
	if err != nil {
		return err
	}
	defer os.Remove(temporary.Name())
	if _, err := io.Copy(temporary, content); err != nil {
		temporary.Close()
		return fmt.Errorf("writing %s: %w", output, err)
	}
	if err := temporary.Chmod(mode); err != nil {
		temporary.Close()
		return err
	}
	if err := temporary.Close(); err != nil {
		return err
	}
	return os.Rename(temporary.Name(), output)
}
