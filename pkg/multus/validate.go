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
	if problems := validation.IsDNS1123Subdomain(name); len(problems) > 0 {
		return fmt.Errorf("network name %q cannot name a NetworkAttachmentDefinition: %s", name, strings.Join(problems, "; "))
	}
	return nil
}

func validateNamespace(namespace string) error {
	if problems := validation.IsDNS1123Label(namespace); len(problems) > 0 {
		return fmt.Errorf("namespace %q is not a valid namespace name: %s", namespace, strings.Join(problems, "; "))
	}
	return nil
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
