package multus

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

func TestEncode(t *testing.T) {
	tests := []struct {
		name       string
		annotation string
		set        map[int]string // element index to MAC
		want       string
	}{
		{
			name:       "mac appended only where missing, everything else as written",
			annotation: `[{"name":"br1","namespace":"other","mac":"02:00:00:00:00:01","interface":"net1","ips":["10.0.0.1/24"],"cni-args":{"x":1},"somethingNew":true},{"name":"br2","cni-args":{"a":[1,2.50,1e3,null,"\u00e9<&>"]},"default-route":["10.0.0.1"],"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],"bandwidth":{"ingressRate":1000},"deviceID":"0000:00:1f.0","infiniband-guid":"c2:11:22:33:44:55:66:77","ipam-claim-reference":"claim"}]`,
			set:        map[int]string{1: "02:00:00:00:00:02"},
			want:       `[{"name":"br1","namespace":"other","mac":"02:00:00:00:00:01","interface":"net1","ips":["10.0.0.1/24"],"cni-args":{"x":1},"somethingNew":true},{"name":"br2","cni-args":{"a":[1,2.50,1e3,null,"\u00e9<&>"]},"default-route":["10.0.0.1"],"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],"bandwidth":{"ingressRate":1000},"deviceID":"0000:00:1f.0","infiniband-guid":"c2:11:22:33:44:55:66:77","ipam-claim-reference":"claim","mac":"02:00:00:00:00:02"}]`,
		},
		{
			name:       "pretty printed input is compacted, values kept",
			annotation: "[\n  {\n    \"name\": \"br1\",\n    \"cni-args\": { \"s\": \"a b\" , \"n\": [ 1 , 2 ] }\n  }\n]",
			set:        map[int]string{0: "02:00:00:00:00:0a"},
			want:       `[{"name":"br1","cni-args":{"s":"a b","n":[1,2]},"mac":"02:00:00:00:00:0a"}]`,
		},
		{
			name:       "single object becomes a one-element list",
			annotation: `{"name":"br1","interface":"eth1"}`,
			set:        map[int]string{0: "02:00:00:00:00:03"},
			want:       `[{"name":"br1","interface":"eth1","mac":"02:00:00:00:00:03"}]`,
		},
		{
			name:       "null mac replaced in place",
			annotation: `[{"name":"br1","mac":null,"interface":"eth1"}]`,
			set:        map[int]string{0: "02:00:00:00:00:04"},
			want:       `[{"name":"br1","mac":"02:00:00:00:00:04","interface":"eth1"}]`,
		},
		{
			name:       "empty MAC in another case replaced in place under the canonical name",
			annotation: `[{"name":"br1","MAC":"","x":1}]`,
			set:        map[int]string{0: "02:00:00:00:00:05"},
			want:       `[{"name":"br1","mac":"02:00:00:00:00:05","x":1}]`,
		},
		{
			name:       "requested MAC text left as the user wrote it",
			annotation: `[{"name":"br1","mac":"02-AB-CD-EF-00-0A"},{"name":"br2"}]`,
			set:        map[int]string{1: "02:00:00:00:00:06"},
			want:       `[{"name":"br1","mac":"02-AB-CD-EF-00-0A"},{"name":"br2","mac":"02:00:00:00:00:06"}]`,
		},
		{
			name:       "escaped member names and odd keys kept as written",
			annotation: `[{"na\u006de":"br1","Interface":"eth1","":0,"\"q\"":"\/"}]`,
			set:        map[int]string{0: "02:00:00:00:00:07"},
			want:       `[{"na\u006de":"br1","Interface":"eth1","":0,"\"q\"":"\/","mac":"02:00:00:00:00:07"}]`,
		},
		{
			name:       "defaulted namespace not written",
			annotation: `[{"name":"br1"},{"name":"br2","namespace":""}]`,
			set:        map[int]string{0: "02:00:00:00:00:08", 1: "02:00:00:00:00:09"},
			want:       `[{"name":"br1","mac":"02:00:00:00:00:08"},{"name":"br2","namespace":"","mac":"02:00:00:00:00:09"}]`,
		},
		{
			name:       "comma form becomes JSON with only what was written",
			annotation: " net1 , other-ns/net2 ,net3@eth5,/net4,net5@",
			set:        map[int]string{0: "02:00:00:00:00:10", 2: "02:00:00:00:00:12"},
			want:       `[{"name":"net1","mac":"02:00:00:00:00:10"},{"name":"net2","namespace":"other-ns"},{"name":"net3","interface":"eth5","mac":"02:00:00:00:00:12"},{"name":"net4"},{"name":"net5"}]`,
		},
		{
			name:       "comma form with namespace and interface",
			annotation: "ns/net1@eth1",
			set:        map[int]string{0: "02:00:00:00:00:11"},
			want:       `[{"name":"net1","namespace":"ns","interface":"eth1","mac":"02:00:00:00:00:11"}]`,
		},
		{
			name:       "comma form unchanged still encodes",
			annotation: "net1",
			want:       `[{"name":"net1"}]`,
		},
		{
			name:       "empty annotation",
			annotation: "",
			want:       `[]`,
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			networks, err := Parse(test.annotation, podNamespace)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			for i, text := range test.set {
				if err := networks.SetMAC(i, mac.MustParse(text)); err != nil {
					t.Fatalf("SetMAC(%d, %s): %v", i, text, err)
				}
				if got := networks.Element(i).MAC; got != text {
					t.Errorf("after SetMAC, Element(%d).MAC = %q, want %q", i, got, text)
				}
			}
			if got, want := networks.Changed(), len(test.set) > 0; got != want {
				t.Errorf("Changed() = %v, want %v", got, want)
			}
			got, err := networks.Encode()
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if got != test.want {
				t.Errorf("Encode() =\n%s\nwant\n%s", got, test.want)
			}
			again, err := networks.Encode()
			if err != nil || again != got {
				t.Errorf("second Encode() = %q, %v; not deterministic", again, err)
			}
			reparsed, err := Parse(got, podNamespace)
			if err != nil {
				t.Fatalf("Parse(Encode()): %v", err)
			}
			if !reflect.DeepEqual(reparsed.Elements(), networks.Elements()) {
				t.Errorf("Parse(Encode()) elements =\n%+v\nwant\n%+v", reparsed.Elements(), networks.Elements())
			}
		})
	}
}

