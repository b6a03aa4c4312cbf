package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// OCI label and annotation keys.
const (
	labelSource   = "org.opencontainers.image.source"
	labelRevision = "org.opencontainers.image.revision"
	labelVersion  = "org.opencontainers.image.version"
	labelCreated  = "org.opencontainers.image.created"
	labelTitle    = "org.opencontainers.image.title"
	refName       = "org.opencontainers.image.ref.name"
)

// buildOptions is everything `kmp-image build` is told.
type buildOptions struct {
	// binaries maps a platform (linux/amd64) to its server binary.
	binaries map[string]string
	caBundle string
	// reference is <name>:<tag> of the image.
	reference string
	source    string
	revision  string
	version   string
	// created stamps the config, the labels and every file of every
	// layer, so that a commit builds to the same digests.
	created time.Time
	// layoutDir receives the OCI layout (index.json, blobs/); it is
	// replaced, not merged into.
	layoutDir string
	// tarballPattern names the docker-style tarball of each platform; %s
	// becomes os-arch.
	tarballPattern string
}

type platformFlag map[string]string

func (p platformFlag) String() string { return fmt.Sprint(map[string]string(p)) }

func (p platformFlag) Set(value string) error {
	platform, file, ok := strings.Cut(value, "=")
	if !ok || !strings.Contains(platform, "/") || file == "" {
		return fmt.Errorf("want os/arch=path, got %q", value)
	}
	p[platform] = file
	return nil
}

func runBuild(args []string) error {
	o := buildOptions{binaries: map[string]string{}}
	flags := flag.NewFlagSet("build", flag.ContinueOnError)
	flags.Var(platformFlag(o.binaries), "binary", "os/arch=path of a static server binary; repeat for every platform")
	flags.StringVar(&o.caBundle, "ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "PEM bundle of CA certificates copied into the image")
	flags.StringVar(&o.reference, "image", "", "name:tag of the image")
	flags.StringVar(&o.source, "source", "", "value of the "+labelSource+" label")
	flags.StringVar(&o.revision, "revision", "", "commit the binaries were built from ("+labelRevision+")")
	flags.StringVar(&o.version, "version", "", "version of the binaries ("+labelVersion+")")
	epoch := flags.Int64("created", 0, "creation time in Unix seconds, e.g. the commit's (SOURCE_DATE_EPOCH)")
	flags.StringVar(&o.layoutDir, "layout", "", "directory of the OCI layout to write")
	flags.StringVar(&o.tarballPattern, "tarball", "", "path of each platform's tarball, %s standing for os-arch")
	if err := flags.Parse(args); err != nil {
		return err
	}
	o.created = time.Unix(*epoch, 0).UTC()
	started := time.Now()
	index, err := o.build()
	if err != nil {
		return err
	}
	fmt.Printf("image: built %s for %s in %s\n", o.reference, strings.Join(sortedKeys(o.binaries), ", "), time.Since(started).Round(100*time.Millisecond))
	return o.write(index)
}

func (o *buildOptions) validate() error {
	var errs []error
	if len(o.binaries) == 0 {
		errs = append(errs, errors.New("--binary: at least one platform is needed"))
	}
	if _, err := name.NewTag(o.reference, name.StrictValidation); err != nil {
		errs = append(errs, fmt.Errorf("--image %q: want <registry>/<name>:<tag>: %w", o.reference, err))
	}
	if o.revision == "" || o.version == "" {
		errs = append(errs, errors.New("--revision and --version must be set: they label the image"))
	}
	if o.layoutDir == "" || !strings.Contains(o.tarballPattern, "%s") {
		errs = append(errs, errors.New("--layout and --tarball (with a %s for the platform) must be set"))
	}
	return errors.Join(errs...)
}

// labels are the image's OCI labels, also set as annotations on the index
// and every manifest.
func (o *buildOptions) labels() map[string]string {
	labels := map[string]string{
		labelRevision: o.revision,
		labelVersion:  o.version,
		labelCreated:  o.created.Format(time.RFC3339),
		labelTitle:    "kubemacpool-apiserver",
	}
	if o.source != "" {
		labels[labelSource] = o.source
	}
	return labels
}

// build returns the image index: one image per platform, each the shared
// base layer and the platform's binary on top.
func (o *buildOptions) build() (v1.ImageIndex, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	caBundle, err := readCABundle(o.caBundle)
	if err != nil {
		return nil, err
	}
	base, err := baseLayer(caBundle, o.created)
	if err != nil {
		return nil, err
	}
	var index v1.ImageIndex = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, platformName := range sortedKeys(o.binaries) {
		platform, err := v1.ParsePlatform(platformName)
		if err != nil {
			return nil, fmt.Errorf("--binary %s: %w", platformName, err)
		}
		image, err := o.buildImage(base, *platform, o.binaries[platformName])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", platformName, err)
		}
		index = mutate.AppendManifests(index, mutate.IndexAddendum{
			Add:        image,
			Descriptor: v1.Descriptor{Platform: platform, Annotations: o.labels()},
		})
	}
	return mutate.Annotations(index, o.labels()).(v1.ImageIndex), nil
}

