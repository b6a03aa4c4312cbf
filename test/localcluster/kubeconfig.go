package localcluster

import (
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const kubeconfigContext = "kubemacpool-local"

// kubeconfigCredentials is how a kubeconfig user authenticates: either a
// client certificate or a bearer token.
type kubeconfigCredentials struct {
	user      string
	clientKey *keyPair
	token     string
}

// writeKubeconfig writes a self-contained kubeconfig (CA and credentials
// embedded) for the local kube-apiserver to path.
func (c *Cluster) writeKubeconfig(path string, creds kubeconfigCredentials) error {
	authInfo := &clientcmdapi.AuthInfo{Token: creds.token}
	if creds.clientKey != nil {
		keyPEM, err := creds.clientKey.keyPEM()
		if err != nil {
			return fmt.Errorf("encoding key of %s: %w", creds.user, err)
		}
		authInfo.ClientCertificateData = creds.clientKey.certPEM()
		authInfo.ClientKeyData = keyPEM
	}
	config := clientcmdapi.NewConfig()
	config.Clusters[kubeconfigContext] = &clientcmdapi.Cluster{
		Server:                   c.kubeAPIServerURL(),
		CertificateAuthorityData: c.pki.clusterCA.certPEM(),
	}
	config.AuthInfos[creds.user] = authInfo
	config.Contexts[kubeconfigContext] = &clientcmdapi.Context{Cluster: kubeconfigContext, AuthInfo: creds.user}
	config.CurrentContext = kubeconfigContext
	if err := clientcmd.WriteToFile(*config, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}

func restConfigFromKubeconfig(path string) (*rest.Config, error) {
	config, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s: %w", path, err)
	}
	return config, nil
}
