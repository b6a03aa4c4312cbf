package localcluster

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var unsafeFileNameChars = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// UserKubeconfig writes a kubeconfig for user in groups, authenticated by a
// new client certificate that the cluster's client CA signs, and returns its
// path under <root>/users/. The user has no permissions until RBAC grants
// them; tests use it to check authorization as a non-admin.
func (c *Cluster) UserKubeconfig(user string, groups ...string) (string, error) {
	if user == "" {
		return "", fmt.Errorf("user kubeconfig: empty user name")
	}
	if err := os.MkdirAll(c.layout.usersDir(), 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", c.layout.usersDir(), err)
	}
	// The groups are part of the name so that the same user asked for with
	// other groups does not overwrite a kubeconfig still in use.
	identity := sha256.Sum256([]byte(user + "\x00" + strings.Join(groups, "\x00")))
	base := filepath.Join(c.layout.usersDir(), unsafeFileNameChars.ReplaceAllString(user, "_")+"-"+hex.EncodeToString(identity[:4]))
	clientCert, err := issueLeaf(base+".crt", base+".key", c.pki.clientCA, leafSpec{
		commonName:    user,
		organizations: groups,
		usage:         x509.ExtKeyUsageClientAuth,
	})
	if err != nil {
		return "", fmt.Errorf("issuing client certificate for %s: %w", user, err)
	}
	path := base + ".kubeconfig"
	if err := c.writeKubeconfig(path, kubeconfigCredentials{user: user, clientKey: clientCert}); err != nil {
		return "", err
	}
	return path, nil
}