func (o *buildOptions) buildImage(base v1.Layer, platform v1.Platform, binaryFile string) (v1.Image, error) {
	binary, err := binaryLayer(binaryFile, o.created)
	if err != nil {
		return nil, err
	}
	image := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	image, err = mutate.Append(image,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{
			Created: v1.Time{Time: o.created}, CreatedBy: "kmp-image: CA certificates, /etc/passwd, /tmp",
		}},
		mutate.Addendum{Layer: binary, MediaType: types.OCILayer, History: v1.History{
			Created: v1.Time{Time: o.created}, CreatedBy: "kmp-image: " + binaryPath + " (CGO_ENABLED=0 go build)",
		}},
	)
	if err != nil {
		return nil, fmt.Errorf("adding the layers: %w", err)
	}
	config, err := image.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	config = config.DeepCopy()
	config.OS = platform.OS
	config.Architecture = platform.Architecture
	config.Variant = platform.Variant
	config.Created = v1.Time{Time: o.created}
	config.Author = "Kubemacpool"
	config.Config.Entrypoint = []string{binaryPath}
	config.Config.User = strconv.Itoa(nonRootUID) + ":" + strconv.Itoa(nonRootUID)
	config.Config.WorkingDir = "/"
	config.Config.Env = []string{"PATH=/"}
	config.Config.Labels = o.labels()
	image, err = mutate.ConfigFile(image, config)
	if err != nil {
		return nil, fmt.Errorf("setting the config: %w", err)
	}
	return mutate.Annotations(image, o.labels()).(v1.Image), nil
}

// write replaces the OCI layout and the tarballs, then validates what it
// wrote as read back from disk.
func (o *buildOptions) write(index v1.ImageIndex) error {
	started := time.Now()
	if err := os.RemoveAll(o.layoutDir); err != nil {
		return fmt.Errorf("removing the old layout: %w", err)
	}
	path, err := layout.Write(o.layoutDir, empty.Index)
	if err != nil {
		return fmt.Errorf("creating the OCI layout %s: %w", o.layoutDir, err)
	}
	if err := path.AppendIndex(index, layout.WithAnnotations(map[string]string{refName: o.reference})); err != nil {
		return fmt.Errorf("writing the OCI layout %s: %w", o.layoutDir, err)
	}
	digest, err := index.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("image: wrote the OCI layout %s (index %s) in %s\n", o.layoutDir, digest, time.Since(started).Round(100*time.Millisecond))

	tag, err := name.NewTag(o.reference, name.StrictValidation)
	if err != nil {
		return err
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		return err
	}
	for _, descriptor := range manifest.Manifests {
		image, err := index.Image(descriptor.Digest)
		if err != nil {
			return err
		}
		file := fmt.Sprintf(o.tarballPattern, descriptor.Platform.OS+"-"+descriptor.Platform.Architecture)
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return err
		}
		if err := tarball.WriteToFile(file, tag, image); err != nil {
			return fmt.Errorf("writing %s: %w", file, err)
		}
		fmt.Printf("image: wrote %s (%s, %s)\n", file, descriptor.Platform, humanSize(file))
	}
	return validateLayout(o.layoutDir)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
}

func humanSize(file string) string {
	info, err := os.Stat(file)
	if err != nil {
		return "size unknown"
	}
	return fmt.Sprintf("%.1f MiB", float64(info.Size())/(1<<20))
}
