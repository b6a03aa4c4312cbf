package localcluster

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The first start of kube-apiserver on a fresh etcd bootstraps RBAC roles,
// priority levels and system namespaces; on 2 cores that takes a while.
const kubeAPIServerReadyTimeout = 3 * time.Minute

func (c *Cluster) kubeAPIServerURL() string {
	return "https://127.0.0.1:" + strconv.Itoa(c.ports.KubeAPIServer)
}

func (c *Cluster) kubeAPIServerArgs() []string {
	p := c.pki
	return []string{
		"--etcd-servers=" + c.etcdURL(),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.ports.KubeAPIServer),
		"--tls-cert-file=" + p.apiserverServing.certFile,
		"--tls-private-key-file=" + p.apiserverServing.keyFile,
		"--client-ca-file=" + p.clientCA.certFile,
		"--authorization-mode=RBAC",
		"--service-account-key-file=" + p.serviceAccountKey,
		"--service-account-signing-key-file=" + p.serviceAccountKey,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--api-audiences=https://kubernetes.default.svc",
		// Required by the Service registry; nothing routes traffic there.
		"--service-cluster-ip-range=10.96.0.0/16",
		// The aggregator proxies to kubemacpool-apiserver with this client
		// certificate, and kubemacpool-apiserver trusts the user in the
		// headers because the front-proxy CA signed it.
		"--requestheader-client-ca-file=" + p.frontProxyCA.certFile,
		"--requestheader-allowed-names=" + frontProxyClientName,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + p.frontProxyClient.certFile,
		"--proxy-client-key-file=" + p.frontProxyClient.keyFile,
		// No controller-manager creates the default ServiceAccount of a
		// namespace, and this admission plugin rejects pods without one.
		"--disable-admission-plugins=ServiceAccount",
		// kube-apiserver presents WebhookCallerUser to kubemacpool's
		// webhooks, which serve nobody else.
		"--admission-control-config-file=" + c.layout.admissionConfig(),
		"--enable-priority-and-fairness=false",
		// There is no kubelet or node: never publish endpoints for the
		// kubernetes Service.
		"--endpoint-reconciler-type=none",
	}
}

func (c *Cluster) startKubeAPIServer(ctx context.Context) error {
	c.progress("starting kube-apiserver on %s", c.kubeAPIServerURL())
	proc, err := startProcess("kube-apiserver", filepath.Join(c.opts.BinDir, "kube-apiserver"), c.kubeAPIServerArgs(), c.layout.log("kube-apiserver"))
	if err != nil {
		return err
	}
	if err := c.track(&c.kubeAPIServer, proc); err != nil {
		return err
	}
	if err := waitUntil(ctx, "kube-apiserver /readyz", kubeAPIServerReadyTimeout, proc, c.kubeAPIServerReady); err != nil {
		return err
	}
	// /readyz does not cover what kubemacpool-apiserver reads at start:
	// kube-system (made by a controller) and the authentication ConfigMap
	// in it (published by a post-start hook).
	return waitUntil(ctx, "kube-system/extension-apiserver-authentication", time.Minute, proc, func(ctx context.Context) error {
		_, err := c.client.CoreV1().ConfigMaps("kube-system").Get(ctx, "extension-apiserver-authentication", metav1.GetOptions{})
		return err
	})
}

func (c *Cluster) kubeAPIServerReady(ctx context.Context) error {
	body, err := c.client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("%w: %s", err, body)
	}
	return nil
}
