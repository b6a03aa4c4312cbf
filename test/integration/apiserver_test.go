package integration

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	etcd3testing "k8s.io/apiserver/pkg/storage/etcd3/testing"
	restclient "k8s.io/client-go/rest"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/apiserver"
	"kubemacpool.io/kubemacpool/pkg/cmd/server"
	"kubemacpool.io/kubemacpool/pkg/embeddedetcd/embeddedetcdtest"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
)

// startServer runs kubemacpool-apiserver in process, through the same
// command and options as the binary, until the test ends. It returns a
// client authenticated as a member of system:masters.
//
// There is no kube-apiserver. The flags make that possible:
//   - --client-ca-file with --authentication-skip-lookup: the test's client
//     certificate is verified locally, no TokenReview, no ConfigMap lookup;
//   - system:masters is always allowed by the delegated authorizer, so no
//     SubjectAccessReview is sent either;
//   - --kubeconfig names an address that refuses connections: the lease
//     controller (not leader-elected here) and the webhooks' namespace
//     informer are built and started but never sync, which nothing below
//     needs (the webhooks are not called; /readyz stays false for that
//     reason, so the test waits for the default pool instead);
//   - the generic admission plugins and priority and fairness, which need
//     kube-apiserver's objects, are off; the certificate manager (which
//     writes a Secret and caBundles in kube-apiserver) is off and the
//     serving certificate is self-signed.
func startServer(t *testing.T, extraArgs ...string) versioned.Interface {
	t.Helper()
	_, etcdConfig := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	client, _ := startServerOn(t, []string{"--etcd-servers=" + strings.Join(etcdConfig.Transport.ServerList, ",")}, extraArgs...)
	return client
}

// startServerOn is startServer with the given storage flags; it returns a
// function that stops the server and returns what its Run returned (the
// test's end stops it otherwise).
func startServerOn(t *testing.T, storageArgs []string, extraArgs ...string) (versioned.Interface, func() error) {
	t.Helper()
	dir := t.TempDir()
	credentials := newClientCredentials(t, dir)

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening on loopback: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	options := server.NewOptions(io.Discard, io.Discard)
	options.RecommendedOptions.SecureServing.Listener = listener
	command := server.NewCommand(ctx, options)
	kubeconfig := unreachableKubeconfig(t, dir)
	args := append(storageArgs, []string{
		"--cert-dir=" + dir,
		"--client-ca-file=" + credentials.caFile,
		"--authentication-skip-lookup",
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		// Every plugin that reads from kube-apiserver (namespaces, pools'
		// tenants, quotas) would answer 503 here: the e2e suite covers them.
		"--disable-admission-plugins=NamespaceLifecycle,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,MutatingAdmissionPolicy,ValidatingAdmissionPolicy,MacLeaseReservationScope,ResourceQuota",
		"--enable-priority-and-fairness=false",
		"--manage-certificates=false",
		"--leader-elect=false",
		"--metric-addr=0",
		"--shutdown-watch-termination-grace-period=0",
		// A short poll period: the object-count poller must run while the
		// test does, since it once raced with the namespace guard being
		// put around the store (the race detector caught it here).
		"--etcd-count-metric-poll-period=100ms",
	}...)
	args = append(args, extraArgs...)
	if err := command.ParseFlags(args); err != nil {
		t.Fatalf("parsing the flags: %v", err)
	}

	// What the command's RunE does, less applying the logging options:
	// that replaces klog's process-wide logger, which the test etcd's
	// goroutines are using (kubernetes' own test servers skip it too).
	stopped := make(chan error, 1)
	go func() {
		if err := options.Complete(); err != nil {
			stopped <- err
			return
		}
		if err := options.Validate(); err != nil {
			stopped <- err
			return
		}
		stopped <- options.Run(ctx)
	}()
	var stopOnce sync.Once
	var stopErr error
	stop := func() error {
		stopOnce.Do(func() {
			cancel()
			select {
			case stopErr = <-stopped:
			// The Pod's termination grace period: a stop that takes
			// longer is killed in a cluster.
			case <-time.After(stopGracePeriod):
				stopErr = fmt.Errorf("server did not stop within %s", stopGracePeriod)
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("server stopped with an error: %v", err)
		}
	})

	config := &restclient.Config{
		Host: "https://" + listener.Addr().String(),
		TLSClientConfig: restclient.TLSClientConfig{
			// The server writes its self-signed serving certificate,
			// with its CA, into --cert-dir while it starts.
			CAFile:   filepath.Join(dir, "apiserver.crt"),
			CertData: credentials.certPEM,
			KeyData:  credentials.keyPEM,
		},
		QPS:   -1,
		Burst: -1,
	}
	// The default pool is created by a post-start hook through the
	// server's own API: once it is there, storage, serving,
	// authentication and authorization all work.
	var client versioned.Interface
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		select {
		case err := <-stopped:
			stopped <- err
			return false, errors.Join(errors.New("server stopped before it served"), err)
		default:
		}
		if client == nil {
			if _, err := os.Stat(config.CAFile); err != nil {
				return false, nil
			}
			if client, err = versioned.NewForConfig(config); err != nil {
				return false, fmt.Errorf("building the client: %w", err)
			}
		}
		_, err := client.MacpoolV1alpha1().MacPools().Get(ctx, "default", metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			// Built again next time: the CA file may have been read while
			// the server was still writing it (seen under load), and a
			// client with half a CA never connects.
			client = nil
		}
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("waiting for the default MacPool: %v", err)
	}
	return client, stop
}

