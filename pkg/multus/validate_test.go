package multus

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

var dnsNames = []string{
	"", "a", "0", "-", "a-", "-a", "a-b", "a--b", "a.b", "a..b", ".a", "a.", "a.-b", "a-.b", "A", "aB", "a_b", "a b", "a\n", "é",
	"my-net.example.com", strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 253), strings.Repeat("a", 254),
	strings.Repeat("a.", 126) + "a", strings.Repeat("a.", 127) + "a",
}

// plainSubdomain and plainLabel never accept what the regular expressions
// of k8s.io/apimachinery refuse, and accept what they accept.
func TestPlainDNSNames(t *testing.T) {
	for _, name := range dnsNames {
		checkPlainDNSName(t, name)
	}
}

func FuzzPlainDNSNames(f *testing.F) {
	for _, name := range dnsNames {
		f.Add(name)
	}
	f.Fuzz(checkPlainDNSName)
}

func checkPlainDNSName(t *testing.T, name string) {
	if got, want := plainSubdomain(name), len(validation.IsDNS1123Subdomain(name)) == 0; got != want {
		t.Errorf("plainSubdomain(%q) = %v, IsDNS1123Subdomain says %v", name, got, want)
	}
	if got, want := len(name) <= validation.DNS1123LabelMaxLength && plainLabel(name), len(validation.IsDNS1123Label(name)) == 0; got != want {
		t.Errorf("plainLabel(%q) = %v, IsDNS1123Label says %v", name, got, want)
	}
}
