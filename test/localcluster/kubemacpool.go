package localcluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

const (
	kubemacpoolReadyTimeout = 2 * time.Minute
	// tokenLifetime outlives any local session; a new token is requested on
	// every start anyway.
	tokenLifetime = 365 * 24 * time.Hour
)

// kubemacpoolName names replica i in logs and errors; replica 0 keeps the
// name (and log file) of the single replica.
func kubemacpoolName(i int) string {
	if i == 0 {
		return "kubemacpool-apiserver"
	}
	return "kubemacpool-apiserver-" + strconv.Itoa(i)
}

// kubemacpoolURL is where replica i serves its API, /readyz and the webhooks.
func (c *Cluster) kubemacpoolURL(i int) string {
	return "https://127.0.0.1:" + strconv.Itoa(c.ports.kubemacpool(i).Secure)
}

// MetricsURL is the plain Prometheus endpoint of kubemacpool-apiserver
// (replica 0), unless KubemacpoolArgs moved it.
func (c *Cluster) MetricsURL() string { return c.KubemacpoolReplicaMetricsURL(0) }

// KubemacpoolReplicaMetricsURL is the plain Prometheus endpoint of replica i,
// unless KubemacpoolArgs moved it.
func (c *Cluster) KubemacpoolReplicaMetricsURL(i int) string {
	return fmt.Sprintf("http://127.0.0.1:%d/metrics", c.ports.kubemacpool(i).Metrics)
}

// KubemacpoolReplicaConfig returns an admin client configuration that talks
// to replica i of kubemacpool-apiserver directly, bypassing the aggregator
// and the Service balancer, which pick a replica themselves. The replica authenticates the admin client
// certificate itself: its delegated authentication trusts kube-apiserver's
// client CA, published in kube-system/extension-apiserver-authentication,
// and kube-apiserver authorizes system:masters. The client trusts the CA
// bundle of the moment; after a CA rotation, ask again. It panics for an i
// outside 0..KubemacpoolReplicas-1, which is a mistake in the caller, and
// when the CA cannot be read.
func (c *Cluster) KubemacpoolReplicaConfig(i int) *rest.Config {
	if n := c.opts.kubemacpoolReplicas(); i < 0 || i >= n {
		panic(fmt.Sprintf("localcluster: kubemacpool-apiserver replica %d requested, the cluster runs %d", i, n))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bundle, err := c.KubemacpoolCABundle(ctx)
	if err != nil {
		panic(fmt.Sprintf("localcluster: a client for replica %d needs the kubemacpool CA: %v", i, err))
	}
	return &rest.Config{
		Host: c.kubemacpoolURL(i),
		TLSClientConfig: rest.TLSClientConfig{
			CAData:     bundle,
			ServerName: kubemacpoolServerName,
			CertFile:   c.pki.admin.certFile,
			KeyFile:    c.pki.admin.keyFile,
		},
	}
}

// kubemacpoolArgs are the flags of replica i. Replicas differ only in their
// ports; with several, all use the control plane's etcd instead of an
// embedded one, so that they share one store as in a real deployment.
func (c *Cluster) kubemacpoolArgs(i int) []string {
	kubeconfig := c.layout.kubemacpoolKubeconfig()
	replicaPorts := c.ports.kubemacpool(i)
	args := []string{
		"--secure-port=" + strconv.Itoa(replicaPorts.Secure),
		"--bind-address=127.0.0.1",
		// The server manages its own CA and serving certificate, as in a
		// real cluster: Secret kubemacpool-service in kubemacpool-system.
		"--certificate-namespace=" + kubemacpoolNamespace,
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--metric-addr=" + fmt.Sprintf("127.0.0.1:%d", replicaPorts.Metrics),
	}
	if c.opts.sharedEtcd() {
		args = append(args, "--etcd-servers="+c.kubemacpoolEtcdServers())
	} else {
		args = append(args,
			"--embedded-etcd-data-dir="+c.layout.kubemacpoolEtcdDir(),
			"--embedded-etcd-client-url="+c.embeddedEtcdClientURL(),
			"--embedded-etcd-peer-url="+fmt.Sprintf("http://127.0.0.1:%d", c.ports.KubemacpoolEtcdPeer),
		)
	}
	if c.opts.AuditLog {
		args = append(args,
			"--audit-policy-file="+filepath.Join(c.opts.ArtifactsDir, "deploy", "base", "audit-policy.yaml"),
			"--audit-log-path="+c.KubemacpoolAuditLog(i),
		)
	}
	return append(args, c.opts.KubemacpoolArgs...)
}

// KubemacpoolAuditLog is the audit log file of replica i, written with
// Options.AuditLog: one JSON event (audit.k8s.io/v1) per line.
func (c *Cluster) KubemacpoolAuditLog(i int) string {
	return c.layout.log(kubemacpoolName(i) + "-audit")
}

// writeKubemacpoolKubeconfig gives kubemacpool-apiserver the identity it has
// in a real cluster: its ServiceAccount, through a TokenRequest token, so the
// RBAC in artifacts/ is exercised as it would be in-cluster.
func (c *Cluster) writeKubemacpoolKubeconfig(ctx context.Context) error {
	lifetime := int64(tokenLifetime / time.Second)
	token, err := c.client.CoreV1().ServiceAccounts(kubemacpoolNamespace).CreateToken(ctx, kubemacpoolServiceAccount,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &lifetime}},
		metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", kubemacpoolNamespace, kubemacpoolServiceAccount, err)
	}
	user := "system:serviceaccount:" + kubemacpoolNamespace + ":" + kubemacpoolServiceAccount
	return c.writeKubeconfig(c.layout.kubemacpoolKubeconfig(), kubeconfigCredentials{user: user, token: token.Status.Token})
}

