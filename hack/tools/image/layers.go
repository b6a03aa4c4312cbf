package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// nonRootUID is the user the image runs as: distroless's "nonroot", a
	// UID no host account has by convention.
	nonRootUID = 65532
	// binaryPath is the entrypoint.
	binaryPath = "/kubemacpool-apiserver"
	// caBundlePath is where Go's crypto/x509 looks first on Linux.
	caBundlePath = "/etc/ssl/certs/ca-certificates.crt"
)

// entry is one file or directory of a layer. Everything belongs to root:
// the non-root user may run the binary and read the certificates, never
// change them.
type entry struct {
	name string // without the leading slash
	mode int64
	dir  bool
	data []byte
}

// layerFromEntries returns an uncompressed-tar layer of entries, every one
// stamped with modTime: the same inputs give the same bytes, hence the
// same digests.
func layerFromEntries(entries []entry, modTime time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		header := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			ModTime: modTime,
			Uname:   "root",
			Gname:   "root",
			Format:  tar.FormatPAX,
		}
		if e.dir {
			header.Typeflag = tar.TypeDir
			header.Name += "/"
		} else {
			header.Typeflag = tar.TypeReg
			header.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(header); err != nil {
			return nil, fmt.Errorf("writing the tar header of %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("writing %s into the layer: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing the layer tar: %w", err)
	}
	content := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(content)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}

// baseLayer holds what every platform shares, so registries store it once:
// the CA certificates, the accounts and a world-writable /tmp.
func baseLayer(caBundle []byte, modTime time.Time) (v1.Layer, error) {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", nonRootUID, nonRootUID)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", nonRootUID)
	return layerFromEntries([]entry{
		{name: "etc", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl", mode: 0o755, dir: true},
		{name: "etc/ssl/certs", mode: 0o755, dir: true},
		{name: caBundlePath[1:], mode: 0o644, data: caBundle},
		{name: "tmp", mode: 0o1777, dir: true},
	}, modTime)
}

// binaryLayer holds the platform's server binary.
func binaryLayer(binaryFile string, modTime time.Time) (v1.Layer, error) {
	data, err := os.ReadFile(binaryFile)
	if err != nil {
		return nil, fmt.Errorf("reading the server binary: %w", err)
	}
	return layerFromEntries([]entry{{name: binaryPath[1:], mode: 0o755, data: data}}, modTime)
}

// readCABundle reads the build machine's CA certificates, refusing a file
// that holds none: an image without them could not verify any TLS peer
// outside the cluster (an external etcd, a registry of webhooks' callers).
func readCABundle(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the image needs CA certificates from %s (install the ca-certificates package, or point --ca-certificates at a PEM bundle): %w", path, err)
	}
	if !bytes.Contains(data, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("%s holds no PEM certificate; point --ca-certificates at a PEM bundle", path)
	}
	return data, nil
}