// stopGracePeriod is the chart's terminationGracePeriodSeconds.
const stopGracePeriod = 45 * time.Second

// An HTTP/2 connection whose TLS handshake ends after the server began to
// shut down is never sent a GOAWAY (x/net/http2 sends it to the
// connections it has when the shutdown starts), so the HTTP server's
// shutdown waits for it until the shutdown timeout: the generic server's 60
// s would outlast the Pod's grace period. The test makes that connection on
// purpose; it happened by chance to the loopback clients under load.
func TestStopDoesNotWaitForALateHTTP2Connection(t *testing.T) {
	_, etcdConfig := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	client, stop := startServerOn(t, []string{"--etcd-servers=" + strings.Join(etcdConfig.Transport.ServerList, ",")},
		"--range-start=0a:00:00:00:00:00", "--range-end=0a:00:00:00:FF:FF")
	address := client.MacpoolV1alpha1().RESTClient().Get().URL().Host
	// Accepted now, handshaken once the listener is closed.
	raw, err := net.Dial("tcp", address)
	if err != nil {
		t.Fatalf("connecting to the server: %v", err)
	}
	defer raw.Close()
	started := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	if err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		probe, err := net.Dial("tcp", address)
		if err == nil {
			probe.Close()
		}
		return err != nil, nil
	}); err != nil {
		t.Fatalf("the server did not close its listener: %v", err)
	}
	connection := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err := connection.Handshake(); err != nil {
		t.Fatalf("the TLS handshake: %v", err)
	}
	if protocol := connection.ConnectionState().NegotiatedProtocol; protocol != "h2" {
		t.Fatalf("negotiated %q, want h2", protocol)
	}
	// The client's preface and settings, and the acknowledgement of the
	// server's: the connection is then open and idle.
	if _, err := (&http2.Transport{}).NewClientConn(connection); err != nil {
		t.Fatalf("starting HTTP/2 on the connection: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("stopping the server: %v", err)
	}
	if took, limit := time.Since(started), apiserver.HTTPShutdownTimeout+10*time.Second; took > limit {
		t.Errorf("the server took %s to stop with an HTTP/2 connection open, want at most %s", took.Round(time.Millisecond), limit)
	}
}

