package certificate

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// Keys of the Secret. tls.crt and tls.key are the kubernetes.io/tls keys, so
// the Secret can also be mounted by anything that expects a TLS Secret.
const (
	CABundleKey = "ca.crt"
	caKeyKey    = "ca.key"
)

// material is the parsed content of the Secret.
type material struct {
	// cas are the trusted CAs, newest first. cas[0] signs new certificates.
	cas   []*x509.Certificate
	caKey crypto.Signer
	// serving is the serving certificate, signed by one of cas.
	serving    *x509.Certificate
	servingKey crypto.Signer
}

// newest is the CA that signs new serving certificates.
func (m *material) newest() *x509.Certificate { return m.cas[0] }

// issuer returns the CA of cas that signed the serving certificate.
func (m *material) issuer() *x509.Certificate {
	for _, ca := range m.cas {
		if m.serving.CheckSignatureFrom(ca) == nil {
			return ca
		}
	}
	return nil
}

// parseSecret reads the Secret. Any error means the Secret cannot be used as
// it is and must be generated anew.
func parseSecret(secret *corev1.Secret) (*material, error) {
	cas, err := parseCertificates(secret.Data[CABundleKey])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CABundleKey, err)
	}
	for _, ca := range cas {
		if !ca.IsCA {
			return nil, fmt.Errorf("%s: certificate %q is not a CA", CABundleKey, ca.Subject.CommonName)
		}
	}
	caKey, err := parsePrivateKey(secret.Data[caKeyKey])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", caKeyKey, err)
	}
	if !publicKeysEqual(cas[0].PublicKey, caKey.Public()) {
		return nil, fmt.Errorf("%s does not belong to the first CA of %s", caKeyKey, CABundleKey)
	}
	servingChain, err := parseCertificates(secret.Data[corev1.TLSCertKey])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", corev1.TLSCertKey, err)
	}
	servingKey, err := parsePrivateKey(secret.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", corev1.TLSPrivateKeyKey, err)
	}
	// The pair must load the way the TLS server will load it.
	if _, err := tls.X509KeyPair(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey]); err != nil {
		return nil, fmt.Errorf("%s and %s: %w", corev1.TLSCertKey, corev1.TLSPrivateKeyKey, err)
	}
	m := &material{cas: cas, caKey: caKey, serving: servingChain[0], servingKey: servingKey}
	if m.issuer() == nil {
		return nil, fmt.Errorf("%s is not signed by any CA of %s", corev1.TLSCertKey, CABundleKey)
	}
	return m, nil
}

// secretData encodes m the way parseSecret reads it.
func (m *material) secretData() (map[string][]byte, error) {
	caKey, err := encodePrivateKey(m.caKey)
	if err != nil {
		return nil, err
	}
	servingKey, err := encodePrivateKey(m.servingKey)
	if err != nil {
		return nil, err
	}
	bundle, err := certutil.EncodeCertificates(m.cas...)
	if err != nil {
		return nil, fmt.Errorf("encoding the CA bundle: %w", err)
	}
	serving, err := certutil.EncodeCertificates(m.serving)
	if err != nil {
		return nil, fmt.Errorf("encoding the serving certificate: %w", err)
	}
	return map[string][]byte{
		CABundleKey:             bundle,
		caKeyKey:                caKey,
		corev1.TLSCertKey:       serving,
		corev1.TLSPrivateKeyKey: servingKey,
	}, nil
}

// parseCertificates reads a PEM bundle of certificates only. It is stricter
// than client-go's cert.ParseCertsPEM, which skips blocks of other types and
// ignores trailing text: a Secret holding anything else was not written by
// this manager and is generated anew.
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != certutil.CertificateBlockType {
			return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate")
	}
	if len(bytes.TrimSpace(data)) != 0 {
		return nil, errors.New("trailing data after the certificates")
	}
	return certs, nil
}

// parsePrivateKey reads the first PEM private key of data (PKCS #8, or SEC 1
// and PKCS #1 as other tools write them).
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	key, err := keyutil.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	return signer, nil
}

// encodePrivateKey writes key as PKCS #8 ("PRIVATE KEY"). client-go's
// keyutil.MarshalPrivateKeyToPEM would write an ECDSA key as SEC 1 ("EC
// PRIVATE KEY"): both parse, but the Secret keeps the one format it always
// had.
func encodePrivateKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding a private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: keyutil.PrivateKeyBlockType, Bytes: der}), nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type comparable interface{ Equal(crypto.PublicKey) bool }
	ka, ok := a.(comparable)
	return ok && ka.Equal(b)
}

// coversNames tells whether cert is valid for every name.
func coversNames(cert *x509.Certificate, names []string) bool {
	return !slices.ContainsFunc(names, func(name string) bool { return cert.VerifyHostname(name) != nil })
}

// validAt tells whether now is inside the certificate's validity.
func validAt(cert *x509.Certificate, now time.Time) bool {
	return !now.Before(cert.NotBefore) && now.Before(cert.NotAfter)
}
