package plugin

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
)

func TestFree(t *testing.T) {
	pod := &v1alpha1.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "p"}
	tests := []struct {
		name     string
		pool     *v1alpha1.MacPool
		leases   []*v1alpha1.MacLease
		args     []string
		wantOut  string
		wantErr  string
		wantCode int
	}{{
		name: "first free address by default",
		pool: pool("lab", 8, 1, "0e:00:00:00:00:00", "0e:00:00:00:00:07"),
		leases: []*v1alpha1.MacLease{
			lease("a", "0e:00:00:00:00:00", pod, inPool("lab", "")),
		},
		args:    []string{"free", "lab"},
		wantOut: "0e:00:00:00:00:01\n",
	}, {
		name: "leases of every namespace and pool count, static reservations too",
		pool: pool("lab", 8, 2, "0e:00:00:00:00:00", "0e:00:00:00:00:07"),
		leases: []*v1alpha1.MacLease{
			lease("a", "0e:00:00:00:00:00", pod, inPool("lab", "")),
			lease("b", "0e:00:00:00:00:02", nil),
			lease("c", "0e:00:00:00:00:03", pod, inPool("other", "")),
			lease("c", "02:00:00:00:00:01", pod, inPool("default", "")),
		},
		args:    []string{"free", "lab", "-n", "3"},
		wantOut: "0e:00:00:00:00:01\n0e:00:00:00:00:04\n0e:00:00:00:00:05\n",
	}, {
		name:    "ranges in order, multicast skipped",
		pool:    pool("wide", 0, 0, "0a:00:00:00:00:05", "0a:00:00:00:00:05", "02:ff:ff:ff:ff:ff", "04:00:00:00:00:00"),
		args:    []string{"free", "wide", "--count=3"},
		wantOut: "0a:00:00:00:00:05\n02:ff:ff:ff:ff:ff\n04:00:00:00:00:00\n",
	}, {
		name: "fewer free than asked",
		pool: pool("lab", 2, 1, "0e:00:00:00:00:00", "0e:00:00:00:00:01"),
		leases: []*v1alpha1.MacLease{
			lease("a", "0e:00:00:00:00:00", pod),
		},
		args:    []string{"free", "lab", "-n", "5"},
		wantOut: "0e:00:00:00:00:01\n",
		wantErr: `MacPool "lab" has only 1 free addresses.`,
	}, {
		name: "full pool",
		pool: pool("lab", 2, 2, "0e:00:00:00:00:00", "0e:00:00:00:00:01"),
		leases: []*v1alpha1.MacLease{
			lease("a", "0e:00:00:00:00:00", pod),
			lease("b", "0e:00:00:00:00:01", pod),
		},
		args:     []string{"free", "lab"},
		wantErr:  `error: MacPool "lab" has no free address: every unicast address of its ranges is leased`,
		wantCode: 1,
	}, {
		name:     "unknown pool",
		args:     []string{"free", "nope"},
		wantErr:  "error: MacPool \"nope\" not found (`kubectl macpool usage` lists the pools)",
		wantCode: 1,
	}, {
		name:     "count out of bounds",
		args:     []string{"free", "lab", "-n", "0"},
		wantErr:  "error: invalid --count 0: must be between 1 and 100000",
		wantCode: 1,
	}, {
		name:     "no pool named",
		args:     []string{"free"},
		wantErr:  "accepts 1 arg(s), received 0",
		wantCode: 1,
	}}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			clientset := fake.NewClientset()
			if test.pool != nil {
				if err := clientset.Tracker().Add(test.pool); err != nil {
					t.Fatal(err)
				}
			}
			for _, l := range test.leases {
				if err := clientset.Tracker().Add(l); err != nil {
					t.Fatal(err)
				}
			}
			out, errOut, code := run(t, clientset, "mine", test.args...)
			if code != test.wantCode {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, test.wantCode, errOut)
			}
			if out != test.wantOut {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, test.wantOut)
			}
			if !strings.Contains(errOut, test.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", test.wantErr, errOut)
			}
			onlyReads(t, clientset)
		})
	}
}

// A user who may not list leases in every namespace gets no addresses and
// an error naming the right.
func TestFreeNeedsClusterWideList(t *testing.T) {
	clientset := fake.NewClientset(pool("lab", 8, 0, "0e:00:00:00:00:00", "0e:00:00:00:00:07"))
	forbid(clientset, "list", "macleases", "")
	out, errOut, code := run(t, clientset, "mine", "free", "lab")
	if code != 1 || out != "" {
		t.Errorf("exit status %d, stdout %q; want 1 and nothing", code, out)
	}
	for _, want := range []string{
		"error: you may not list macleases.macpool.kubemacpool.io in every namespace",
		"kubectl auth can-i list macleases.macpool.kubemacpool.io -A",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// Leases are read page by page until the server says there are no more.
func TestFreeReadsEveryPage(t *testing.T) {
	clientset := fake.NewClientset(pool("lab", 4, 2, "0e:00:00:00:00:00", "0e:00:00:00:00:03"))
	pages := map[string]*v1alpha1.MacLeaseList{
		"":     {ListMeta: metav1.ListMeta{Continue: "next"}, Items: []v1alpha1.MacLease{*lease("a", "0e:00:00:00:00:00", nil)}},
		"next": {Items: []v1alpha1.MacLease{*lease("b", "0e:00:00:00:00:01", nil)}},
	}
	clientset.PrependReactor("list", "macleases", func(action clienttesting.Action) (bool, runtime.Object, error) {
		restrictions := action.(clienttesting.ListActionImpl).GetListOptions()
		if restrictions.Limit != listPageSize {
			t.Errorf("list limit %d, want %d", restrictions.Limit, listPageSize)
		}
		return true, pages[restrictions.Continue], nil
	})
	out, errOut, code := run(t, clientset, "mine", "free", "lab")
	if code != 0 || out != "0e:00:00:00:00:02\n" {
		t.Errorf("exit status %d, stdout %q, stderr %q; want 0e:00:00:00:00:02", code, out, errOut)
	}
}
