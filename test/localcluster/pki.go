package localcluster

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
)

const (
	kubemacpoolNamespace      = "kubemacpool-system"
	kubemacpoolServiceName    = "kubemacpool-apiserver"
	kubemacpoolServiceAccount = "kubemacpool-apiserver"
	frontProxyClientName      = "front-proxy-client"
	// WebhookCallerUser is the user kube-apiserver authenticates as when it
	// calls kubemacpool's admission webhooks (its AdmissionConfiguration
	// kubeConfigFile). artifacts/local binds ClusterRole
	// kubemacpool-webhook-caller to it, and nobody else may call them.
	WebhookCallerUser = "system:kube-apiserver:webhook-client"
)

// clusterPKI is every certificate and key the control plane needs. Each one is
// reused from RootDir/pki when still valid, so kubeconfigs handed out by an
// earlier start keep working. kubemacpool-apiserver's serving certificate is
// not among them: the server manages it, as it does in a real cluster.
type clusterPKI struct {
	clusterCA         *keyPair // signs kube-apiserver's serving certificate
	apiserverServing  *keyPair
	clientCA          *keyPair // kube-apiserver trusts client certificates it signed
	admin             *keyPair
	controllerManager *keyPair
	frontProxyCA      *keyPair // aggregated servers trust request headers signed by it
	frontProxyClient  *keyPair
	// webhookClient is what kube-apiserver presents to the webhooks; an
	// older RootDir without it gets one on its next start.
	webhookClient     *keyPair
	serviceAccountKey string // RSA key file that signs and verifies SA tokens
}

func loadOrCreatePKI(l layout) (*clusterPKI, error) {
	if err := os.MkdirAll(l.pkiDir(), 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", l.pkiDir(), err)
	}
	p := &clusterPKI{serviceAccountKey: l.pki("sa.key")}
	var err error
	ca := func(name, commonName string) *keyPair {
		if err != nil {
			return nil
		}
		var kp *keyPair
		kp, err = loadOrCreateCA(l.pki(name+".crt"), l.pki(name+".key"), commonName)
		if err != nil {
			err = fmt.Errorf("CA %s: %w", name, err)
		}
		return kp
	}
	leaf := func(name string, signer *keyPair, spec leafSpec) *keyPair {
		if err != nil {
			return nil
		}
		var kp *keyPair
		kp, err = loadOrCreateLeaf(l.pki(name+".crt"), l.pki(name+".key"), signer, spec)
		if err != nil {
			err = fmt.Errorf("certificate %s: %w", name, err)
		}
		return kp
	}

	p.clusterCA = ca("ca", "kubemacpool-local-cluster-ca")
	p.apiserverServing = leaf("apiserver", p.clusterCA, leafSpec{
		commonName: "kube-apiserver",
		dnsNames:   []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		// 10.96.0.1 is the kubernetes Service IP; no traffic goes there,
		// it only keeps the certificate honest about the Service.
		ips:   []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
		usage: x509.ExtKeyUsageServerAuth,
	})
	p.clientCA = ca("client-ca", "kubemacpool-local-client-ca")
	p.admin = leaf("admin", p.clientCA, leafSpec{
		commonName:    "kubernetes-admin",
		organizations: []string{"system:masters"},
		usage:         x509.ExtKeyUsageClientAuth,
	})
	// system:masters keeps the local controller manager simple: it runs
	// only a few controllers, with its own identity in the audit log.
	p.controllerManager = leaf("controller-manager", p.clientCA, leafSpec{
		commonName:    "system:kube-controller-manager",
		organizations: []string{"system:masters"},
		usage:         x509.ExtKeyUsageClientAuth,
	})
	// No group: the identity may do nothing but call the webhooks.
	p.webhookClient = leaf("webhook-client", p.clientCA, leafSpec{
		commonName: WebhookCallerUser,
		usage:      x509.ExtKeyUsageClientAuth,
	})
	p.frontProxyCA = ca("front-proxy-ca", "kubemacpool-local-front-proxy-ca")
	p.frontProxyClient = leaf("front-proxy-client", p.frontProxyCA, leafSpec{
		commonName: frontProxyClientName,
		usage:      x509.ExtKeyUsageClientAuth,
	})
	if err != nil {
		return nil, err
	}
	if err := loadOrCreateRSAKey(p.serviceAccountKey); err != nil {
		return nil, fmt.Errorf("service-account key: %w", err)
	}
	return p, nil
}
