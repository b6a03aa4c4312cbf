package multus

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// FuzzScanMatchesDecoder checks the fast path against encoding/json, kept
// as the oracle: for any text, parseJSON (scanner first) and decodeJSON
// (encoding/json only) return the same elements, members byte for byte,
// form and error. Seeds: the FuzzParse corpus and the cases below.
func FuzzScanMatchesDecoder(f *testing.F) {
	for _, seed := range scanSeeds {
		f.Add(seed)
	}
	for _, bench := range benchAnnotations {
		f.Add(bench.annotation)
	}
	files, _ := filepath.Glob("testdata/fuzz/FuzzParse/*")
	for _, file := range files {
		content, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(content)), "\n")
		seed, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[len(lines)-1], "string("), ")"))
		if err != nil {
			f.Fatalf("%s: %v", file, err)
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, gotForm, gotErr := parseJSON(text, podNamespace)
		want, wantForm, wantErr := decodeJSON(text, podNamespace)
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("%q: error %v, encoding/json says %v", text, gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		if gotForm != wantForm {
			t.Fatalf("%q: form %d, encoding/json says %d", text, gotForm, wantForm)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got %s\nwant %s", text, dumpElements(got), dumpElements(want))
		}
		for _, e := range got {
			for _, m := range e.members {
				plain, ok := plainString(m.value)
				if !ok {
					continue
				}
				var decoded string
				if err := json.Unmarshal(m.value, &decoded); err != nil || decoded != plain {
					t.Fatalf("plainString(%s) = %q, encoding/json says %q, %v", m.value, plain, decoded, err)
				}
			}
		}
	})
}

// scanSeeds are texts at the edges of what the scanner reads.
var scanSeeds = []string{
	`[]`, ` [ ] `, `{}`, `[{}]`, `[{"name":"a"},]`, `[{"name":"a"}`, `[{"name":"a"}]x`, `[{"name":"a"}] `,
	`{"name":"a"}`, "\t{\"name\" : \"a\" }\n", `[{"name":"a","Name":"b"}]`, `[{"NAME":"a","MAC":"02:00:00:00:00:01"}]`,
	`[{"name":"a","mac":null}]`, `[{"name":"a","mac":""}]`, `[{"name":"a","mac":1}]`, `[{"name":"a","namespace":null,"interface":null}]`,
	`[{"name":"a","x":[ 1 , 2 ,{ "y" : [ ] } ]}]`, `[{"name":"a","x":{ }}]`, `[{"name":"a","x":[]}]`, `[{"name":"a","x":[1,]}]`,
	`[{"name":"a","x":-0.5e+10}]`, `[{"name":"a","x":01}]`, `[{"name":"a","x":1.}]`, `[{"name":"a","x":-}]`, `[{"name":"a","x":1e}]`,
	`[{"name":"a","x":.5}]`, `[{"name":"a","x":tru}]`, `[{"name":"a","x":truex}]`, `[{"name":"a","x":false,"y":true}]`,
	`[{"name":"a","x":"\u00e9"}]`, `[{"name":"a","x":"é"}]`, "[{\"name\":\"a\",\"x\":\"\x7f\"}]", "[{\"name\":\"a\",\"x\":\"\x01\"}]",
	`[{"name":"a"},{"name":"b","interfaceRequest":"eth1"}]`, `[1]`, `["a"]`, `[[]]`, `"a"`, `1`, `null`, `[{"name":"a"} {"name":"b"}]`,
	`[{"name":"a" "x":1}]`, `[{"name" "a"}]`, `[{name:"a"}]`, `[{"name":"a",}]`, "[{\"name\":\"a\"}]\f", "\f[{\"name\":\"a\"}]",
	`[{"name":"a","x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]`,
	`[{"name":"Bad_Name"}]`, `[{"name":"a","mac":"01:00:00:00:00:00"}]`, `[{"name":"a","interface":"a/b"}]`, `[{"name":"a","namespace":"Bad"}]`,
	`[{"name":"a"},{"name":"b","mac":"zz"},{"name":"c"` + strings.Repeat(" ", 10) + `}]`,
	`[` + strings.Repeat(`{"name":"a"},`, MaxElements) + `{"name":"a"}]`,
	`[` + strings.Repeat(`{"name":"a"},`, MaxElements-1) + `{"name":"a"}]`,
}

// dumpElements prints elements with their members as text.
func dumpElements(elements []element) string {
	var out strings.Builder
	for _, e := range elements {
		out.WriteString("{" + e.network.Key() + " mac=" + e.network.MAC + " at=" + strconv.Itoa(e.macMember) + " requested=" + strconv.FormatBool(e.requested))
		for _, m := range e.members {
			out.WriteString(" " + m.name + "|" + string(m.key) + ":" + string(m.value))
		}
		out.WriteString("}")
	}
	return out.String()
}

// The fast path must read what users write, or it buys nothing.
func TestScanReadsTheCommonForms(t *testing.T) {
	tests := []struct {
		name, text string
		elements   int
		single     bool
	}{
		{"empty list", `[]`, 0, false},
		{"single object", ` {"name":"a","mac":"02:00:00:00:00:01"} `, 1, true},
		{"pretty list", "[\n  {\n    \"name\": \"a\",\n    \"ips\": [ \"10.0.0.1/24\" ]\n  }\n]", 1, false},
		{"known and unknown members", `[{"name":"a","cni-args":{"vlan":12,"on":true,"x":null},"ips":["10.0.0.1/24"],"n":-1.5E3},{"name":"b"}]`, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			elements, single, ok := scanJSON(tt.text)
			if !ok || len(elements) != tt.elements || single != tt.single {
				t.Fatalf("scanJSON(%q) = %d elements, single %v, ok %v; want %d, %v, true", tt.text, len(elements), single, ok, tt.elements, tt.single)
			}
		})
	}
}

// What the scanner does not read it leaves to encoding/json; it never
// decides an error itself.
func TestScanDeclines(t *testing.T) {
	for _, text := range []string{
		`[{"na\u006de":"a"}]`, `[{"name":"é"}]`, `[{"name":"a"},]`, `[1]`, `"a"`, `[{"name":"a","x":01}]`, `[{"name":"a"}]x`,
		"[{\"name\":\"a\"}]\f", `[` + strings.Repeat(`{"name":"a"},`, MaxElements) + `{"name":"a"}]`,
		`[{"x":` + strings.Repeat("[", maxScanDepth+1) + strings.Repeat("]", maxScanDepth+1) + `}]`,
	} {
		if _, _, ok := scanJSON(text); ok {
			t.Errorf("scanJSON(%.60q) read it; want it left to encoding/json", text)
		}
	}
}

func TestCompactPlain(t *testing.T) {
	tests := []struct{ in, want string }{
		{`[ 1 , 2 ]`, `[1,2]`},
		{"{ \"a b\" :\t[ \"c d\" ]\n}", `{"a b":["c d"]}`},
		{`[]`, `[]`},
	}
	for _, tt := range tests {
		if got := string(compactPlain([]byte(tt.in))); got != tt.want {
			t.Errorf("compactPlain(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPlainString(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{`"abc"`, "abc", true},
		{`""`, "", true},
		{`"a\"b"`, "", false},
		{`"é"`, "", false},
		{`null`, "", false},
		{`1`, "", false},
	}
	for _, tt := range tests {
		if got, ok := plainString([]byte(tt.in)); got != tt.want || ok != tt.ok {
			t.Errorf("plainString(%s) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
