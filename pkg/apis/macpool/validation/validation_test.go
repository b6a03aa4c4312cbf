package validation

import (
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

// errorKeys reduces errors to "<type> <field>" pairs, sorted, so that a case
// names where and why an object is refused, not the wording of the detail.
func errorKeys(errs field.ErrorList) []string {
	keys := make([]string, 0, len(errs))
	for _, err := range errs {
		keys = append(keys, string(err.Type)+" "+err.Field)
	}
	sort.Strings(keys)
	return keys
}

func expectErrors(t *testing.T, errs field.ErrorList, want ...string) {
	t.Helper()
	sort.Strings(want)
	got := errorKeys(errs)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n  got  %q\n  want %q\nfull errors: %v", got, want, errs)
	}
}

const (
	invalid      = string(field.ErrorTypeInvalid)
	required     = string(field.ErrorTypeRequired)
	forbidden    = string(field.ErrorTypeForbidden)
	notSupported = string(field.ErrorTypeNotSupported)
	tooLong      = string(field.ErrorTypeTooLong)
)

// validLease is a bound lease of 02:00:00:00:00:0a owned by a Pod.
func validLease() *macpool.MacLease {
	return &macpool.MacLease{
		ObjectMeta: metav1.ObjectMeta{Name: "02-00-00-00-00-0a", Namespace: "lab", ResourceVersion: "1"},
		Spec: macpool.MacLeaseSpec{
			MACAddress: "02:00:00:00:00:0a",
			Pool:       "default",
			Owner:      &macpool.LeaseOwner{APIVersion: "v1", Kind: "Pod", Name: "web"},
			Interface:  "default/br1",
		},
		Status: macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseBound},
	}
}

