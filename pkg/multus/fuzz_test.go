package multus

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// FuzzParse checks, for any annotation, that Parse never panics and that
// whatever it accepts survives Encode: the same elements come back, every
// member keeps its value and raw text, and adding a MAC to every element
// changes nothing but the "mac" members. The seed corpus lives in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, annotation string) {
		networks, err := Parse(annotation, podNamespace)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "invalid "+NetworksAnnotation+" annotation: ") {
				t.Fatalf("error does not name the annotation: %v", err)
			}
			return
		}
		if networks.Changed() {
			t.Fatal("Changed() = true right after Parse")
		}
		elements := networks.Elements()
		encoded, ok := encodeOrTooLong(t, networks)
		if !ok {
			return
		}
		reparsed := mustReparse(t, encoded, elements)
		if again, err := reparsed.Encode(); err != nil || again != encoded {
			t.Fatalf("Encode is not a fixed point: %s became %s, %v", encoded, again, err)
		}
		if networks.format != formatNames && networks.format != formatNone {
			original, err := decodeGeneric(annotation)
			if err != nil {
				t.Fatalf("Parse accepted invalid JSON %q: %v", annotation, err)
			}
			if object, single := original.(map[string]any); single {
				original = []any{object}
			}
			result, err := decodeGeneric(encoded)
			if err != nil {
				t.Fatalf("Encode produced invalid JSON %s: %v", encoded, err)
			}
			if !reflect.DeepEqual(original, result) {
				t.Fatalf("values changed by Encode:\n%q\n%q", annotation, encoded)
			}
		}

		// Give every element a MAC and check that only "mac" members change.
		before := make([][]member, len(networks.elements))
		for i := range networks.elements {
			before[i] = append([]member(nil), networks.elements[i].members...)
		}
		wantChanged := false
		for i, network := range elements {
			address := mac.Address(0x020000000000 + uint64(i))
			if network.MAC != "" {
				address = mac.MustParse(network.MAC)
			} else {
				wantChanged = true
			}
			if err := networks.SetMAC(i, address); err != nil {
				t.Fatalf("SetMAC(%d, %s): %v", i, address, err)
			}
			elements[i].MAC = address.String()
		}
		if networks.Changed() != wantChanged {
			t.Fatalf("Changed() = %v, want %v", networks.Changed(), wantChanged)
		}
		encoded, ok = encodeOrTooLong(t, networks)
		if !ok {
			return
		}
		reparsed = mustReparse(t, encoded, elements)
		for i, old := range before {
			macAt := networks.elements[i].macMember
			now := reparsed.elements[i].members
			if macAt < 0 || macAt >= len(now) || canonicalName(now[macAt].name) != "mac" {
				t.Fatalf("element %d: no mac member at %d in %s", i, macAt, encoded)
			}
			if want := len(old) + boolInt(macAt == len(old)); len(now) != want {
				t.Fatalf("element %d: %d members, want %d", i, len(now), want)
			}
			for j, m := range old {
				if j == macAt {
					continue
				}
				if string(now[j].key) != string(m.key) || string(now[j].value) != string(m.value) {
					t.Fatalf("element %d member %d: %s:%s became %s:%s", i, j, m.key, m.value, now[j].key, now[j].value)
				}
			}
		}
	})
}

// decodeGeneric decodes JSON as another program would, but keeps numbers
// as their text so that 1E400 decodes and 1.0 differs from 1.
func decodeGeneric(text string) (any, error) {
	decoder := json.NewDecoder(strings.NewReader(text))
	decoder.UseNumber()
	var value any
	if err := decoder.Decode(&value); err != nil {
		return nil, err
	}
	if _, err := decoder.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the value: %v", err)
	}
	return value, nil
}

// encodeOrTooLong encodes, allowing only the one documented failure.
func encodeOrTooLong(t *testing.T, networks *Networks) (string, bool) {
	t.Helper()
	encoded, err := networks.Encode()
	if err != nil {
		if !strings.Contains(err.Error(), "bytes long, more than the") {
			t.Fatalf("Encode failed after a successful Parse: %v", err)
		}
		return "", false
	}
	return encoded, true
}

// mustReparse parses an encoded annotation and checks it holds elements.
func mustReparse(t *testing.T, encoded string, elements []Network) *Networks {
	t.Helper()
	reparsed, err := Parse(encoded, podNamespace)
	if err != nil {
		t.Fatalf("Parse(Encode()) of %s: %v", encoded, err)
	}
	if reparsed.format != formatList {
		t.Fatalf("Encode produced format %d, not a JSON list: %s", reparsed.format, encoded)
	}
	got := reparsed.Elements()
	if len(got) != len(elements) || (len(got) > 0 && !reflect.DeepEqual(got, elements)) {
		t.Fatalf("Parse(Encode()) =\n%+v\nwant\n%+v\nencoded: %s", got, elements, encoded)
	}
	return reparsed
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
