package multus

import (
	"encoding/json"
	"fmt"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// Network is the part of one network selection element the webhook needs.
// It is a copy: changing it does not change the annotation; use SetMAC.
type Network struct {
	// Name is the NetworkAttachmentDefinition the element selects.
	Name string
	// Namespace is the namespace of that NetworkAttachmentDefinition: the
	// one written in the element, or the pod's namespace when the element
	// names none. A defaulted namespace is never written back by Encode.
	Namespace string
	// Interface is the requested interface name inside the pod, "" when
	// the element leaves the choice to multus.
	Interface string
	// MAC is the element's MAC in canonical colon form (02:00:00:00:00:0a):
	// the one the user requested, or the one set with SetMAC; "" if none.
	MAC string
}

// Key identifies the element among the pod's networks as
// "namespace/name" or "namespace/name@interface". Parse guarantees that
// namespace and name contain neither '/' nor '@', so distinct elements
// have distinct keys unless the annotation selects the same network twice
// without distinguishing interface names. It is the lease's interface field.
func (n Network) Key() string {
	key := n.Namespace + "/" + n.Name
	if n.Interface != "" {
		key += "@" + n.Interface
	}
	return key
}

// format records how the annotation was written; Encode always writes a
// JSON list, but knowing the origin helps error messages and tests.
type format int

const (
	formatNone   format = iota // empty or blank annotation
	formatNames                // comma form: net1,ns/net2@eth1
	formatList                 // JSON list of objects
	formatObject               // a single JSON object
)

// member is one "key":value pair of an element, kept as written so that it
// is re-encoded with the same value, whether multus knows it or not.
type member struct {
	name  string          // the key, unescaped, for matching
	key   json.RawMessage // the key literal as written, quotes included
	value json.RawMessage // the value as written, compacted
}

// element is one network selection element with its raw members.
type element struct {
	network Network
	// members in original order; for the comma form they are synthesised
	// from the item, with a namespace member only if one was written.
	members []member
	// macMember is the index in members of the "mac" member, -1 if none.
	// An empty or null "mac" has an index but no Network.MAC, so SetMAC
	// replaces it instead of writing a second, conflicting "mac".
	macMember int
	// requested is true when the MAC came from the user, not from SetMAC.
	requested bool
}

// Networks is a parsed annotation: the elements in their original order
// and whether SetMAC changed any of them. The zero value is an empty
// annotation. It is not safe for concurrent modification.
type Networks struct {
	format   format
	elements []element
	changed  bool
}

// Len is the number of network elements.
func (n *Networks) Len() int { return len(n.elements) }

// Elements returns a copy of the elements in annotation order; index i of
// the result is index i for Key and SetMAC.
func (n *Networks) Elements() []Network {
	networks := make([]Network, len(n.elements))
	for i := range n.elements {
		networks[i] = n.elements[i].network
	}
	return networks
}

// Element returns element i; it panics if i is out of range, like a slice.
func (n *Networks) Element(i int) Network { return n.elements[i].network }

// Key returns Element(i).Key().
func (n *Networks) Key(i int) string { return n.elements[i].network.Key() }

// Changed reports whether SetMAC changed any element since Parse. When it
// is false the caller should keep the original annotation text.
func (n *Networks) Changed() bool { return n.changed }

// SetMAC gives element i the MAC address, to be written by Encode as a
// "mac" member at the end of the element (or in place of an empty or null
// "mac" member). Setting the MAC an element already has is a no-op that
// keeps the user's spelling and does not count as a change. Overwriting a
// different MAC the user requested is refused: that would silently discard
// the user's choice, and the webhook must reserve or reject it instead. A
// MAC set earlier by SetMAC may be replaced, so allocation can be retried.
func (n *Networks) SetMAC(i int, address mac.Address) error {
	return n.setMAC(i, address, false)
}

// ReplaceRequestedMAC gives element i the MAC address in place of the one
// the user requested: the deliberate replacement of conflictPolicy
// Reassign, which SetMAC refuses so that no other path can do it by
// mistake. The element counts as requested no more.
func (n *Networks) ReplaceRequestedMAC(i int, address mac.Address) error {
	return n.setMAC(i, address, true)
}

func (n *Networks) setMAC(i int, address mac.Address, replaceRequested bool) error {
	if i < 0 || i >= len(n.elements) {
		return fmt.Errorf("SetMAC: element index %d out of range: the annotation has %d elements", i, len(n.elements))
	}
	if address > mac.MaxAddress {
		return fmt.Errorf("SetMAC: %#x is not a 48-bit MAC address", uint64(address))
	}
	if address.IsMulticast() {
		return fmt.Errorf("SetMAC: %s is a multicast address and cannot be assigned to an interface", address)
	}
	e := &n.elements[i]
	text := address.String()
	if e.network.MAC == text {
		return nil
	}
	if e.requested && !replaceRequested {
		return fmt.Errorf("SetMAC: element %d (network %q) already requests mac %s; refusing to replace it with %s", i+1, e.network.Name, e.network.MAC, text)
	}
	replacement := member{name: "mac", key: json.RawMessage(`"mac"`), value: quote(text)}
	if e.macMember >= 0 {
		e.members[e.macMember] = replacement
	} else {
		e.members = append(e.members, replacement)
		e.macMember = len(e.members) - 1
	}
	e.network.MAC = text
	e.requested = false
	n.changed = true
	return nil
}
