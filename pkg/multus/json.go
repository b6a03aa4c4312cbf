package multus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// parseJSON reads a JSON list of element objects or a single object.
func parseJSON(text, podNamespace string) ([]element, format, error) {
	// The common case, read without encoding/json (see scan.go).
	if scanned, single, ok := scanJSON(text); ok {
		return elementsOf(scanned, single, podNamespace)
	}
	return decodeJSON(text, podNamespace)
}

// elementsOf checks the members the scanner split, element by element in
// order as parseList does, so the first error is the same.
func elementsOf(scanned [][]member, single bool, podNamespace string) ([]element, format, error) {
	form := formatList
	if single {
		form = formatObject
	}
	var elements []element
	for i, members := range scanned {
		e, err := elementFrom(i+1, members, podNamespace)
		if err != nil {
			return nil, form, err
		}
		elements = append(elements, e)
	}
	return elements, form, nil
}

// decodeJSON reads any JSON text with encoding/json; it is the reference
// the scanner is checked against.
func decodeJSON(text, podNamespace string) ([]element, format, error) {
	// Check the syntax of the whole value first so that a syntax error is
	// reported as such, with its offset, and not as a problem of whichever
	// element happens to precede it.
	var whole json.RawMessage
	if err := json.Unmarshal([]byte(text), &whole); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			// Offset counts the bytes read up to and including the
			// offending one, so it is that byte's 1-based position.
			return nil, 0, fmt.Errorf("invalid JSON at byte %d: %w", syntax.Offset, err)
		}
		return nil, 0, fmt.Errorf("invalid JSON: %w", err)
	}
	switch whole[0] {
	case '{':
		e, err := parseElement(1, whole, podNamespace)
		if err != nil {
			return nil, 0, err
		}
		return []element{e}, formatObject, nil
	case '[':
		elements, err := parseList(whole, podNamespace)
		return elements, formatList, err
	}
	return nil, 0, fmt.Errorf("want a JSON list of network selection elements or a single element object, got a JSON %s", kind(whole))
}