func TestValidateMacLease(t *testing.T) {
	expires := metav1.NewTime(time.Unix(1700000000, 0))
	longest := strings.Repeat("x", maxReferenceLength)
	tests := []struct {
		name   string
		mutate func(*macpool.MacLease)
		want   []string
	}{
		{name: "valid bound lease", mutate: func(*macpool.MacLease) {}},
		{name: "static reservation without owner, pool or status", mutate: func(l *macpool.MacLease) {
			l.Spec.Owner, l.Spec.Pool, l.Spec.Interface, l.Status = nil, "", "", macpool.MacLeaseStatus{}
		}},
		{name: "reserved lease with expiry", mutate: func(l *macpool.MacLease) {
			l.Status = macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseReserved, ExpiresAt: &expires}
		}},
		{name: "locally administered bit clear is fine", mutate: func(l *macpool.MacLease) {
			l.Name, l.Spec.MACAddress = "00-11-22-33-44-55", "00:11:22:33:44:55"
		}},
		{name: "references at the length limit", mutate: func(l *macpool.MacLease) {
			l.Spec.Interface = longest
			l.Spec.Owner = &macpool.LeaseOwner{APIVersion: longest, Kind: longest, Name: longest}
		}},

		// metadata.name is the address in lower-case dash form and nothing else.
		{name: "name missing", mutate: func(l *macpool.MacLease) { l.Name = "" },
			want: []string{required + " metadata.name"}},
		{name: "name in colon form", mutate: func(l *macpool.MacLease) { l.Name = "02:00:00:00:00:0a" },
			want: []string{invalid + " metadata.name", invalid + " spec.macAddress"}},
		{name: "name in upper case", mutate: func(l *macpool.MacLease) { l.Name = "02-00-00-00-00-0A" },
			want: []string{invalid + " metadata.name", invalid + " spec.macAddress"}},
		{name: "name not an address", mutate: func(l *macpool.MacLease) { l.Name = "my-lease" },
			want: []string{invalid + " metadata.name", invalid + " spec.macAddress"}},
		{name: "generateName refused", mutate: func(l *macpool.MacLease) { l.GenerateName = "02-00-" },
			want: []string{invalid + " metadata.generateName"}},
		{name: "namespace missing", mutate: func(l *macpool.MacLease) { l.Namespace = "" },
			want: []string{required + " metadata.namespace"}},

		// spec.macAddress is the unicast address of the name, in colon form.
		{name: "address missing", mutate: func(l *macpool.MacLease) { l.Spec.MACAddress = "" },
			want: []string{required + " spec.macAddress"}},
		{name: "address malformed", mutate: func(l *macpool.MacLease) { l.Spec.MACAddress = "02:00:00:00:0a" },
			want: []string{invalid + " spec.macAddress"}},
		{name: "address multicast", mutate: func(l *macpool.MacLease) {
			l.Name, l.Spec.MACAddress = "03-00-00-00-00-0a", "03:00:00:00:00:0a"
		}, want: []string{invalid + " spec.macAddress"}},
		{name: "broadcast address", mutate: func(l *macpool.MacLease) {
			l.Name, l.Spec.MACAddress = "ff-ff-ff-ff-ff-ff", "ff:ff:ff:ff:ff:ff"
		}, want: []string{invalid + " spec.macAddress"}},
		{name: "address in dash form", mutate: func(l *macpool.MacLease) { l.Spec.MACAddress = "02-00-00-00-00-0a" },
			want: []string{invalid + " spec.macAddress"}},
		{name: "address in upper case", mutate: func(l *macpool.MacLease) { l.Spec.MACAddress = "02:00:00:00:00:0A" },
			want: []string{invalid + " spec.macAddress"}},
		{name: "address differs from the name", mutate: func(l *macpool.MacLease) { l.Spec.MACAddress = "02:00:00:00:00:0b" },
			want: []string{invalid + " spec.macAddress"}},

		{name: "pool not a DNS subdomain", mutate: func(l *macpool.MacLease) { l.Spec.Pool = "Pool_1" },
			want: []string{invalid + " spec.pool"}},
		{name: "owner without apiVersion, kind and name", mutate: func(l *macpool.MacLease) { l.Spec.Owner = &macpool.LeaseOwner{} },
			want: []string{required + " spec.owner.apiVersion", required + " spec.owner.kind", required + " spec.owner.name"}},
		{name: "owner references too long", mutate: func(l *macpool.MacLease) {
			l.Spec.Owner = &macpool.LeaseOwner{APIVersion: longest + "x", Kind: longest + "x", Name: longest + "x"}
		}, want: []string{tooLong + " spec.owner.apiVersion", tooLong + " spec.owner.kind", tooLong + " spec.owner.name"}},
		{name: "interface too long", mutate: func(l *macpool.MacLease) { l.Spec.Interface = longest + "x" },
			want: []string{tooLong + " spec.interface"}},

		{name: "unknown phase", mutate: func(l *macpool.MacLease) { l.Status.Phase = "Released" },
			want: []string{notSupported + " status.phase"}},
		{name: "bound lease with expiry", mutate: func(l *macpool.MacLease) { l.Status.ExpiresAt = &expires },
			want: []string{forbidden + " status.expiresAt"}},
		{name: "expiry without phase", mutate: func(l *macpool.MacLease) { l.Status = macpool.MacLeaseStatus{ExpiresAt: &expires} },
			want: []string{forbidden + " status.expiresAt"}},

		// The lease controller must be able to read the node holds it
		// keeps a deleted lease for.
		{name: "node holds", mutate: func(l *macpool.MacLease) {
			l.Annotations = map[string]string{macpool.NodeHoldsAnnotation: `[{"node":"n1","pod":"web","stoppedBy":"2026-12-01T18:00:00Z"}]`}
		}},
		{name: "node holds an hour ahead, as the controller writes for the longest grace", mutate: func(l *macpool.MacLease) {
			l.Annotations = map[string]string{macpool.NodeHoldsAnnotation: macpool.FormatNodeHolds([]macpool.NodeHold{
				{Node: "n1", Pod: "web", StoppedBy: metav1.NewTime(time.Now().Add(time.Hour + 10*time.Second))}})}
		}},
		// A hold further ahead keeps the MAC that long, whatever its node
		// proves: nobody writes one but by hand.
		{name: "node holds a year ahead", mutate: func(l *macpool.MacLease) {
			l.Annotations = map[string]string{macpool.NodeHoldsAnnotation: macpool.FormatNodeHolds([]macpool.NodeHold{
				{Node: "n1", Pod: "web", StoppedBy: metav1.NewTime(time.Now().Add(-time.Hour))},
				{Node: "n2", Pod: "web", StoppedBy: metav1.NewTime(time.Now().AddDate(1, 0, 0))}})}
		}, want: []string{invalid + " metadata.annotations[" + macpool.NodeHoldsAnnotation + "]"}},
		{name: "node holds unreadable", mutate: func(l *macpool.MacLease) {
			l.Annotations = map[string]string{macpool.NodeHoldsAnnotation: `n1 until tomorrow`}
		}, want: []string{invalid + " metadata.annotations[" + macpool.NodeHoldsAnnotation + "]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lease := validLease()
			tc.mutate(lease)
			expectErrors(t, ValidateMacLease(lease), tc.want...)
		})
	}
}

