package multus

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

const podNamespace = "pods"

func TestParse(t *testing.T) {
	tests := []struct {
		name       string
		annotation string
		format     format
		want       []Network
	}{
		{name: "empty", annotation: "", format: formatNone},
		{name: "blank", annotation: " \t\n ", format: formatNone},
		{name: "empty JSON list", annotation: "[]", format: formatList},
		{
			name:       "JSON list with known and unknown members",
			annotation: `[{"name":"br1","namespace":"other","mac":"02:00:00:00:00:01","interface":"net1","ips":["10.0.0.1/24"],"cni-args":{"x":1},"somethingNew":true},{"name":"br2"}]`,
			format:     formatList,
			want: []Network{
				{Name: "br1", Namespace: "other", Interface: "net1", MAC: "02:00:00:00:00:01"},
				{Name: "br2", Namespace: podNamespace},
			},
		},
		{
			name:       "numbers beyond float64 are kept, not converted",
			annotation: `[{"name":"a","x":1E400,"cni-args":{"y":-0}}]`,
			format:     formatList,
			want:       []Network{{Name: "a", Namespace: podNamespace}},
		},
		{
			name:       "single JSON object",
			annotation: ` {"name":"br1","interface":"eth1"} `,
			format:     formatObject,
			want:       []Network{{Name: "br1", Namespace: podNamespace, Interface: "eth1"}},
		},
		{
			name:       "pretty printed JSON",
			annotation: "[\n  {\n    \"name\": \"br1\",\n    \"mac\": \"02:00:00:00:00:02\"\n  }\n]\n",
			format:     formatList,
			want:       []Network{{Name: "br1", Namespace: podNamespace, MAC: "02:00:00:00:00:02"}},
		},
		{
			name:       "empty and null namespace default to the pod's",
			annotation: `[{"name":"a","namespace":""},{"name":"b","namespace":null}]`,
			format:     formatList,
			want:       []Network{{Name: "a", Namespace: podNamespace}, {Name: "b", Namespace: podNamespace}},
		},
		{
			name:       "upper-case and dash MACs are reported canonically",
			annotation: `[{"name":"a","mac":"02:AB:CD:EF:00:0A"},{"name":"b","mac":"0E-aB-Cd-eF-01-ff"}]`,
			format:     formatList,
			want: []Network{
				{Name: "a", Namespace: podNamespace, MAC: "02:ab:cd:ef:00:0a"},
				{Name: "b", Namespace: podNamespace, MAC: "0e:ab:cd:ef:01:ff"},
			},
		},
		{
			name:       "empty and null mac mean none",
			annotation: `[{"name":"a","mac":""},{"name":"b","mac":null}]`,
			format:     formatList,
			want:       []Network{{Name: "a", Namespace: podNamespace}, {Name: "b", Namespace: podNamespace}},
		},
		{
			name:       "deprecated interfaceRequest used when interface is empty",
			annotation: `[{"name":"a","interfaceRequest":"eth1"},{"name":"b","interface":"eth2","interfaceRequest":"eth3"},{"name":"c","interface":"","interfaceRequest":"eth4"}]`,
			format:     formatList,
			want: []Network{
				{Name: "a", Namespace: podNamespace, Interface: "eth1"},
				{Name: "b", Namespace: podNamespace, Interface: "eth2"},
				{Name: "c", Namespace: podNamespace, Interface: "eth4"},
			},
		},
		{
			name:       "member names match case-insensitively like encoding/json",
			annotation: `[{"Name":"a","NAMESPACE":"ns","Mac":"02:00:00:00:00:03","INTERFACE":"eth1"}]`,
			format:     formatList,
			want:       []Network{{Name: "a", Namespace: "ns", Interface: "eth1", MAC: "02:00:00:00:00:03"}},
		},
		{
			name:       "escaped member names",
			annotation: `[{"na\u006de":"a","\u006dac":"02:00:00:00:00:04"}]`,
			format:     formatList,
			want:       []Network{{Name: "a", Namespace: podNamespace, MAC: "02:00:00:00:00:04"}},
		},
		{
			name:       "comma form",
			annotation: "net1,other-ns/net2,net3@eth5",
			format:     formatNames,
			want: []Network{
				{Name: "net1", Namespace: podNamespace},
				{Name: "net2", Namespace: "other-ns"},
				{Name: "net3", Namespace: podNamespace, Interface: "eth5"},
			},
		},
		{
			name:       "comma form with blanks",
			annotation: " net1 ,\tother-ns / net2 @ eth1 ,net3.x ",
			format:     formatNames,
			want: []Network{
				{Name: "net1", Namespace: podNamespace},
				{Name: "net2", Namespace: "other-ns", Interface: "eth1"},
				{Name: "net3.x", Namespace: podNamespace},
			},
		},
		{
			name:       "comma form with empty namespace and interface parts, as multus allows",
			annotation: "/net1,net2@",
			format:     formatNames,
			want:       []Network{{Name: "net1", Namespace: podNamespace}, {Name: "net2", Namespace: podNamespace}},
		},
		{
			name:       "a bare word is the comma form even if it looks like JSON",
			annotation: "null",
			format:     formatNames,
			want:       []Network{{Name: "null", Namespace: podNamespace}},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			networks, err := Parse(test.annotation, podNamespace)
			if err != nil {
				t.Fatalf("Parse(%q) unexpected error: %v", test.annotation, err)
			}
			if networks.format != test.format {
				t.Errorf("format = %d, want %d", networks.format, test.format)
			}
			got := networks.Elements()
			if len(got) == 0 && len(test.want) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, test.want) {
				t.Errorf("Elements() =\n%+v\nwant\n%+v", got, test.want)
			}
			if networks.Len() != len(test.want) {
				t.Errorf("Len() = %d, want %d", networks.Len(), len(test.want))
			}
			if networks.Changed() {
				t.Error("Changed() = true right after Parse")
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name       string
		annotation string
		wantErr    []string // substrings, all required
	}{
		{name: "truncated JSON", annotation: `[{"name":"a"`, wantErr: []string{"invalid JSON", "unexpected end of JSON input"}},
		{name: "JSON syntax error", annotation: `[{"name":"a",}]`, wantErr: []string{"invalid JSON at byte 14", "invalid character '}'"}},
		{name: "JSON syntax error after blanks", annotation: "\n  [{\"name\":\"a\",}]", wantErr: []string{"invalid JSON at byte 17"}},
		{name: "form feed is not JSON whitespace", annotation: "[]\f", wantErr: []string{"invalid JSON at byte 3", `invalid character '\f' after top-level value`}},
		{name: "no-break space is not JSON whitespace", annotation: "\u00a0[]", wantErr: []string{"invalid JSON at byte 1"}},
		{name: "trailing data", annotation: `[{"name":"a"}] x`, wantErr: []string{"invalid JSON", "after top-level value"}},
		{name: "comma form mixed with JSON", annotation: `net1,{"name":"a"}`, wantErr: []string{"invalid JSON"}},
		{name: "JSON string", annotation: `"net1"`, wantErr: []string{"want a JSON list of network selection elements or a single element object, got a JSON string"}},
		{name: "element not an object", annotation: `[{"name":"a"},1]`, wantErr: []string{"element 2: want a JSON object, got a JSON number"}},
		{name: "null element", annotation: `[null]`, wantErr: []string{"element 1: want a JSON object, got a JSON null"}},
		{name: "missing name", annotation: `[{"name":"a"},{"namespace":"x"}]`, wantErr: []string{`element 2: "name" is required`}},
		{name: "empty name", annotation: `[{"name":""}]`, wantErr: []string{`element 1: "name" is required`}},
		{name: "null name", annotation: `{"name":null}`, wantErr: []string{`element 1: "name" is required`}},
		{name: "name not a string", annotation: `[{"name":5}]`, wantErr: []string{`element 1: "name" must be a string, got a JSON number`}},
		{name: "invalid name", annotation: `[{"name":"BR1"}]`, wantErr: []string{`element 1: network name "BR1" cannot name a NetworkAttachmentDefinition`, "lowercase"}},
		{name: "name with slash", annotation: `[{"name":"a/b"}]`, wantErr: []string{`network name "a/b"`}},
		{name: "mac not a string", annotation: `[{"name":"br1","mac":2}]`, wantErr: []string{`element 1 (network "br1"): "mac" must be a string, got a JSON number`}},
		{name: "mac object", annotation: `[{"name":"br1","mac":{}}]`, wantErr: []string{`element 1 (network "br1"): "mac" must be a string, got a JSON object`}},
		{name: "mac invalid", annotation: `[{"name":"a"},{"name":"br2","mac":"02:00:00:00:00"}]`, wantErr: []string{`element 2 (network "br2"): invalid "mac": invalid MAC address "02:00:00:00:00"`, "want six"}},
		{name: "mac in a form mac.Parse refuses", annotation: `[{"name":"br1","mac":"0200.0000.0001"}]`, wantErr: []string{`element 1 (network "br1"): invalid "mac"`}},
		{name: "mac multicast", annotation: `[{"name":"br1","mac":"01:00:5e:00:00:01"}]`, wantErr: []string{`element 1 (network "br1"): invalid "mac"`, "multicast addresses", "use a unicast address"}},
		{name: "namespace not a string", annotation: `[{"name":"br1","namespace":true}]`, wantErr: []string{`element 1 (network "br1"): "namespace" must be a string, got a JSON boolean`}},
		{name: "invalid namespace", annotation: `[{"name":"br1","namespace":"a.b"}]`, wantErr: []string{`element 1 (network "br1"): namespace "a.b" is not a valid namespace name`}},
		{name: "interface not a string", annotation: `[{"name":"br1","interface":["eth0"]}]`, wantErr: []string{`element 1 (network "br1"): "interface" must be a string, got a JSON list`}},
		{name: "interface too long", annotation: `[{"name":"br1","interface":"abcdefghijklmnop"}]`, wantErr: []string{`interface name "abcdefghijklmnop" is longer than 15 bytes`}},
		{name: "interface with colon", annotation: `[{"name":"br1","interface":"eth0:1"}]`, wantErr: []string{`interface name "eth0:1" contains ':'`}},
		{name: "deprecated interface invalid", annotation: `[{"name":"br1","interfaceRequest":".."}]`, wantErr: []string{`interface name ".." is not allowed`}},
		{name: "deprecated interface not a string", annotation: `[{"name":"br1","interfaceRequest":1}]`, wantErr: []string{`"interfaceRequest" must be a string`}},
		{name: "duplicate mac", annotation: `[{"name":"br1","mac":"02:00:00:00:00:01","mac":null}]`, wantErr: []string{`element 1: duplicate member "mac" (first written as "mac")`}},
		{name: "duplicate mac in another case", annotation: `[{"name":"br1","MAC":"02:00:00:00:00:01","mac":"02:00:00:00:00:02"}]`, wantErr: []string{`duplicate member "mac" (first written as "MAC")`}},
		{name: "duplicate unknown member", annotation: `[{"name":"br1","x":1,"x":2}]`, wantErr: []string{`duplicate member "x"`}},
		{name: "comma form empty item", annotation: "net1,,net2", wantErr: []string{`item 2 "": the network name is empty`}},
		{name: "comma form trailing comma", annotation: "net1,", wantErr: []string{`item 2 "": the network name is empty`}},
		{name: "comma form empty name after namespace", annotation: "ns/", wantErr: []string{`item 1 "ns/": the network name is empty`}},
		{name: "comma form empty name before interface", annotation: "net1, @eth0", wantErr: []string{`item 2 "@eth0": the network name is empty`}},
		{name: "comma form too many slashes", annotation: "a/b/c", wantErr: []string{`item 1 "a/b/c": more than one '/'`, "[namespace/]name[@interface]"}},
		{name: "comma form too many ats", annotation: "net1,a@b@c", wantErr: []string{`item 2 "a@b@c": more than one '@'`}},
		{name: "comma form invalid name", annotation: "Net1", wantErr: []string{`item 1 "Net1": network name "Net1" cannot name`}},
		{name: "comma form name with blank", annotation: "net 1", wantErr: []string{`item 1 "net 1": network name "net 1"`}},
		{name: "comma form invalid namespace", annotation: "a@b/c", wantErr: []string{`item 1 "a@b/c": namespace "a@b" is not a valid namespace name`}},
		{name: "comma form interface not UTF-8", annotation: "net1@\x80", wantErr: []string{`interface name "\x80" is not valid UTF-8`}},
		{name: "comma form invalid interface", annotation: "net1@eth0:1", wantErr: []string{`item 1 "net1@eth0:1": interface name "eth0:1" contains ':'`}},
		{name: "too long", annotation: strings.Repeat(" ", MaxAnnotationLength) + "a", wantErr: []string{"value is 262145 bytes long, more than the 262144 allowed"}},
		{name: "too many JSON elements", annotation: "[" + strings.Repeat(`{"name":"a"},`, MaxElements) + `{"name":"a"}]`, wantErr: []string{"more than 1024 networks"}},
		{name: "too many comma items", annotation: strings.Repeat("a,", MaxElements) + "a", wantErr: []string{"1025 networks, more than the 1024 allowed"}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			networks, err := Parse(test.annotation, podNamespace)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", test.annotation, networks.Elements())
			}
			if networks != nil {
				t.Errorf("Parse returned networks along with error %v", err)
			}
			message := err.Error()
			for _, want := range append([]string{"invalid " + NetworksAnnotation + " annotation: "}, test.wantErr...) {
				if !strings.Contains(message, want) {
					t.Errorf("error %q does not contain %q", message, want)
				}
			}
		})
	}
}