func TestServerOnEtcd(t *testing.T) {
	client := startServer(t, "--range-start=0a:00:00:00:00:00", "--range-end=0a:00:00:00:FF:FF", "--metric-addr=127.0.0.1:0")
	ctx := context.Background()
	leases := func(namespace string) interface {
		Create(context.Context, *v1alpha1.MacLease, metav1.CreateOptions) (*v1alpha1.MacLease, error)
		Get(context.Context, string, metav1.GetOptions) (*v1alpha1.MacLease, error)
		List(context.Context, metav1.ListOptions) (*v1alpha1.MacLeaseList, error)
		Delete(context.Context, string, metav1.DeleteOptions) error
	} {
		return client.MacpoolV1alpha1().MacLeases(namespace)
	}

	t.Run("default pool from the flags", func(t *testing.T) {
		pool, err := client.MacpoolV1alpha1().MacPools().Get(ctx, "default", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := []v1alpha1.MACRange{{Start: "0a:00:00:00:00:00", End: "0a:00:00:00:ff:ff"}}
		if len(pool.Spec.Ranges) != 1 || pool.Spec.Ranges[0] != want[0] || pool.Spec.ConflictPolicy != v1alpha1.ConflictPolicyWarn {
			t.Errorf("default pool spec = %+v, want ranges %v (canonical) and policy Warn", pool.Spec, want)
		}
		pools, err := client.MacpoolV1alpha1().MacPools().List(ctx, metav1.ListOptions{})
		if err != nil || len(pools.Items) != 1 {
			t.Errorf("pools = %+v, %v; want the default pool alone", pools, err)
		}
	})

	t.Run("every component is a named post-start hook", func(t *testing.T) {
		// /readyz lists each post-start hook as a check. The allocator is
		// never ready here (no kube-apiserver: namespaces never sync), so
		// the answer is a 500 whose body still lists every check.
		body, _ := client.Discovery().RESTClient().Get().AbsPath("/readyz").Param("verbose", "true").DoRaw(ctx)
		for _, check := range []string{
			"poststarthook/start-kubemacpool-informers",
			"poststarthook/kubemacpool-allocator-informers",
			"poststarthook/kubemacpool-pool-status",
			"poststarthook/kubemacpool-lease-controller",
			"poststarthook/kubemacpool-default-pool",
			"poststarthook/kubemacpool-metrics-listener",
			"kubemacpool-allocator-synced",
		} {
			if !strings.Contains(string(body), "]"+check+" ") {
				t.Errorf("/readyz?verbose lists no check %s:\n%s", check, body)
			}
		}
	})

	const name, address = "02-00-00-00-00-0a", "02:00:00:00:00:0a"
	t.Run("create, get and list a static reservation", func(t *testing.T) {
		created, err := leases("tenant-a").Create(ctx, &v1alpha1.MacLease{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating %s in tenant-a: %v", name, err)
		}
		if created.Spec.MACAddress != address || created.Namespace != "tenant-a" || created.UID == "" {
			t.Errorf("created lease = %+v, want spec.macAddress %s filled in from the name", created, address)
		}
		got, err := leases("tenant-a").Get(ctx, name, metav1.GetOptions{})
		if err != nil || got.UID != created.UID {
			t.Errorf("get = %+v, %v", got, err)
		}
		for _, namespace := range []string{"tenant-a", metav1.NamespaceAll} {
			list, err := leases(namespace).List(ctx, metav1.ListOptions{})
			if err != nil || len(list.Items) != 1 || list.Items[0].Name != name {
				t.Errorf("list in %q = %+v, %v; want the one lease", namespace, list, err)
			}
		}
		list, err := leases("tenant-b").List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) != 0 {
			t.Errorf("list in tenant-b = %+v, %v; want nothing from tenant-a", list, err)
		}
		selected, err := leases(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: "spec.macAddress=" + address + ",spec.owner.kind="})
		if err != nil || len(selected.Items) != 1 {
			t.Errorf("list by field selector = %+v, %v; want the reservation", selected, err)
		}
	})

	t.Run("the same MAC from another namespace is a conflict that names no holder", func(t *testing.T) {
		_, err := leases("tenant-b").Create(ctx, &v1alpha1.MacLease{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			t.Fatalf("second lease of %s from tenant-b: err = %v, want 409 AlreadyExists", name, err)
		}
		if strings.Contains(err.Error(), "tenant-a") {
			t.Errorf("the refusal leaks the holder's namespace: %v", err)
		}
		// The colon form of the same address is the same address.
		_, err = leases("tenant-b").Create(ctx, &v1alpha1.MacLease{Spec: v1alpha1.MacLeaseSpec{MACAddress: "02:00:00:00:00:0A"}}, metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			t.Errorf("second lease by spec.macAddress in upper case: err = %v, want 409 AlreadyExists", err)
		}
	})

	t.Run("another namespace sees nothing", func(t *testing.T) {
		_, err := leases("tenant-b").Get(ctx, name, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("get of tenant-a's lease through tenant-b: err = %v, want NotFound", err)
		}
		if err := leases("tenant-b").Delete(ctx, name, metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("delete of tenant-a's lease through tenant-b: err = %v, want NotFound", err)
		}
		if _, err := leases("tenant-a").Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("tenant-a's lease after tenant-b's delete: %v", err)
		}
	})

	t.Run("invalid lease is a 422 naming the field", func(t *testing.T) {
		_, err := leases("tenant-a").Create(ctx, &v1alpha1.MacLease{ObjectMeta: metav1.ObjectMeta{Name: "01-00-5e-00-00-01"}}, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.macAddress") {
			t.Errorf("multicast lease: err = %v, want Invalid on spec.macAddress", err)
		}
	})

	t.Run("release and lease again elsewhere", func(t *testing.T) {
		if err := leases("tenant-a").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete in tenant-a: %v", err)
		}
		if _, err := leases("tenant-b").Create(ctx, &v1alpha1.MacLease{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Errorf("lease of the released %s in tenant-b: %v", name, err)
		}
	})
}