// farHold is a node hold a year ahead, as stored before the bound on
// stoppedBy existed.
var farHold = macpool.FormatNodeHolds([]macpool.NodeHold{{Node: "n1", Pod: "web", StoppedBy: metav1.NewTime(time.Now().AddDate(1, 0, 0))}})

func TestValidateMacLeaseUpdate(t *testing.T) {
	expires := metav1.NewTime(time.Unix(1700000000, 0))
	tests := []struct {
		name   string
		old    func(*macpool.MacLease)
		update func(*macpool.MacLease)
		want   []string
	}{
		{name: "owner, pool and interface may change", update: func(l *macpool.MacLease) {
			l.Spec.Owner = &macpool.LeaseOwner{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine", Name: "vm"}
			l.Spec.Pool, l.Spec.Interface = "lab", "default"
		}},
		{name: "owner may be dropped", update: func(l *macpool.MacLease) { l.Spec.Owner = nil }},
		// The old object carries another address than its name, which no
		// valid lease does: only the immutability rule can then refuse
		// the update, since the new spec agrees with the name.
		{name: "address is immutable", old: func(l *macpool.MacLease) { l.Spec.MACAddress = "02:00:00:00:00:0b" },
			want: []string{invalid + " spec.macAddress"}},
		{name: "name is immutable", update: func(l *macpool.MacLease) {
			l.Name, l.Spec.MACAddress = "02-00-00-00-00-0b", "02:00:00:00:00:0b"
		}, want: []string{invalid + " metadata.name", invalid + " spec.macAddress"}},
		{name: "namespace is immutable", update: func(l *macpool.MacLease) { l.Namespace = "other" },
			want: []string{invalid + " metadata.namespace"}},
		{name: "resourceVersion required", update: func(l *macpool.MacLease) { l.ResourceVersion = "" },
			want: []string{invalid + " metadata.resourceVersion"}},
		{name: "spec rules apply", update: func(l *macpool.MacLease) { l.Spec.Owner = &macpool.LeaseOwner{Kind: "Pod", Name: "web"} },
			want: []string{required + " spec.owner.apiVersion"}},
		{name: "status rules apply", update: func(l *macpool.MacLease) { l.Status.ExpiresAt = &expires },
			want: []string{forbidden + " status.expiresAt"}},
		// A hold stored further ahead than the bound (written before the
		// bound existed, or by a replica whose clock runs ahead) does not
		// refuse an update that leaves it be: the controller's finalizer
		// and status writes, a label.
		{name: "a stored hold far ahead does not refuse an update that keeps it",
			old: func(l *macpool.MacLease) { l.Annotations = map[string]string{macpool.NodeHoldsAnnotation: farHold} },
			update: func(l *macpool.MacLease) {
				l.Annotations = map[string]string{macpool.NodeHoldsAnnotation: farHold, "team": "lab"}
			}},
		{name: "a hold moved further ahead is refused",
			old: func(l *macpool.MacLease) { l.Annotations = map[string]string{macpool.NodeHoldsAnnotation: farHold} },
			update: func(l *macpool.MacLease) {
				l.Annotations = map[string]string{macpool.NodeHoldsAnnotation: macpool.FormatNodeHolds([]macpool.NodeHold{
					{Node: "n1", Pod: "web", StoppedBy: metav1.NewTime(time.Now().AddDate(2, 0, 0))}})}
			}, want: []string{invalid + " metadata.annotations[" + macpool.NodeHoldsAnnotation + "]"}},
		{name: "a hold far ahead on another node is refused",
			old: func(l *macpool.MacLease) { l.Annotations = map[string]string{macpool.NodeHoldsAnnotation: farHold} },
			update: func(l *macpool.MacLease) {
				l.Annotations = map[string]string{macpool.NodeHoldsAnnotation: macpool.FormatNodeHolds([]macpool.NodeHold{
					{Node: "n2", Pod: "web", StoppedBy: metav1.NewTime(time.Now().AddDate(1, 0, 0))}})}
			}, want: []string{invalid + " metadata.annotations[" + macpool.NodeHoldsAnnotation + "]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old, lease := validLease(), validLease()
			if tc.old != nil {
				tc.old(old)
			}
			if tc.update != nil {
				tc.update(lease)
			}
			expectErrors(t, ValidateMacLeaseUpdate(lease, old), tc.want...)
		})
	}
}

func TestValidateMacLeaseStatusUpdate(t *testing.T) {
	expires := metav1.NewTime(time.Unix(1700000000, 0))
	tests := []struct {
		name   string
		update func(*macpool.MacLease)
		want   []string
	}{
		{name: "bind", update: func(l *macpool.MacLease) { l.Status = macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseBound} }},
		{name: "reserve with expiry", update: func(l *macpool.MacLease) {
			l.Status = macpool.MacLeaseStatus{Phase: macpool.MacLeasePhaseReserved, ExpiresAt: &expires}
		}},
		// The status strategy restores the spec before validation; the
		// status rules alone decide.
		{name: "spec is not validated", update: func(l *macpool.MacLease) { l.Spec.MACAddress = "not a mac" }},
		{name: "unknown phase", update: func(l *macpool.MacLease) { l.Status.Phase = "Lost" },
			want: []string{notSupported + " status.phase"}},
		{name: "expiry on a bound lease", update: func(l *macpool.MacLease) { l.Status.ExpiresAt = &expires },
			want: []string{forbidden + " status.expiresAt"}},
		{name: "metadata rules apply", update: func(l *macpool.MacLease) { l.Namespace = "other" },
			want: []string{invalid + " metadata.namespace"}},
		// The status strategy restores the annotations: a hold stored
		// further ahead than the bound refuses no status write.
		{name: "a stored hold far ahead", update: func(l *macpool.MacLease) { l.Status.Phase = macpool.MacLeasePhaseReserved }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old, lease := validLease(), validLease()
			old.Annotations = map[string]string{macpool.NodeHoldsAnnotation: farHold}
			lease.Annotations = map[string]string{macpool.NodeHoldsAnnotation: farHold}
			tc.update(lease)
			expectErrors(t, ValidateMacLeaseStatusUpdate(lease, old), tc.want...)
		})
	}
}