func TestParseBounds(t *testing.T) {
	list := "[" + strings.Repeat(`{"name":"a"},`, MaxElements-1) + `{"name":"a"}]`
	if networks, err := Parse(list, podNamespace); err != nil || networks.Len() != MaxElements {
		t.Errorf("JSON list of %d elements: %v", MaxElements, err)
	}
	names := strings.Repeat("a,", MaxElements-1) + "a"
	if networks, err := Parse(names, podNamespace); err != nil || networks.Len() != MaxElements {
		t.Errorf("comma form of %d items: %v", MaxElements, err)
	}
	long := `[{"name":"a","x":"` + strings.Repeat("y", MaxAnnotationLength-len(`[{"name":"a","x":""}]`)) + `"}]`
	if len(long) != MaxAnnotationLength {
		t.Fatalf("test bug: length %d", len(long))
	}
	if _, err := Parse(long, podNamespace); err != nil {
		t.Errorf("annotation of exactly %d bytes: %v", MaxAnnotationLength, err)
	}
}

func TestParseEmptyPodNamespace(t *testing.T) {
	_, err := Parse("net1", "")
	if err == nil || !strings.Contains(err.Error(), "pod namespace is empty") {
		t.Fatalf("Parse with empty pod namespace: error = %v", err)
	}
}

func TestKey(t *testing.T) {
	networks, err := Parse(`net1,other/net2,net3@eth5,other/net4@eth6`, podNamespace)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"pods/net1", "other/net2", "pods/net3@eth5", "other/net4@eth6"}
	for i, key := range want {
		if got := networks.Key(i); got != key {
			t.Errorf("Key(%d) = %q, want %q", i, got, key)
		}
		if got := networks.Element(i).Key(); got != key {
			t.Errorf("Element(%d).Key() = %q, want %q", i, got, key)
		}
	}
}

func TestElementsIsACopy(t *testing.T) {
	networks, err := Parse("net1", podNamespace)
	if err != nil {
		t.Fatal(err)
	}
	networks.Elements()[0].Name = "changed"
	if got := networks.Element(0).Name; got != "net1" {
		t.Fatalf("changing the result of Elements changed the element to %q", got)
	}
}

func ExampleParse() {
	networks, err := Parse("net1,other/net2@eth1", "pods")
	if err != nil {
		panic(err)
	}
	for i, network := range networks.Elements() {
		fmt.Println(i, network.Key(), network.MAC == "")
	}
	// Output:
	// 0 pods/net1 true
	// 1 other/net2@eth1 true
}
