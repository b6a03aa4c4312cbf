package e2e

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

var _ = Describe("Validation", func() {
	var namespace string

	BeforeEach(func(ctx context.Context) {
		namespace = createNamespace(ctx, "validation")
	})

	It("canonicalises either separator in any case to the lower-case colon form", func(ctx context.Context) {
		mac := nextMAC()
		lease := newLease(mac, "p")
		lease.Spec.MACAddress = upperDash(mac)
		created := createLease(ctx, namespace, lease)
		Expect(created.Spec.MACAddress).To(Equal(mac))

		// The address alone is enough: the name is derived from it, and the
		// address from the name.
		fromAddress := createLease(ctx, namespace, &v1alpha1.MacLease{Spec: v1alpha1.MacLeaseSpec{MACAddress: upperDash(nextMAC())}})
		Expect(fromAddress.Name).To(Equal(leaseName(fromAddress.Spec.MACAddress)))
		staticMAC := nextMAC()
		fromName := createLease(ctx, namespace, &v1alpha1.MacLease{ObjectMeta: metav1.ObjectMeta{Name: leaseName(staticMAC)}})
		Expect(fromName.Spec.MACAddress).To(Equal(staticMAC))
	})

	DescribeTable("rejects a bad lease with a message naming the field",
		func(ctx context.Context, mutate func(*v1alpha1.MacLease), field, reason string) {
			lease := newLease(nextMAC(), "p")
			mutate(lease)
			_, err := macClient.MacpoolV1alpha1().MacLeases(namespace).Create(ctx, lease, metav1.CreateOptions{})
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring(field))
			Expect(err.Error()).To(ContainSubstring(reason))
		},
		Entry("name is not the address", func(l *v1alpha1.MacLease) { l.Name = leaseName(nextMAC()) },
			"spec.macAddress", "must be the address of metadata.name"),
		Entry("name is not a MAC", func(l *v1alpha1.MacLease) { l.Name = "my-lease" },
			"metadata.name", "must be a MAC address in lower-case dash form"),
		Entry("name in upper case", func(l *v1alpha1.MacLease) { l.Name = upperDash(l.Spec.MACAddress) },
			"metadata.name", "lower-case dash form"),
		Entry("generateName", func(l *v1alpha1.MacLease) { l.Name, l.GenerateName = "", "lease-" },
			"metadata.generateName", "generateName is not supported"),
		Entry("multicast address", func(l *v1alpha1.MacLease) { l.Name, l.Spec.MACAddress = "01-00-5e-00-00-01", "01:00:5e:00:00:01" },
			"spec.macAddress", "multicast"),
		Entry("malformed address", func(l *v1alpha1.MacLease) { l.Spec.MACAddress = "02:00:00:00:00" },
			"spec.macAddress", "want six two-digit hex octets"),
		Entry("mixed separators", func(l *v1alpha1.MacLease) { l.Spec.MACAddress = "02:00-00:00:00:01" },
			"spec.macAddress", "mixed or missing separators"),
		Entry("owner without kind", func(l *v1alpha1.MacLease) { l.Spec.Owner.Kind = "" },
			"spec.owner.kind", "Required value"),
		Entry("owner without name", func(l *v1alpha1.MacLease) { l.Spec.Owner.Name = "" },
			"spec.owner.name", "Required value"),
		Entry("unknown phase", func(l *v1alpha1.MacLease) { l.Status.Phase = "Stolen" },
			"status.phase", "Unsupported value"),
		Entry("expiry of a Bound lease", func(l *v1alpha1.MacLease) {
			l.Status.Phase = v1alpha1.MacLeasePhaseBound
			l.Status.ExpiresAt = &metav1.Time{Time: time.Now().Add(time.Minute)}
		}, "status.expiresAt", "only a Reserved or Retained lease expires"),
		Entry("pool that is not a name", func(l *v1alpha1.MacLease) { l.Spec.Pool = "Not A Pool" },
			"spec.pool", "RFC 1123"),
	)

	It("keeps the address of a lease immutable", func(ctx context.Context) {
		lease := createLease(ctx, namespace, newLease(nextMAC(), "p"))
		lease.Spec.MACAddress = nextMAC()
		_, err := macClient.MacpoolV1alpha1().MacLeases(namespace).Update(ctx, lease, metav1.UpdateOptions{})
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.macAddress"))
	})

	It("rejects unknown fields under strict field validation, as kubectl sends by default", func(ctx context.Context) {
		mac := nextMAC()
		_, err := kubectlWithInput(fmt.Sprintf(`apiVersion: macpool.kubemacpool.io/v1alpha1
kind: MacLease
metadata:
  name: %s
spec:
  macAddress: %s
  colour: blue
`, leaseName(mac), mac), "create", "-n", namespace, "-f", "-")
		Expect(err).To(MatchError(ContainSubstring(`unknown field "spec.colour"`)))
		_, err = macClient.MacpoolV1alpha1().MacLeases(namespace).Get(ctx, leaseName(mac), metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the rejected lease was stored: %v", err)
	})

	It("rejects a lease in a namespace that does not exist", func(ctx context.Context) {
		_, err := macClient.MacpoolV1alpha1().MacLeases("no-such-namespace").Create(ctx, newLease(nextMAC(), "p"), metav1.CreateOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring(`namespaces "no-such-namespace" not found`))
	})

	It("rejects an oversized request body", func(ctx context.Context) {
		lease := newLease(nextMAC(), "p")
		lease.Annotations = map[string]string{"padding": strings.Repeat("x", 4<<20)}
		_, err := macClient.MacpoolV1alpha1().MacLeases(namespace).Create(ctx, lease, metav1.CreateOptions{})
		Expect(err).To(HaveOccurred())
		Expect(apierrors.IsRequestEntityTooLargeError(err) || apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	})

	DescribeTable("rejects a bad pool with a message naming the field",
		func(ctx context.Context, spec v1alpha1.MacPoolSpec, field, reason string) {
			pool := &v1alpha1.MacPool{ObjectMeta: metav1.ObjectMeta{GenerateName: "bad-"}, Spec: spec}
			_, err := macClient.MacpoolV1alpha1().MacPools().Create(ctx, pool, metav1.CreateOptions{})
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring(field))
			Expect(err.Error()).To(ContainSubstring(reason))
		},
		Entry("no ranges", v1alpha1.MacPoolSpec{}, "spec.ranges", "Required value"),
		Entry("start after end", v1alpha1.MacPoolSpec{Ranges: []v1alpha1.MACRange{{Start: "02:00:00:00:01:00", End: "02:00:00:00:00:ff"}}},
			"spec.ranges[0]", "start must not be after end"),
		Entry("multicast start", v1alpha1.MacPoolSpec{Ranges: []v1alpha1.MACRange{{Start: "03:00:00:00:00:00", End: "04:00:00:00:00:00"}}},
			"spec.ranges[0].start", "multicast"),
		Entry("malformed end", v1alpha1.MacPoolSpec{Ranges: []v1alpha1.MACRange{{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:zz"}}},
			"spec.ranges[0].end", "not two hex digits"),
		Entry("overlapping ranges", v1alpha1.MacPoolSpec{Ranges: []v1alpha1.MACRange{
			{Start: "02:00:00:00:10:00", End: "02:00:00:00:1f:ff"},
			{Start: "02:00:00:00:00:00", End: "02:00:00:00:10:00"},
		}}, "spec.ranges[0]", "overlaps spec.ranges[1]"),
		Entry("unknown conflict policy", v1alpha1.MacPoolSpec{
			Ranges:         []v1alpha1.MACRange{{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:ff"}},
			ConflictPolicy: "Ignore",
		}, "spec.conflictPolicy", "Unsupported value"),
		Entry("bad namespace selector", v1alpha1.MacPoolSpec{
			Ranges:            []v1alpha1.MACRange{{Start: "02:00:00:00:00:00", End: "02:00:00:00:00:ff"}},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"bad key!": "x"}},
		}, "spec.namespaceSelector", "name part must consist of"),
	)
})

// upperDash spells a colon-form MAC the other way: upper case with dashes.
func upperDash(mac string) string {
	out := []byte(mac)
	for i, c := range out {
		switch {
		case c == ':':
			out[i] = '-'
		case c >= 'a' && c <= 'f':
			out[i] = c - 'a' + 'A'
		}
	}
	return string(out)
}
