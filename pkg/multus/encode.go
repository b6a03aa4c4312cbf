package multus

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Encode writes the networks as a compact JSON list, whatever form they
// were parsed from: each element's members in their original order with
// their original values, a "mac" set by SetMAC last (or in place of an
// empty one). For the comma form the members are "name", "namespace" only
// if the item named one, and "interface" only if it named one. The result
// is deterministic. Encode fails only if the result would be longer than
// MaxAnnotationLength, which the API server would refuse to store.
func (n *Networks) Encode() (string, error) {
	var out bytes.Buffer
	out.WriteByte('[')
	for i := range n.elements {
		if i > 0 {
			out.WriteByte(',')
		}
		out.WriteByte('{')
		for j, m := range n.elements[i].members {
			if j > 0 {
				out.WriteByte(',')
			}
			out.Write(m.key)
			out.WriteByte(':')
			out.Write(m.value)
		}
		out.WriteByte('}')
	}
	out.WriteByte(']')
	if out.Len() > MaxAnnotationLength {
		return "", fmt.Errorf("encoding the %s annotation: the result is %d bytes long, more than the %d allowed", NetworksAnnotation, out.Len(), MaxAnnotationLength)
	}
	// Every piece came from validated JSON or from quote; checking the
	// whole is cheap insurance that a bug never reaches a pod.
	if !json.Valid(out.Bytes()) {
		return "", fmt.Errorf("encoding the %s annotation: internal error: produced invalid JSON", NetworksAnnotation)
	}
	return out.String(), nil
}
