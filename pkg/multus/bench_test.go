package multus

import "testing"

// benchAnnotations are networks annotations as users write them.
var benchAnnotations = []struct{ name, annotation string }{
	{"list-1", `[{"name":"net1"}]`},
	{"list-1-mac", `[{"name":"net1","namespace":"ns","mac":"02:00:00:00:00:01"}]`},
	{"list-2", `[{"name":"net1","interface":"net1"},{"name":"net2","namespace":"other"}]`},
	{"list-4-mac", `[{"name":"net1","namespace":"ns","interface":"net1","mac":"02:00:00:00:00:01"},{"name":"net2","mac":"02:00:00:00:00:02","ips":["10.0.0.2/24"]},{"name":"net3","mac":"02:00:00:00:00:03","cni-args":{"vlan":12,"mtu":1500}},{"name":"net4","namespace":"other","interface":"eth4","mac":"02:00:00:00:00:04"}]`},
	{"pretty-2", "[\n  {\n    \"name\": \"net1\",\n    \"mac\": \"02:00:00:00:00:01\"\n  },\n  {\n    \"name\": \"net2\"\n  }\n]"},
	{"comma-1", `net1`},
	{"comma-3", `net1, other/net2@eth2, net3@eth3`},
}

func BenchmarkParse(b *testing.B) {
	for _, bench := range benchAnnotations {
		b.Run(bench.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := Parse(bench.annotation, "ns"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