func validPool() *macpool.MacPool {
	return &macpool.MacPool{
		ObjectMeta: metav1.ObjectMeta{Name: "lab", ResourceVersion: "1"},
		Spec: macpool.MacPoolSpec{
			Ranges: []macpool.MACRange{
				{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:ff"},
				{Start: "0a:00:00:00:00:00", End: "0a:00:00:00:00:00"},
			},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "lab"}},
			ConflictPolicy:    macpool.ConflictPolicyWarn,
		},
	}
}

func TestValidateMacPool(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*macpool.MacPool)
		want   []string
	}{
		{name: "valid pool", mutate: func(*macpool.MacPool) {}},
		{name: "reject policy, no selector", mutate: func(p *macpool.MacPool) {
			p.Spec.ConflictPolicy, p.Spec.NamespaceSelector = macpool.ConflictPolicyReject, nil
		}},
		{name: "adjacent ranges do not overlap", mutate: func(p *macpool.MacPool) {
			p.Spec.Ranges = []macpool.MACRange{
				{Start: "02:00:00:00:01:00", End: "02:00:00:00:01:ff"},
				{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:ff"},
			}
		}},
		// A range may span a first-octet boundary: the allocator skips the
		// multicast addresses inside it; only the ends must be unicast.
		{name: "range across a multicast first octet", mutate: func(p *macpool.MacPool) {
			p.Spec.Ranges = []macpool.MACRange{{Start: "02:ff:ff:ff:ff:00", End: "04:00:00:00:00:ff"}}
		}},
		{name: "dash and upper-case ends parse", mutate: func(p *macpool.MacPool) {
			p.Spec.Ranges = []macpool.MACRange{{Start: "02-00-00-00-00-00", End: "02:00:00:00:00:FF"}}
		}},

		{name: "name not a DNS subdomain", mutate: func(p *macpool.MacPool) { p.Name = "Lab_Pool" },
			want: []string{invalid + " metadata.name"}},
		{name: "pool is cluster-scoped", mutate: func(p *macpool.MacPool) { p.Namespace = "lab" },
			want: []string{forbidden + " metadata.namespace"}},

		{name: "no ranges", mutate: func(p *macpool.MacPool) { p.Spec.Ranges = nil },
			want: []string{required + " spec.ranges"}},
		{name: "malformed start", mutate: func(p *macpool.MacPool) { p.Spec.Ranges[1].Start = "0a:00:00:00:00" },
			want: []string{invalid + " spec.ranges[1].start"}},
		{name: "multicast end", mutate: func(p *macpool.MacPool) { p.Spec.Ranges[0].End = "03:00:00:00:00:00" },
			want: []string{invalid + " spec.ranges[0].end"}},
		{name: "both ends bad", mutate: func(p *macpool.MacPool) { p.Spec.Ranges[0] = macpool.MACRange{Start: "01:00:00:00:00:00", End: "x"} },
			want: []string{invalid + " spec.ranges[0].start", invalid + " spec.ranges[0].end"}},
		{name: "start after end", mutate: func(p *macpool.MacPool) {
			p.Spec.Ranges[0] = macpool.MACRange{Start: "02:00:00:00:00:ff", End: "02:00:00:00:00:00"}
		}, want: []string{invalid + " spec.ranges[0]"}},
		// Overlaps are found in address order and reported on the range
		// that starts later, whatever its index.
		{name: "overlap reported on the later range", mutate: func(p *macpool.MacPool) {
			p.Spec.Ranges = []macpool.MACRange{
				{Start: "02:00:00:00:00:80", End: "02:00:00:00:01:00"},
				{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:80"},
			}
		}, want: []string{invalid + " spec.ranges[0]"}},
		{name: "range inside another", mutate: func(p *macpool.MacPool) {
			p.Spec.Ranges = append(p.Spec.Ranges, macpool.MACRange{Start: "02:00:00:00:00:10", End: "02:00:00:00:00:20"})
		}, want: []string{invalid + " spec.ranges[2]"}},

		{name: "selector label key invalid", mutate: func(p *macpool.MacPool) {
			p.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"bad key": "x"}}
		}, want: []string{invalid + " spec.namespaceSelector.matchLabels"}},
		{name: "selector operator unknown", mutate: func(p *macpool.MacPool) {
			p.Spec.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "team", Operator: "Near", Values: []string{"lab"}}}}
		}, want: []string{invalid + " spec.namespaceSelector.matchExpressions[0].operator"}},
		{name: "selector In without values", mutate: func(p *macpool.MacPool) {
			p.Spec.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "team", Operator: metav1.LabelSelectorOpIn}}}
		}, want: []string{required + " spec.namespaceSelector.matchExpressions[0].values"}},

		// Defaulting fills Warn; the internal object must carry a policy.
		{name: "conflict policy missing", mutate: func(p *macpool.MacPool) { p.Spec.ConflictPolicy = "" },
			want: []string{notSupported + " spec.conflictPolicy"}},
		{name: "conflict policy unknown", mutate: func(p *macpool.MacPool) { p.Spec.ConflictPolicy = "reject" },
			want: []string{notSupported + " spec.conflictPolicy"}},
		{name: "reassign policy", mutate: func(p *macpool.MacPool) { p.Spec.ConflictPolicy = macpool.ConflictPolicyReassign }},

		// Excluded ranges may lie outside spec.ranges and overlap each
		// other: the MACs of physical hosts are listed once, whatever the
		// pool's ranges become.
		{name: "exclude inside, outside and overlapping", mutate: func(p *macpool.MacPool) {
			p.Spec.Exclude = []macpool.MACRange{
				{Start: "02:00:00:00:00:10", End: "02:00:00:00:00:20"},
				{Start: "02:00:00:00:00:18", End: "02:00:00:00:00:18"},
				{Start: "0e:00:00:00:00:00", End: "0e:00:00:00:00:ff"},
			}
		}},
		{name: "exclude start after end", mutate: func(p *macpool.MacPool) {
			p.Spec.Exclude = []macpool.MACRange{{Start: "02:00:00:00:00:20", End: "02:00:00:00:00:10"}}
		}, want: []string{invalid + " spec.exclude[0]"}},
		{name: "exclude malformed and multicast ends", mutate: func(p *macpool.MacPool) {
			p.Spec.Exclude = []macpool.MACRange{
				{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:01"},
				{Start: "02:00:00:00:00", End: "03:00:00:00:00:00"},
			}
		}, want: []string{invalid + " spec.exclude[1].start", invalid + " spec.exclude[1].end"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool := validPool()
			tc.mutate(pool)
			expectErrors(t, ValidateMacPool(pool), tc.want...)
		})
	}
}