// TestEncodePreservesValues checks member values the way another program
// would see them, decoding both texts generically, and checks that each
// member's raw text is unchanged.
func TestEncodePreservesValues(t *testing.T) {
	annotation := `[{"name":"br1","namespace":"other","interface":"net1","ips":["10.0.0.1/24","fd00::1/64"],"cni-args":{"x":1,"nested":{"deep":[true,false,null]},"big":123456789012345678901234567890},"somethingNew":true,"default-route":["10.0.0.254"]},{"name":"br2","mac":"02:00:00:00:00:01","whatever":"\ud83d\ude00"},{"name":"br3","bandwidth":{"ingressRate":1,"egressRate":2.0}}]`
	networks, err := Parse(annotation, podNamespace)
	if err != nil {
		t.Fatal(err)
	}
	before := make([][]member, networks.Len())
	for i := range networks.elements {
		before[i] = append([]member(nil), networks.elements[i].members...)
	}
	for i, network := range networks.Elements() {
		if network.MAC == "" {
			if err := networks.SetMAC(i, mac.Address(0x020000000100+uint64(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	encoded, err := networks.Encode()
	if err != nil {
		t.Fatal(err)
	}

	var original, result []map[string]any
	if err := json.Unmarshal([]byte(annotation), &original); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(encoded), &result); err != nil {
		t.Fatalf("Encode produced invalid JSON %s: %v", encoded, err)
	}
	wantMACs := []string{"02:00:00:00:01:00", "02:00:00:00:00:01", "02:00:00:00:01:02"}
	for i := range original {
		if result[i]["mac"] != wantMACs[i] {
			t.Errorf("element %d mac = %v, want %s", i, result[i]["mac"], wantMACs[i])
		}
		original[i]["mac"] = wantMACs[i]
	}
	if !reflect.DeepEqual(original, result) {
		t.Errorf("values changed:\n%v\n%v", original, result)
	}

	reparsed, err := Parse(encoded, podNamespace)
	if err != nil {
		t.Fatal(err)
	}
	added := []int{1, 0, 1} // br2 requested its MAC
	for i := range before {
		after := reparsed.elements[i].members
		if len(after) != len(before[i])+added[i] {
			t.Fatalf("element %d has %d members, had %d", i, len(after), len(before[i]))
		}
		if added[i] == 1 && string(after[len(after)-1].key) != `"mac"` {
			t.Errorf("element %d: added member is %s, want \"mac\" last", i, after[len(after)-1].key)
		}
		for j, m := range before[i] {
			if string(after[j].key) != string(m.key) || string(after[j].value) != string(m.value) {
				t.Errorf("element %d member %d: %s:%s became %s:%s", i, j, m.key, m.value, after[j].key, after[j].value)
			}
		}
	}
	if !strings.Contains(encoded, `"big":123456789012345678901234567890`) || !strings.Contains(encoded, `"\ud83d\ude00"`) || !strings.Contains(encoded, `"egressRate":2.0`) {
		t.Errorf("number or escape spelling changed: %s", encoded)
	}
}

func TestSetMAC(t *testing.T) {
	parse := func(t *testing.T) *Networks {
		t.Helper()
		networks, err := Parse(`[{"name":"br1","mac":"02-00-00-00-00-0A"},{"name":"br2"}]`, podNamespace)
		if err != nil {
			t.Fatal(err)
		}
		return networks
	}
	t.Run("same as requested is a no-op", func(t *testing.T) {
		networks := parse(t)
		if err := networks.SetMAC(0, mac.MustParse("02:00:00:00:00:0a")); err != nil {
			t.Fatal(err)
		}
		if networks.Changed() {
			t.Error("Changed() = true after setting the requested MAC")
		}
	})
	t.Run("different from requested is refused", func(t *testing.T) {
		networks := parse(t)
		err := networks.SetMAC(0, mac.MustParse("02:00:00:00:00:0b"))
		if err == nil || !strings.Contains(err.Error(), `element 1 (network "br1") already requests mac 02:00:00:00:00:0a`) {
			t.Fatalf("error = %v", err)
		}
		if networks.Changed() || networks.Element(0).MAC != "02:00:00:00:00:0a" {
			t.Error("refused SetMAC changed the element")
		}
	})
	t.Run("a MAC set earlier may be replaced", func(t *testing.T) {
		networks := parse(t)
		for _, text := range []string{"02:00:00:00:00:01", "02:00:00:00:00:02"} {
			if err := networks.SetMAC(1, mac.MustParse(text)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := networks.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if want := `[{"name":"br1","mac":"02-00-00-00-00-0A"},{"name":"br2","mac":"02:00:00:00:00:02"}]`; got != want {
			t.Errorf("Encode() = %s, want %s", got, want)
		}
	})
	for _, test := range []struct {
		name    string
		index   int
		address mac.Address
		wantErr string
	}{
		{"negative index", -1, 0x020000000001, "element index -1 out of range: the annotation has 2 elements"},
		{"index too large", 2, 0x020000000001, "element index 2 out of range"},
		{"multicast", 1, 0x010000000001, "01:00:00:00:00:01 is a multicast address"},
		{"more than 48 bits", 1, mac.MaxAddress + 1, "not a 48-bit MAC address"},
	} {
		t.Run(test.name, func(t *testing.T) {
			networks := parse(t)
			err := networks.SetMAC(test.index, test.address)
			if err == nil || !strings.Contains(err.Error(), test.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, test.wantErr)
			}
			if networks.Changed() {
				t.Error("failed SetMAC counts as a change")
			}
		})
	}
}

func TestEncodeTooLong(t *testing.T) {
	// An annotation of exactly the limit accepted by Parse, plus one MAC.
	annotation := `[{"name":"a","x":"` + strings.Repeat("y", MaxAnnotationLength-len(`[{"name":"a","x":""}]`)) + `"}]`
	networks, err := Parse(annotation, podNamespace)
	if err != nil {
		t.Fatal(err)
	}
	if err := networks.SetMAC(0, mac.MustParse("02:00:00:00:00:01")); err != nil {
		t.Fatal(err)
	}
	_, err = networks.Encode()
	if err == nil || !strings.Contains(err.Error(), "more than the 262144 allowed") {
		t.Fatalf("error = %v", err)
	}
}
