package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	"kubemacpool.io/kubemacpool/test/localcluster"
)

var (
	cluster    *localcluster.Cluster
	kubeClient kubernetes.Interface
	macClient  versioned.Interface
	// dynamicClient reaches the KubeVirt CRDs.
	dynamicClient dynamic.Interface
	// stopCluster ends the cluster's lifetime, which must outlive the
	// BeforeSuite node whose context is cancelled when it returns.
	stopCluster context.CancelFunc
)

// suiteRoot holds the suite's control plane; specs that start one of their
// own keep it in a directory beside it. binDir holds the binaries.
var suiteRoot, binDir string

// kubemacpoolBinary is the server every control plane of the suite runs:
// empty for binDir's, or the one taken out of the image under test.
var kubemacpoolBinary string

// reservationTTL is how long a lease admitted for an object that never
// appears lives in this suite.
const reservationTTL = 15 * time.Second

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(time.Minute)
	SetDefaultEventuallyPollingInterval(250 * time.Millisecond)
	// An Eventually given the spec's context and no timeout of its own
	// would otherwise wait for the whole suite's timeout: fail it at the
	// default instead, so one stuck spec cannot hang the run.
	EnforceDefaultTimeoutsWhenUsingContexts()
	suiteConfig, reporterConfig := GinkgoConfiguration()
	suiteConfig.Timeout = 30 * time.Minute
	RunSpecs(t, "kubemacpool end-to-end", suiteConfig, reporterConfig)
}

var _ = SynchronizedBeforeSuite(func(ctx context.Context) []byte {
	return nil
}, func(ctx context.Context, _ []byte) {
	repoRoot, err := filepath.Abs("../..")
	Expect(err).NotTo(HaveOccurred())
	// KUBEMACPOOL_E2E_ROOT lets two runs on one machine keep apart.
	root := os.Getenv("KUBEMACPOOL_E2E_ROOT")
	if root == "" {
		root = filepath.Join(repoRoot, "_output", "e2e")
	}
	suiteRoot = root
	// Every run starts from empty data, so a failed earlier run cannot
	// make this one pass or fail.
	Expect(os.RemoveAll(root)).To(Succeed())
	// KUBEMACPOOL_E2E_BIN_DIR lets a run use binaries other than the
	// shared _output/bin, e.g. a server built from a work in progress.
	binDir = os.Getenv("KUBEMACPOOL_E2E_BIN_DIR")
	if binDir == "" {
		binDir = filepath.Join(repoRoot, "_output", "bin")
	}
	// KUBEMACPOOL_E2E_IMAGE runs the whole suite on the server binary of
	// the image in that OCI layout (make test-e2e passes _output/image/oci),
	// so every spec tests what the image ships; "The image" checks it is.
	if layout := os.Getenv("KUBEMACPOOL_E2E_IMAGE"); layout != "" {
		// Relative to the repository, as make passes it: go test runs
		// the suite in test/e2e.
		if !filepath.IsAbs(layout) {
			layout = filepath.Join(repoRoot, layout)
		}
		imageUnderTest, err = extractImage(ctx, layout, filepath.Join(root, "image"))
		Expect(err).NotTo(HaveOccurred(), "taking the server out of the image in %s", layout)
		kubemacpoolBinary = imageUnderTest.Output
		GinkgoWriter.Printf("running kubemacpool-apiserver from the image %s (%s, %s)\n", layout, imageUnderTest.Platform, imageUnderTest.Image)
	}
	var clusterCtx context.Context
	clusterCtx, stopCluster = context.WithCancel(context.Background())
	cluster, err = localcluster.Start(clusterCtx, localcluster.Options{
		RootDir:           root,
		BinDir:            binDir,
		KubemacpoolBinary: kubemacpoolBinary,
		ArtifactsDir:      filepath.Join(repoRoot, "artifacts"),
		// Short enough that expiry is observable within a spec.
		KubemacpoolArgs: []string{"--reservation-ttl=" + reservationTTL.String(),
			"--max-reservations-per-namespace=" + strconv.Itoa(maxReservationsPerNamespace)},
		// The policy the deploy profiles ship, as they run it: every spec
		// runs with it, and "The audit log" reads what it records.
		AuditLog: true,
		Progress: GinkgoWriter,
	})
	Expect(err).NotTo(HaveOccurred(), "starting the local control plane; logs are in %s", filepath.Join(root, "logs"))
	config := cluster.RESTConfig()
	// A request that hangs fails the spec instead of the whole run.
	config.Timeout = time.Minute
	kubeClient = kubernetes.NewForConfigOrDie(config)
	macClient = versioned.NewForConfigOrDie(config)
	dynamicClient = dynamic.NewForConfigOrDie(config)
}, NodeTimeout(8*time.Minute))

var _ = SynchronizedAfterSuite(func() {
	if cluster != nil {
		Expect(cluster.Stop()).To(Succeed())
	}
	if stopCluster != nil {
		stopCluster()
	}
}, func() {})

// startOwnCluster starts a control plane of a spec's own, in
// <suite root>/<name> with the suite's binaries and artifacts, and stops it
// when the spec ends. options gives the rest (replicas, server flags).
func startOwnCluster(name string, options localcluster.Options) *localcluster.Cluster {
	GinkgoHelper()
	artifacts, err := filepath.Abs("../../artifacts")
	Expect(err).NotTo(HaveOccurred())
	options.RootDir = filepath.Join(suiteRoot, name)
	options.BinDir = binDir
	if options.KubemacpoolBinary == "" {
		options.KubemacpoolBinary = kubemacpoolBinary
	}
	options.ArtifactsDir = artifacts
	options.Progress = GinkgoWriter
	Expect(os.RemoveAll(options.RootDir)).To(Succeed())
	// The control plane must outlive the node that starts it, whose ctx
	// ends when it returns; the cleanups end it after the spec.
	clusterCtx, stop := context.WithCancel(context.Background())
	DeferCleanup(stop)
	own, err := localcluster.Start(clusterCtx, options)
	Expect(err).NotTo(HaveOccurred(), "starting the %s control plane; logs are in %s", name, filepath.Join(options.RootDir, "logs"))
	DeferCleanup(func() { Expect(own.Stop()).To(Succeed()) })
	return own
}
