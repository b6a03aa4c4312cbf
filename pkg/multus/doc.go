// Package multus is what Kubemacpool knows of multus: it reads and rewrites
// the network selection annotation of a Pod (k8s.v1.cni.cncf.io/networks)
// so that the pod admission webhook can give every secondary interface a
// cluster-unique MAC, and the lease controller can read a pod's MACs back.
//
// The webhook patches only that one annotation, so this package must never
// change anything it does not own. Three rules follow from that:
//
//   - Lossless: every member of a JSON element, known to multus or not, is
//     kept as the raw JSON text the user wrote and written back in its
//     original position. The only edit ever made is the "mac" member of an
//     element that had none (or had an empty or null one). Nothing that was
//     absent is added, not even a null.
//   - Honest about change: Changed reports whether any MAC was set, so the
//     caller can leave the annotation byte-for-byte alone otherwise. This
//     matters most for the comma form ("net1,ns/net2@eth1"), which cannot
//     carry a MAC and is therefore re-encoded as a JSON list only when an
//     element needs one.
//   - Same reading as multus: the JSON form is recognised the way multus
//     recognises it (the value contains '[', '{' or '"'), a single JSON
//     object counts as a one-element list, member names match
//     case-insensitively as Go's encoding/json (which multus uses) matches
//     them, the deprecated "interfaceRequest" member is used when
//     "interface" is empty, and an empty namespace means the pod's own.
//
// A requested MAC in any case or dash form is reported canonically in
// Network.MAC, but the user's text is left untouched in the annotation:
// multus and the CNI plugins accept it as written, and rewriting it would
// be a change the user did not ask for.
//
// Parse rejects, with a message naming the annotation, the element and the
// network, what can never work: invalid JSON, elements without a name,
// names that cannot be a Kubernetes object or namespace name, interface
// names the CNI library refuses, MACs that are not unicast, duplicate
// members, and inputs beyond MaxAnnotationLength or MaxElements. An empty
// or blank annotation is not an error: it selects no networks.
//
// Typical use in the webhook:
//
//	networks, err := multus.Parse(pod.Annotations[multus.NetworksAnnotation], namespace)
//	if err != nil { deny(err) }
//	for i, network := range networks.Elements() {
//		if network.MAC == "" {
//			address := allocate(network.Key())
//			if err := networks.SetMAC(i, address); err != nil { ... }
//		}
//	}
//	if networks.Changed() {
//		value, err := networks.Encode()
//		// patch the annotation with value
//	}
package multus
