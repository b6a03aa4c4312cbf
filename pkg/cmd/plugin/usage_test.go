package plugin

import (
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
)

func pool(name string, capacity, allocated int64, ranges ...string) *v1alpha1.MacPool {
	p := &v1alpha1.MacPool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status:     v1alpha1.MacPoolStatus{Capacity: capacity, Allocated: allocated, Free: capacity - allocated},
	}
	for i := 0; i+1 < len(ranges); i += 2 {
		p.Spec.Ranges = append(p.Spec.Ranges, v1alpha1.MACRange{Start: ranges[i], End: ranges[i+1]})
	}
	return p
}

func TestUsageTable(t *testing.T) {
	clientset := fake.NewClientset(
		pool("default", 1<<40, 3),
		retainedPool(pool("lab", 8, 8), 3),
		pool("almost", 1000, 999),
		pool("half", 10, 5),
		pool("empty", 0, 0),
	)
	out, errOut, code := run(t, clientset, "mine", "usage")
	if code != 0 {
		t.Fatalf("exit status %d: %s", code, errOut)
	}
	want := `POOL     CAPACITY       ALLOCATED  RETAINED  FREE           USAGE
almost   1000           999        0         1              [###################.] 99.90%
default  1099511627776  3          0         1099511627773  [#...................] <0.01%
empty    0              0          0         0              [....................] 0%
half     10             5          0         5              [##########..........] 50%
lab      8              8          3         0              [####################] 100%
`
	if out != want {
		t.Errorf("table:\n%s\nwant:\n%s", out, want)
	}
	onlyReads(t, clientset)
}

func TestUsageStructured(t *testing.T) {
	want := UsageReport{Pools: []PoolUsage{
		{Name: "a", Capacity: 4, Allocated: 1, Free: 3, Retained: 1, Percent: 25},
		{Name: "b", Capacity: 2, Allocated: 2, Free: 0, Percent: 100},
	}}
	for _, format := range []string{"json", "yaml"} {
		t.Run(format, func(t *testing.T) {
			clientset := fake.NewClientset(pool("b", 2, 2), retainedPool(pool("a", 4, 1), 1))
			out, errOut, code := run(t, clientset, "mine", "usage", "-o", format)
			if code != 0 {
				t.Fatalf("exit status %d: %s", code, errOut)
			}
			var got UsageReport
			var err error
			if format == "json" {
				err = json.Unmarshal([]byte(out), &got)
			} else {
				err = yaml.UnmarshalStrict([]byte(out), &got)
			}
			if err != nil {
				t.Fatalf("decoding %s: %v\n%s", format, err, out)
			}
			if len(got.Pools) != 2 || got.Pools[0] != want.Pools[0] || got.Pools[1] != want.Pools[1] {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		forbid   bool
		wantErr  string
		wantCode int
	}{
		{name: "unknown format", args: []string{"usage", "-o", "wide"}, wantCode: 1,
			wantErr: `error: unknown output format "wide" for --output: use json or yaml`},
		{name: "no right to list pools", args: []string{"usage"}, forbid: true, wantCode: 1,
			wantErr: "error: you may not list macpools.macpool.kubemacpool.io: ask for that RBAC right (check it with `kubectl auth can-i list macpools.macpool.kubemacpool.io`)"},
		{name: "no pools", args: []string{"usage"}, wantCode: 0, wantErr: "No MacPools found."},
		{name: "arguments", args: []string{"usage", "default"}, wantCode: 1, wantErr: `unknown command "default"`},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			clientset := fake.NewClientset()
			if test.forbid {
				forbid(clientset, "list", "macpools", "")
			}
			_, errOut, code := run(t, clientset, "mine", test.args...)
			if code != test.wantCode || !strings.Contains(errOut, test.wantErr) {
				t.Errorf("exit status %d, stderr %q; want %d and %q", code, errOut, test.wantCode, test.wantErr)
			}
		})
	}
}

func retainedPool(p *v1alpha1.MacPool, retained int64) *v1alpha1.MacPool {
	p.Status.Retained = retained
	return p
}
