package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
)

// imageLabel keys that `make image` sets.
const (
	imageRevisionLabel = "org.opencontainers.image.revision"
	imageVersionLabel  = "org.opencontainers.image.version"
)

// imageUnderTest is the image the suite runs the server from, when
// KUBEMACPOOL_E2E_IMAGE names the OCI layout `make image` wrote (make
// test-e2e does): what `kmp-image extract` took out of the image's own
// layers for this machine's platform.
var imageUnderTest *extractedImage

type extractedImage struct {
	// Layout is the OCI layout directory.
	Layout string `json:"-"`
	// Image is the digest of the platform's image manifest.
	Image    string            `json:"image"`
	Platform string            `json:"platform"`
	Labels   map[string]string `json:"labels"`
	// Output is the server binary as the image ships it.
	Output string `json:"output"`
}

// extractImage takes the server binary for this machine out of the layers
// of the image in layout, with kmp-image (hack/tools/image,
// go-containerregistry), into dir.
func extractImage(ctx context.Context, layout, dir string) (*extractedImage, error) {
	tool := filepath.Join(binDir, "kmp-image")
	output := filepath.Join(dir, "kubemacpool-apiserver")
	out, err := exec.CommandContext(ctx, tool, "extract", "--layout", layout,
		"--platform", "linux/"+runtime.GOARCH, "--output", output).Output()
	if err != nil {
		return nil, fmt.Errorf("%s extract (build it with make image): %w: %s", tool, err, stderrOf(err))
	}
	image := &extractedImage{Layout: layout}
	if err := json.Unmarshal(out, image); err != nil {
		return nil, fmt.Errorf("decoding what kmp-image extract printed, %q: %w", out, err)
	}
	return image, nil
}

func stderrOf(err error) string {
	if exitErr, ok := err.(*exec.ExitError); ok {
		return string(exitErr.Stderr)
	}
	return ""
}

func sha256Of(path string) string {
	GinkgoHelper()
	file, err := os.Open(path)
	Expect(err).NotTo(HaveOccurred())
	defer file.Close()
	hash := sha256.New()
	_, err = io.Copy(hash, file)
	Expect(err).NotTo(HaveOccurred())
	return hex.EncodeToString(hash.Sum(nil))
}

var _ = Describe("The image", func() {
	It("is valid, and the server this suite runs is its binary, stamped with its revision, serving the API", func(ctx SpecContext) {
		Expect(imageUnderTest).NotTo(BeNil(),
			"the suite runs the server from the image only when KUBEMACPOOL_E2E_IMAGE names its OCI layout; make test-e2e sets it to _output/image/oci")
		revision := imageUnderTest.Labels[imageRevisionLabel]
		version := imageUnderTest.Labels[imageVersionLabel]
		Expect(revision).To(MatchRegexp(`^[0-9a-f]{40}$`), "the image's %s label", imageRevisionLabel)
		Expect(version).NotTo(BeEmpty(), "the image's %s label", imageVersionLabel)

		By("validating the OCI layout and every platform's tarball as crane validate does")
		out, err := exec.CommandContext(ctx, filepath.Join(binDir, "kmp-image"), "validate", "--layout", imageUnderTest.Layout).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "kmp-image validate: %s", out)
		tarballs, err := filepath.Glob(filepath.Join(filepath.Dir(imageUnderTest.Layout), "kubemacpool-apiserver-linux-*.tar"))
		Expect(err).NotTo(HaveOccurred())
		// One per platform of the index; make image builds linux/amd64 and
		// linux/arm64 unless PLATFORMS says otherwise.
		Expect(tarballs).To(ContainElement(HaveSuffix("-linux-"+runtime.GOARCH+".tar")), "a tarball for this machine's platform")
		for _, tarball := range tarballs {
			out, err := exec.CommandContext(ctx, filepath.Join(binDir, "crane"), "validate", "--tarball", tarball).CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), "crane validate --tarball %s: %s", tarball, out)
			Expect(string(out)).To(ContainSubstring("PASS: " + tarball))
		}

		By("checking that the running server's executable is the file from the image's layers")
		pid := cluster.KubemacpoolPID()
		Expect(pid).NotTo(BeZero())
		Expect(sha256Of(fmt.Sprintf("/proc/%d/exe", pid))).To(Equal(sha256Of(imageUnderTest.Output)))

		By("checking --version against the image's labels")
		out, err = exec.CommandContext(ctx, imageUnderTest.Output, "--version").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "--version: %s", out)
		Expect(string(out)).To(HavePrefix(fmt.Sprintf("kubemacpool-apiserver %s (commit %s, built ", version, revision)))
		Expect(string(out)).To(ContainSubstring("linux/" + runtime.GOARCH))

		By("checking kmp_build_info and /version against the image's labels")
		Expect(scrapeMetrics()).To(MatchRegexp(`(?m)^kmp_build_info\{git_commit="%s",go_version="go[^"]+",version="%s"\} 1$`,
			revision, regexp.QuoteMeta(version)))
		serverVersion, err := discovery.NewDiscoveryClientForConfigOrDie(cluster.KubemacpoolReplicaConfig(0)).ServerVersion()
		Expect(err).NotTo(HaveOccurred())
		Expect(serverVersion.GitVersion).To(Equal(version))
		Expect(serverVersion.GitCommit).To(Equal(revision))

		By("serving the API: a lease created through kube-apiserver reads back")
		namespace := createNamespace(ctx, "image")
		mac := nextMAC()
		createLease(ctx, namespace, newLease(mac, "from-the-image"))
		lease, err := macClient.MacpoolV1alpha1().MacLeases(namespace).Get(ctx, leaseName(mac), metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(lease.Spec.MACAddress).To(Equal(mac))
	})
})
