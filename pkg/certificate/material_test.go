package certificate

import (
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