// Without --etcd-servers the server brings its own etcd: it serves before
// the storage is used, keeps the data across a restart, and is stopped
// with the server.
func TestServerOnEmbeddedEtcd(t *testing.T) {
	dataDir, clientURL := t.TempDir(), embeddedetcdtest.FreeLoopbackURL(t)
	storage := func() []string {
		// A new peer port for each start: the old one may linger.
		return []string{"--embedded-etcd-data-dir=" + dataDir, "--embedded-etcd-client-url=" + clientURL,
			"--embedded-etcd-peer-url=" + embeddedetcdtest.FreeLoopbackURL(t), "--range-start=0a:00:00:00:00:00", "--range-end=0a:00:00:00:FF:FF"}
	}
	ctx := context.Background()
	client, stop := startServerOn(t, storage())
	// The generic etcd checks, added once the embedded etcd serves.
	body, _ := client.Discovery().RESTClient().Get().AbsPath("/readyz").Param("verbose", "true").DoRaw(ctx)
	for _, check := range []string{"etcd", "etcd-readiness"} {
		if !strings.Contains(string(body), "[+]"+check+" ok") {
			t.Errorf("/readyz?verbose has no passing check %s:\n%s", check, body)
		}
	}
	lease := &v1alpha1.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: "02-00-00-00-00-0b"},
		Spec:       v1alpha1.MacLeaseSpec{MACAddress: "02:00:00:00:00:0b"},
	}
	if _, err := client.MacpoolV1alpha1().MacLeases("tenant").Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a lease: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("stopping the server: %v", err)
	}
	// The embedded etcd stopped with the server: its client port is free.
	listener, err := net.Listen("tcp", strings.TrimPrefix(clientURL, "http://"))
	if err != nil {
		t.Fatalf("the embedded etcd still holds its client port after the server stopped: %v", err)
	}
	listener.Close()

	client, _ = startServerOn(t, storage())
	if _, err := client.MacpoolV1alpha1().MacLeases("tenant").Get(ctx, lease.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("the lease after a restart on the same data directory: %v", err)
	}
}