// parseList walks a syntactically valid JSON list element by element, so
// that the element bound is enforced before decoding what lies beyond it.
func parseList(list json.RawMessage, podNamespace string) ([]element, error) {
	decoder := json.NewDecoder(bytes.NewReader(list))
	if _, err := decoder.Token(); err != nil { // '['
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	var elements []element
	for decoder.More() {
		if len(elements) == MaxElements {
			return nil, fmt.Errorf("more than %d networks", MaxElements)
		}
		var raw json.RawMessage
		if err := decoder.Decode(&raw); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		e, err := parseElement(len(elements)+1, raw, podNamespace)
		if err != nil {
			return nil, err
		}
		elements = append(elements, e)
	}
	if _, err := decoder.Token(); err != nil { // ']'
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return elements, nil
}

// known lists the members of multus's NetworkSelectionElement. Go's
// encoding/json matches member names to them case-insensitively, so "MAC"
// is the mac to multus and must be to us.
var known = []string{
	"name", "namespace", "mac", "interface", "ips", "infiniband-guid",
	"interfaceRequest", "portMappings", "bandwidth", "deviceID", "cni-args",
	"default-route", "ipam-claim-reference",
}

// canonicalName returns the known member name that name matches the way
// encoding/json matches it, or name itself if it matches none.
func canonicalName(name string) string {
	for _, k := range known {
		if strings.EqualFold(name, k) {
			return k
		}
	}
	return name
}

// parseElement reads element number index (counted from 1, as users count).
func parseElement(index int, raw json.RawMessage, podNamespace string) (element, error) {
	if raw[0] != '{' {
		return element{}, fmt.Errorf("element %d: want a JSON object, got a JSON %s", index, kind(raw))
	}
	members, err := parseMembers(raw)
	if err != nil {
		return element{}, fmt.Errorf("element %d: %w", index, err)
	}
	return elementFrom(index, members, podNamespace)
}

// elementFrom checks the members of element number index and reads the
// network they select.
func elementFrom(index int, members []member, podNamespace string) (element, error) {
	// Duplicates are refused because JSON parsers disagree on which one
	// counts (encoding/json even lets a later null keep an earlier value),
	// so multus and this webhook could read different MACs.
	position := make(map[string]int, len(members))
	for i, m := range members {
		canonical := canonicalName(m.name)
		if previous, seen := position[canonical]; seen {
			return element{}, fmt.Errorf("element %d: duplicate member %s (first written as %s)", index, m.key, members[previous].key)
		}
		position[canonical] = i
	}
	// field returns the string value of a known member, "" if absent.
	field := func(name string) (string, error) {
		i, present := position[name]
		if !present {
			return "", nil
		}
		value, err := stringValue(members[i].value)
		if err != nil {
			return "", fmt.Errorf("%q %w", name, err)
		}
		return value, nil
	}

	name, err := field("name")
	if err != nil {
		return element{}, fmt.Errorf("element %d: %w", index, err)
	}
	if name == "" {
		return element{}, fmt.Errorf("element %d: %q is required", index, "name")
	}
	if err := validateName(name); err != nil {
		return element{}, fmt.Errorf("element %d: %w", index, err)
	}
	// From here on errors name the network too: users think in networks.
	// Formatted only for an error: a success must not pay for it.
	where := func() string { return fmt.Sprintf("element %d (network %q)", index, name) }
	e := element{macMember: -1, members: members}
	e.network.Name = name

	namespace, err := field("namespace")
	if err != nil {
		return element{}, fmt.Errorf("%s: %w", where(), err)
	}
	e.network.Namespace = podNamespace
	if namespace != "" {
		if err := validateNamespace(namespace); err != nil {
			return element{}, fmt.Errorf("%s: %w", where(), err)
		}
		e.network.Namespace = namespace
	}

	iface, err := field("interface")
	if err != nil {
		return element{}, fmt.Errorf("%s: %w", where(), err)
	}
	deprecated, err := field("interfaceRequest")
	if err != nil {
		return element{}, fmt.Errorf("%s: %w", where(), err)
	}
	// Multus uses the deprecated member only when "interface" is empty.
	if iface == "" {
		iface = deprecated
	}
	if iface != "" {
		if err := validateInterface(iface); err != nil {
			return element{}, fmt.Errorf("%s: %w", where(), err)
		}
		e.network.Interface = iface
	}

	text, err := field("mac")
	if err != nil {
		return element{}, fmt.Errorf("%s: %w", where(), err)
	}
	if i, present := position["mac"]; present {
		e.macMember = i
	}
	if text != "" {
		address, err := mac.ParseUnicast(text)
		if err != nil {
			return element{}, fmt.Errorf("%s: invalid %q: %w", where(), "mac", err)
		}
		e.network.MAC = address.String()
		e.requested = true
	}
	return e, nil
}

// parseMembers splits a syntactically valid JSON object into its members,
// keeping the key literal and the value exactly as written (the value
// compacted), so that escapes and number spellings survive re-encoding.
func parseMembers(object json.RawMessage) ([]member, error) {
	decoder := json.NewDecoder(bytes.NewReader(object))
	if _, err := decoder.Token(); err != nil { // '{'
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	var members []member
	for decoder.More() {
		start := decoder.InputOffset()
		token, err := decoder.Token()
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		name, ok := token.(string)
		if !ok {
			return nil, fmt.Errorf("invalid JSON: member name %v is not a string", token)
		}
		// Between the end of the previous value and the end of the key
		// lie only blanks, the separating comma and the key literal.
		key := bytes.TrimLeft(object[start:decoder.InputOffset()], " \t\r\n,")
		if len(key) < 2 || key[0] != '"' || key[len(key)-1] != '"' {
			return nil, fmt.Errorf("internal error: cannot locate member name %q in the element", name)
		}
		var value json.RawMessage
		if err := decoder.Decode(&value); err != nil {
			return nil, fmt.Errorf("invalid JSON in member %q: %w", name, err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, value); err != nil {
			return nil, fmt.Errorf("invalid JSON in member %q: %w", name, err)
		}
		members = append(members, member{name: name, key: json.RawMessage(key), value: compact.Bytes()})
	}
	if _, err := decoder.Token(); err != nil { // '}'
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return members, nil
}

// stringValue decodes a member that multus reads as a Go string: null is
// the same as absent there, so it is "" here; other types make multus
// fail, so they are errors here.
func stringValue(value json.RawMessage) (string, error) {
	if value[0] != '"' && value[0] != 'n' {
		return "", fmt.Errorf("must be a string, got a JSON %s", kind(value))
	}
	// A valid string literal without escapes or non-ASCII bytes is its text.
	if text, ok := plainString(value); ok {
		return text, nil
	}
	var text string
	if err := json.Unmarshal(value, &text); err != nil {
		return "", fmt.Errorf("must be a string: %w", err)
	}
	return text, nil
}

// stringMember builds a member with a plain key and a string value.
func stringMember(name, value string) member {
	return member{name: name, key: quote(name), value: quote(value)}
}

// quote encodes s as a JSON string without HTML escaping: the annotation
// is not embedded in HTML, and \u003c for '<' would only puzzle readers.
func quote(s string) json.RawMessage {
	// Printable ASCII other than '"' and '\\' is written as it is; this is
	// what names and MACs are, and it spares an encoder per member.
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		plain = 0x20 <= s[i] && s[i] <= 0x7e && s[i] != '"' && s[i] != '\\'
	}
	if plain {
		quoted := make([]byte, 0, len(s)+2)
		quoted = append(quoted, '"')
		quoted = append(quoted, s...)
		return append(quoted, '"')
	}
	var buffer bytes.Buffer
	encoder := json.NewEncoder(&buffer)
	encoder.SetEscapeHTML(false)
	_ = encoder.Encode(s) // encoding a string cannot fail
	return bytes.TrimSuffix(buffer.Bytes(), []byte("\n"))
}

// kind names the JSON type of a valid, compact or trimmed value.
func kind(value json.RawMessage) string {
	value = bytes.TrimLeft(value, " \t\r\n")
	if len(value) == 0 {
		return "empty value"
	}
	switch value[0] {
	case '{':
		return "object"
	case '[':
		return "list"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}