func TestValidateMacPoolUpdate(t *testing.T) {
	tests := []struct {
		name   string
		update func(*macpool.MacPool)
		want   []string
	}{
		{name: "ranges may shrink, grow and move", update: func(p *macpool.MacPool) {
			p.Spec.Ranges = []macpool.MACRange{{Start: "0e:00:00:00:00:00", End: "0e:00:00:00:ff:ff"}}
		}},
		{name: "policy and selector may change", update: func(p *macpool.MacPool) {
			p.Spec.ConflictPolicy, p.Spec.NamespaceSelector = macpool.ConflictPolicyReject, nil
		}},
		{name: "name is immutable", update: func(p *macpool.MacPool) { p.Name = "other" },
			want: []string{invalid + " metadata.name"}},
		{name: "spec rules apply", update: func(p *macpool.MacPool) { p.Spec.Ranges = nil },
			want: []string{required + " spec.ranges"}},
		{name: "overlap refused", update: func(p *macpool.MacPool) { p.Spec.Ranges[1] = p.Spec.Ranges[0] },
			want: []string{invalid + " spec.ranges[1]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old, pool := validPool(), validPool()
			tc.update(pool)
			expectErrors(t, ValidateMacPoolUpdate(pool, old), tc.want...)
		})
	}
}

func TestValidateMacPoolStatusUpdate(t *testing.T) {
	condition := metav1.Condition{Type: "Exhausted", Status: metav1.ConditionFalse, Reason: "AddressesLeft",
		LastTransitionTime: metav1.NewTime(time.Unix(1700000000, 0))}
	tests := []struct {
		name   string
		update func(*macpool.MacPool)
		want   []string
	}{
		{name: "counts and a condition", update: func(p *macpool.MacPool) {
			p.Status = macpool.MacPoolStatus{Capacity: 257, Allocated: 7, Free: 250, Conditions: []metav1.Condition{condition}}
		}},
		{name: "spec is not validated", update: func(p *macpool.MacPool) { p.Spec.Ranges = nil }},
		{name: "negative counts", update: func(p *macpool.MacPool) {
			p.Status = macpool.MacPoolStatus{Capacity: -1, Allocated: -2, Free: -3}
		}, want: []string{invalid + " status.allocated", invalid + " status.capacity", invalid + " status.free"}},
		{name: "condition without reason", update: func(p *macpool.MacPool) {
			c := condition
			c.Reason = ""
			p.Status.Conditions = []metav1.Condition{c}
		}, want: []string{required + " status.conditions[0].reason"}},
		{name: "condition with unknown status", update: func(p *macpool.MacPool) {
			c := condition
			c.Status = "Maybe"
			p.Status.Conditions = []metav1.Condition{c}
		}, want: []string{notSupported + " status.conditions[0].status"}},
		{name: "name is immutable", update: func(p *macpool.MacPool) { p.Name = "other" },
			want: []string{invalid + " metadata.name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old, pool := validPool(), validPool()
			tc.update(pool)
			expectErrors(t, ValidateMacPoolStatusUpdate(pool, old), tc.want...)
		})
	}
}

func TestParseRanges(t *testing.T) {
	ranges, err := ParseRanges(validPool().Spec.Ranges)
	if err != nil {
		t.Fatalf("ParseRanges of a valid pool: %v", err)
	}
	if len(ranges) != 2 || ranges[0].Size() != 256 || ranges[1].Size() != 1 {
		t.Errorf("ParseRanges = %v, want 256 and 1 addresses", ranges)
	}
	_, err = ParseRanges([]macpool.MACRange{{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:01"}, {Start: "02:00:00:00:00:09", End: "02:00:00:00:00:08"}})
	if err == nil || !strings.HasPrefix(err.Error(), "spec.ranges[1]: ") {
		t.Errorf("ParseRanges of a reversed second range: err = %v, want one naming spec.ranges[1]", err)
	}
}
