package certificate

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func secretWith(data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{Type: corev1.SecretTypeTLS, Data: data}
}

func TestParseSecretRejectsBrokenContent(t *testing.T) {
	good, _ := settle(t, nil, start, compressedPolicy)
	other, _ := settle(t, nil, start, compressedPolicy)
	goodData, err := good.secretData()
	if err != nil {
		t.Fatal(err)
	}
	otherData, err := other.secretData()
	if err != nil {
		t.Fatal(err)
	}
	with := func(key string, value []byte) map[string][]byte {
		data := map[string][]byte{}
		for k, v := range goodData {
			data[k] = v
		}
		if value == nil {
			delete(data, key)
		} else {
			data[key] = value
		}
		return data
	}
	for _, tc := range []struct {
		name    string
		data    map[string][]byte
		wantErr string
	}{
		{name: "no CA", data: with(CABundleKey, nil), wantErr: "ca.crt: no certificate"},
		{name: "garbage CA", data: with(CABundleKey, []byte("not PEM")), wantErr: "ca.crt"},
		{name: "serving certificate as CA", data: with(CABundleKey, goodData["tls.crt"]), wantErr: "not a CA"},
		{name: "CA key of another CA", data: with(caKeyKey, otherData[caKeyKey]), wantErr: "does not belong"},
		{name: "no serving key", data: with("tls.key", nil), wantErr: "tls.key"},
		{name: "serving key of another certificate", data: with("tls.key", otherData["tls.key"]), wantErr: "tls.crt and tls.key"},
		{name: "serving certificate from another CA", data: with("tls.crt", otherData["tls.crt"]), wantErr: "tls.crt and tls.key"},
		{name: "serving pair from another CA", data: with("tls.key", otherData["tls.key"]), wantErr: "tls.crt and tls.key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseSecret(secretWith(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("parseSecret() error = %v, want one about %q", err, tc.wantErr)
			}
		})
	}
	t.Run("serving pair signed by a CA outside the bundle", func(t *testing.T) {
		data := with("tls.crt", otherData["tls.crt"])
		data["tls.key"] = otherData["tls.key"]
		if _, err := parseSecret(secretWith(data)); err == nil || !strings.Contains(err.Error(), "not signed by any CA") {
			t.Fatalf("parseSecret() error = %v, want one about the signature", err)
		}
	})
}

// TestPEMFormats pins what the Secret holds and what it may hold: the
// manager writes PKCS #8 keys and plain certificate bundles, reads SEC 1 keys
// as other tools write them, and refuses a bundle with anything but
// certificates in it.
func TestPEMFormats(t *testing.T) {
	m, _ := settle(t, nil, start, compressedPolicy)
	data, err := m.secretData()
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{caKeyKey, corev1.TLSPrivateKeyKey} {
		if block, _ := pem.Decode(data[key]); block == nil || block.Type != "PRIVATE KEY" {
			t.Errorf("%s: want one PKCS #8 PRIVATE KEY block, got %q", key, data[key])
		}
	}
	if cas, err := parseCertificates(data[CABundleKey]); err != nil || len(cas) != len(m.cas) || !cas[0].Equal(m.cas[0]) {
		t.Errorf("%s does not read back as the CAs written: %v", CABundleKey, err)
	}

	sec1, err := x509.MarshalECPrivateKey(m.servingKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	withSEC1 := maps.Clone(data)
	withSEC1[corev1.TLSPrivateKeyKey] = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	if _, err := parseSecret(secretWith(withSEC1)); err != nil {
		t.Errorf("an EC PRIVATE KEY serving key: %v", err)
	}

	for name, bundle := range map[string][]byte{
		"a key in the bundle":  append(bytes.Clone(data[CABundleKey]), data[caKeyKey]...),
		"text after a bundle":  append(bytes.Clone(data[CABundleKey]), "junk"...),
		"a certificate header": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")}),
	} {
		if _, err := parseCertificates(bundle); err == nil {
			t.Errorf("%s: parsed, want an error", name)
		}
	}
	if _, err := parsePrivateKey(data[CABundleKey]); err == nil {
		t.Error("a certificate parsed as a private key")
	}
}
