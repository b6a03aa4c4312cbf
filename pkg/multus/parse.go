package multus

import (
	"errors"
	"fmt"
	"strings"
)

// Parse reads the value of the NetworksAnnotation of a pod in podNamespace
// (the admission request's namespace: pod.Namespace may still be empty on
// create). The value may be a JSON list of network selection elements, a
// single element object, or the comma form "[namespace/]name[@interface],…";
// an empty or blank value selects no networks. Errors name the annotation
// and say what is wrong and where; Parse never panics.
func Parse(annotation, podNamespace string) (*Networks, error) {
	if podNamespace == "" {
		// A programming error, but an easy one to make (see above); a
		// defaulted empty namespace would produce keys like "/net1".
		return nil, errors.New("multus: the pod namespace is empty; pass the namespace of the admission request")
	}
	networks, err := parse(annotation, podNamespace)
	if err != nil {
		return nil, fmt.Errorf("invalid %s annotation: %w", NetworksAnnotation, err)
	}
	return networks, nil
}

func parse(annotation, podNamespace string) (*Networks, error) {
	if len(annotation) > MaxAnnotationLength {
		return nil, fmt.Errorf("value is %d bytes long, more than the %d allowed", len(annotation), MaxAnnotationLength)
	}
	text := strings.TrimSpace(annotation)
	if text == "" {
		return &Networks{format: formatNone}, nil
	}
	// Multus takes any value containing one of these characters for JSON
	// and everything else for the comma form; doing the same means a value
	// is never read one way here and another way by multus.
	if strings.ContainsAny(text, `[{"`) {
		// The untrimmed value, as multus reads it: JSON allows only four
		// blank characters around values, not all that TrimSpace removes.
		elements, form, err := parseJSON(annotation, podNamespace)
		if err != nil {
			return nil, err
		}
		return &Networks{format: form, elements: elements}, nil
	}
	elements, err := parseNames(text, podNamespace)
	if err != nil {
		return nil, err
	}
	return &Networks{format: formatNames, elements: elements}, nil
}

// parseNames reads the comma form: each item is [namespace/]name[@interface]
// with blanks around items and parts ignored, as multus does. An empty
// namespace or interface part ("/net1", "net1@") means none, as in multus.
func parseNames(text, podNamespace string) ([]element, error) {
	if count := strings.Count(text, ",") + 1; count > MaxElements {
		return nil, fmt.Errorf("%d networks, more than the %d allowed", count, MaxElements)
	}
	items := strings.Split(text, ",")
	elements := make([]element, 0, len(items))
	for i, item := range items {
		item = strings.TrimSpace(item)
		e, err := parseItem(item, podNamespace)
		if err != nil {
			return nil, fmt.Errorf("item %d %q: %w", i+1, item, err)
		}
		elements = append(elements, e)
	}
	return elements, nil
}

func parseItem(item, podNamespace string) (element, error) {
	const want = "want [namespace/]name[@interface]"
	if strings.Count(item, "/") > 1 {
		return element{}, fmt.Errorf("more than one '/': %s", want)
	}
	if strings.Count(item, "@") > 1 {
		return element{}, fmt.Errorf("more than one '@': %s", want)
	}
	namespace, rest, explicit := strings.Cut(item, "/")
	if !explicit {
		namespace, rest = "", item
	}
	name, iface, _ := strings.Cut(rest, "@")
	namespace, name, iface = strings.TrimSpace(namespace), strings.TrimSpace(name), strings.TrimSpace(iface)
	if name == "" {
		return element{}, fmt.Errorf("the network name is empty: %s", want)
	}
	if err := validateName(name); err != nil {
		return element{}, err
	}
	e := element{macMember: -1, members: []member{stringMember("name", name)}}
	e.network.Name = name
	e.network.Namespace = podNamespace
	if namespace != "" {
		if err := validateNamespace(namespace); err != nil {
			return element{}, err
		}
		e.network.Namespace = namespace
		e.members = append(e.members, stringMember("namespace", namespace))
	}
	if iface != "" {
		if err := validateInterface(iface); err != nil {
			return element{}, err
		}
		e.network.Interface = iface
		e.members = append(e.members, stringMember("interface", iface))
	}
	return e, nil
}
