package macpool

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/warning"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

type warningRecorder []string

func (r *warningRecorder) AddWarning(_, text string) { *r = append(*r, text) }

func poolWith(name string, ranges ...string) *macpool.MacPool {
	pool := &macpool.MacPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: macpool.MacPoolSpec{ConflictPolicy: macpool.ConflictPolicyWarn}}
	for i := 0; i < len(ranges); i += 2 {
		pool.Spec.Ranges = append(pool.Spec.Ranges, macpool.MACRange{Start: ranges[i], End: ranges[i+1]})
	}
	return pool
}

// A range that is not locally administered, or that overlaps another
// pool's, is stored, with an API warning that says why it is risky. The
// other pools come from the store itself.
func TestWarnings(t *testing.T) {
	pools, poolStatus := newStorage(t)
	ctx := genericapirequest.WithNamespace(genericapirequest.NewContext(), metav1.NamespaceNone)
	if _, err := pools.Create(ctx, poolWith("first", "02:00:00:00:00:00", "02:00:00:00:00:ff"), rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		pool  *macpool.MacPool
		want  []string
		using string // "create" or "update"
	}{
		{name: "locally administered, apart", pool: poolWith("apart", "0a:00:00:00:00:00", "0a:00:00:00:00:ff")},
		{name: "universally administered", pool: poolWith("vendor", "0a:00:00:00:01:00", "0a:00:00:00:01:ff", "00:11:22:00:00:00", "00:11:22:00:00:ff"),
			want: []string{"spec.ranges[1] (00:11:22:00:00:00-00:11:22:00:00:ff) holds universally administered addresses (bit 0x02 of the first octet is clear)"}},
		{name: "spanning a universally administered octet", pool: poolWith("span", "02:ff:ff:ff:ff:00", "06:00:00:00:00:00"),
			want: []string{"spec.ranges[0] (02:ff:ff:ff:ff:00-06:00:00:00:00:00) holds universally administered addresses"}},
		{name: "overlapping another pool", pool: poolWith("overlap", "02:00:00:00:00:80", "02:00:00:00:01:7f"),
			want: []string{`spec.ranges[0] (02:00:00:00:00:80-02:00:00:00:01:7f) overlaps spec.ranges[0] (02:00:00:00:00:00-02:00:00:00:00:ff) of MacPool "first": an address is still leased only once, but the two pools compete for the same addresses`}},
		{name: "an update that makes it overlap", using: "update", pool: poolWith("apart", "02:00:00:00:00:10", "02:00:00:00:00:20"),
			want: []string{`overlaps spec.ranges[0] (02:00:00:00:00:00-02:00:00:00:00:ff) of MacPool "first"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var recorded warningRecorder
			ctx := warning.WithWarningRecorder(genericapirequest.WithNamespace(genericapirequest.NewContext(), metav1.NamespaceNone), &recorded)
			var err error
			if tc.using == "update" {
				current, getErr := pools.Get(ctx, tc.pool.Name, &metav1.GetOptions{})
				if getErr != nil {
					t.Fatal(getErr)
				}
				updated := current.(*macpool.MacPool)
				updated.Spec.Ranges = tc.pool.Spec.Ranges
				_, _, err = pools.Update(ctx, tc.pool.Name, rest.DefaultUpdatedObjectInfo(updated), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
			} else {
				_, err = pools.Create(ctx, tc.pool, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if len(recorded) != len(tc.want) {
				t.Fatalf("warnings %q, want %q", recorded, tc.want)
			}
			for i := range tc.want {
				if !strings.Contains(recorded[i], tc.want[i]) {
					t.Errorf("warning %q, want %q", recorded[i], tc.want[i])
				}
			}
		})
	}

	// A status write is the allocator's; it never warns.
	var recorded warningRecorder
	ctx = warning.WithWarningRecorder(genericapirequest.WithNamespace(genericapirequest.NewContext(), metav1.NamespaceNone), &recorded)
	current, err := pools.Get(ctx, "overlap", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	withStatus := current.(*macpool.MacPool)
	withStatus.Status.Capacity = 256
	if _, _, err := poolStatus.Update(ctx, "overlap", rest.DefaultUpdatedObjectInfo(withStatus), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(recorded) != 0 {
		t.Errorf("a status write warned: %q", recorded)
	}
}