// kubemacpoolSlot is where the process of replica i is tracked.
func (c *Cluster) kubemacpoolSlot(i int) **process {
	if i == 0 {
		return &c.kubemacpool
	}
	return &c.kubemacpoolReplicas[i-1]
}

// startKubemacpool starts every replica of kubemacpool-apiserver, waits for
// the /readyz of each, and (re)registers the APIService, which reaches them
// through the Service balancer. The
// replicas start together rather than one after the other: each spends most
// of its start waiting for kube-apiserver and storage, not for the CPU.
func (c *Cluster) startKubemacpool(ctx context.Context) error {
	replicas := make([]*process, c.opts.kubemacpoolReplicas())
	for i := range replicas {
		name := kubemacpoolName(i)
		if c.opts.sharedEtcd() {
			c.progress("starting %s on %s (data in etcd %s)", name, c.kubemacpoolURL(i), c.kubemacpoolEtcdServers())
		} else {
			c.progress("starting %s on %s (data in %s)", name, c.kubemacpoolURL(i), c.layout.kubemacpoolEtcdDir())
		}
		proc, err := startProcess(name, c.opts.KubemacpoolBinary, c.kubemacpoolArgs(i), c.layout.log(name))
		if err != nil {
			return err
		}
		if err := c.track(c.kubemacpoolSlot(i), proc); err != nil {
			return err
		}
		replicas[i] = proc
	}
	for i, proc := range replicas {
		if err := waitUntil(ctx, kubemacpoolName(i)+" /readyz", kubemacpoolReadyTimeout, proc, c.kubemacpoolReadyzCheck(i)); err != nil {
			return err
		}
	}
	c.progress("registering APIService %s", apiServiceName)
	if err := c.registerAPIService(ctx); err != nil {
		return err
	}
	return c.waitAPIServiceServed(ctx, replicas[0])
}

// kubemacpoolReadyzCheck returns a check of the /readyz of replica i that
// verifies its certificate with the CA bundle the server published. /readyz needs no
// credentials: k8s.io/apiserver always allows it.
func (c *Cluster) kubemacpoolReadyzCheck(i int) func(context.Context) error {
	url := c.kubemacpoolURL(i) + "/readyz"
	return func(ctx context.Context) error {
		// Read on every attempt: the server creates the Secret on its
		// first start, and may have rotated the CA since.
		roots, err := c.kubemacpoolRoots(ctx)
		if err != nil {
			return err
		}
		client := &http.Client{
			Timeout: 5 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{
				RootCAs: roots, ServerName: kubemacpoolServerName, MinVersion: tls.VersionTLS12}},
		}
		defer client.CloseIdleConnections()
		return checkGet(ctx, client, url, "")
	}
}
