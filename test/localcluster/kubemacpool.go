package localcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	kubemacpoolReadyTimeout = 2 * time.Minute
	// tokenLifetime outlives any local session; a new token is requested on
	// every start anyway.
	tokenLifetime = 365 * 24 * time.Hour
)

func (c *Cluster) kubemacpoolURL() string {
	return "https://127.0.0.1:" + strconv.Itoa(c.ports.Kubemacpool)
}

// MetricsURL is the plain Prometheus endpoint of kubemacpool-apiserver,
// unless KubemacpoolArgs moved it.
func (c *Cluster) MetricsURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/metrics", c.ports.KubemacpoolMetrics)
}

func (c *Cluster) kubemacpoolArgs() []string {
	kubeconfig := c.layout.kubemacpoolKubeconfig()
	args := []string{
		"--secure-port=" + strconv.Itoa(c.ports.Kubemacpool),
		"--bind-address=127.0.0.1",
		"--tls-cert-file=" + c.pki.kubemacpoolServing.certFile,
		"--tls-private-key-file=" + c.pki.kubemacpoolServing.keyFile,
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--embedded-etcd-data-dir=" + c.layout.kubemacpoolEtcdDir(),
		"--embedded-etcd-client-url=" + fmt.Sprintf("http://127.0.0.1:%d", c.ports.KubemacpoolEtcdClient),
		"--embedded-etcd-peer-url=" + fmt.Sprintf("http://127.0.0.1:%d", c.ports.KubemacpoolEtcdPeer),
		"--metric-addr=" + fmt.Sprintf("127.0.0.1:%d", c.ports.KubemacpoolMetrics),
	}
	return append(args, c.opts.KubemacpoolArgs...)
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

// startKubemacpool starts kubemacpool-apiserver, waits for its /readyz, and
// (re)registers it with the aggregator.
func (c *Cluster) startKubemacpool(ctx context.Context) error {
	c.progress("starting kubemacpool-apiserver on %s (data in %s)", c.kubemacpoolURL(), c.layout.kubemacpoolEtcdDir())
	proc, err := startProcess("kubemacpool-apiserver", filepath.Join(c.opts.BinDir, "kubemacpool-apiserver"), c.kubemacpoolArgs(), c.layout.log("kubemacpool-apiserver"))
	if err != nil {
		return err
	}
	if err := c.track(&c.kubemacpool, proc); err != nil {
		return err
	}
	if err := waitUntil(ctx, "kubemacpool-apiserver /readyz", kubemacpoolReadyTimeout, proc, c.kubemacpoolReadyzCheck()); err != nil {
		return err
	}
	c.progress("registering APIService %s", apiServiceName)
	if err := c.registerAPIService(ctx); err != nil {
		return err
	}
	return c.waitAPIServiceServed(ctx, proc)
}

// kubemacpoolReadyzCheck returns a check of kubemacpool-apiserver's /readyz
// that verifies its certificate with the kubemacpool CA. /readyz needs no
// credentials: k8s.io/apiserver always allows it.
func (c *Cluster) kubemacpoolReadyzCheck() func(context.Context) error {
	roots := x509.NewCertPool()
	roots.AddCert(c.pki.kubemacpoolCA.cert)
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}},
	}
	url := c.kubemacpoolURL() + "/readyz"
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			return fmt.Errorf("%s: %d %s", url, resp.StatusCode, body)
		}
		return nil
	}
}
