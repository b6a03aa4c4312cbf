package multus

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"
)

// The checks below refuse only what multus could never set up: it looks
// the network up as a NetworkAttachmentDefinition, whose name must be a
// DNS-1123 subdomain in a namespace whose name must be a DNS-1123 label,
// and hands the interface name to libcni, which checks it as below. As a
// consequence names never contain '/' or '@', which keeps Key unambiguous.

func validateName(name string) error {
	if plainSubdomain(name) {
		return nil
	}
	if problems := validation.IsDNS1123Subdomain(name); len(problems) > 0 {
		return fmt.Errorf("network name %q cannot name a NetworkAttachmentDefinition: %s", name, strings.Join(problems, "; "))
	}
	return nil
}

func validateNamespace(namespace string) error {
	if len(namespace) <= validation.DNS1123LabelMaxLength && plainLabel(namespace) {
		return nil
	}
	if problems := validation.IsDNS1123Label(namespace); len(problems) > 0 {
		return fmt.Errorf("namespace %q is not a valid namespace name: %s", namespace, strings.Join(problems, "; "))
	}
	return nil
}

// plainSubdomain and plainLabel accept what IsDNS1123Subdomain and
// IsDNS1123Label accept, without their regular expressions, which cost more
// than the rest of Parse; whatever they refuse is checked again by those
// functions, for the message. TestPlainDNSNames checks them against those.

// plainSubdomain reports a DNS-1123 subdomain: labels joined by dots.
func plainSubdomain(name string) bool {
	if len(name) > validation.DNS1123SubdomainMaxLength {
		return false
	}
	for {
		label, rest, more := strings.Cut(name, ".")
		if !plainLabel(label) {
			return false
		}
		if !more {
			return true
		}
		name = rest
	}
}

// plainLabel reports lower-case alphanumerics and '-', neither first nor
// last, at least one; unlike a DNS-1123 label, any length.
func plainLabel(label string) bool {
	if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	for i := 0; i < len(label); i++ {
		if c := label[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// maxInterfaceName is IFNAMSIZ-1, the longest Linux interface name.
const maxInterfaceName = 15

// validateInterface mirrors ValidateInterfaceName of the CNI library
// (github.com/containernetworking/cni/pkg/utils), which refuses the name
// before any plugin runs, and also requires valid UTF-8.
func validateInterface(name string) error {
	if len(name) > maxInterfaceName {
		return fmt.Errorf("interface name %q is longer than %d bytes", name, maxInterfaceName)
	}
	// JSON cannot carry invalid UTF-8: encoding would replace it, so the
	// interface written would not be the one read.
	if !utf8.ValidString(name) {
		return fmt.Errorf("interface name %q is not valid UTF-8", name)
	}
	if name == "." || name == ".." {
		return fmt.Errorf("interface name %q is not allowed", name)
	}
	for _, r := range name {
		if r == '/' || r == ':' || unicode.IsSpace(r) {
			return fmt.Errorf("interface name %q contains %q; '/', ':' and blanks are not allowed", name, r)
		}
	}
	return nil
}
