package localcluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	// renewBefore makes a reused certificate that is about to expire get
	// replaced instead of failing in the middle of a test run.
	renewBefore = 7 * 24 * time.Hour
)

// keyPair is a certificate with its private key and the files both live in.
type keyPair struct {
	cert     *x509.Certificate
	key      crypto.Signer
	certFile string
	keyFile  string
}

func (kp *keyPair) certPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: kp.cert.Raw})
}

func (kp *keyPair) keyPEM() ([]byte, error) { return keyutil.MarshalPrivateKeyToPEM(kp.key) }

// leafSpec is what a leaf certificate must say; a stored certificate that
// says something else is replaced.
type leafSpec struct {
	commonName    string
	organizations []string
	dnsNames      []string
	ips           []net.IP
	usage         x509.ExtKeyUsage // ExtKeyUsageServerAuth or ExtKeyUsageClientAuth
}

// loadOrCreateCA reuses the CA stored in certFile/keyFile when it is still
// valid and creates a self-signed one otherwise.
func loadOrCreateCA(certFile, keyFile, commonName string) (*keyPair, error) {
	if kp, err := loadKeyPair(certFile, keyFile); err == nil && kp.cert.IsCA && freshEnough(kp.cert) {
		return kp, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating key for CA %s: %w", commonName, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Hour), // tolerate small clock skew
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("signing CA %s: %w", commonName, err)
	}
	return storeKeyPair(der, key, certFile, keyFile)
}

// loadOrCreateLeaf reuses the certificate stored in certFile/keyFile when ca
// signed it, it still matches spec and is not about to expire; otherwise it
// issues a new one from ca.
func loadOrCreateLeaf(certFile, keyFile string, ca *keyPair, spec leafSpec) (*keyPair, error) {
	if kp, err := loadKeyPair(certFile, keyFile); err == nil &&
		kp.cert.CheckSignatureFrom(ca.cert) == nil && freshEnough(kp.cert) && spec.matches(kp.cert) {
		return kp, nil
	}
	return issueLeaf(certFile, keyFile, ca, spec)
}

// issueLeaf always issues a new certificate from ca and stores it.
func issueLeaf(certFile, keyFile string, ca *keyPair, spec leafSpec) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating key for %s: %w", spec.commonName, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.commonName, Organization: spec.organizations},
		DNSNames:     spec.dnsNames,
		IPAddresses:  spec.ips,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{spec.usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, fmt.Errorf("signing certificate for %s: %w", spec.commonName, err)
	}
	return storeKeyPair(der, key, certFile, keyFile)
}

func (s leafSpec) matches(cert *x509.Certificate) bool {
	sameIPs := slices.EqualFunc(s.ips, cert.IPAddresses, func(a, b net.IP) bool { return a.Equal(b) })
	return cert.Subject.CommonName == s.commonName &&
		slices.Equal(cert.Subject.Organization, s.organizations) &&
		slices.Equal(cert.DNSNames, s.dnsNames) &&
		sameIPs &&
		slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{s.usage})
}

// loadOrCreateRSAKey reuses the RSA key in path or writes a new one. The
// service-account token signer only needs a key, no certificate.
func loadOrCreateRSAKey(path string) error {
	if key, err := keyutil.PrivateKeyFromFile(path); err == nil {
		if _, isRSA := key.(*rsa.PrivateKey); isRSA {
			return nil
		}
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generating RSA key: %w", err)
	}
	pemBytes, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return fmt.Errorf("encoding RSA key: %w", err)
	}
	if err := keyutil.WriteKey(path, pemBytes); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func loadKeyPair(certFile, keyFile string) (*keyPair, error) {
	certs, err := certutil.CertsFromFile(certFile)
	if err != nil {
		return nil, err
	}
	key, err := keyutil.PrivateKeyFromFile(keyFile)
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s holds no signing key", keyFile)
	}
	return &keyPair{cert: certs[0], key: signer, certFile: certFile, keyFile: keyFile}, nil
}

func storeKeyPair(der []byte, key crypto.Signer, certFile, keyFile string) (*keyPair, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing new certificate: %w", err)
	}
	kp := &keyPair{cert: cert, key: key, certFile: certFile, keyFile: keyFile}
	keyPEM, err := kp.keyPEM()
	if err != nil {
		return nil, fmt.Errorf("encoding key for %s: %w", certFile, err)
	}
	if err := keyutil.WriteKey(keyFile, keyPEM); err != nil {
		return nil, fmt.Errorf("writing %s: %w", keyFile, err)
	}
	if err := certutil.WriteCert(certFile, kp.certPEM()); err != nil {
		return nil, fmt.Errorf("writing %s: %w", certFile, err)
	}
	return kp, nil
}

func freshEnough(cert *x509.Certificate) bool {
	return time.Now().Add(renewBefore).Before(cert.NotAfter)
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating serial number: %w", err)
	}
	return serial, nil
}
