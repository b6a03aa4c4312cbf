package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
)

var _ = Describe("The aggregated API", func() {
	It("is discovered through kube-apiserver with both resources, scopes, short names and the category", func(ctx context.Context) {
		resources, err := kubeClient.Discovery().ServerResourcesForGroupVersion(v1alpha1.SchemeGroupVersion.String())
		Expect(err).NotTo(HaveOccurred())
		byName := map[string]metav1.APIResource{}
		for _, resource := range resources.APIResources {
			byName[resource.Name] = resource
		}
		Expect(byName).To(HaveKey("macleases"))
		Expect(byName).To(HaveKey("macleases/status"))
		Expect(byName).To(HaveKey("macpools"))
		Expect(byName).To(HaveKey("macpools/status"))
		Expect(byName["macleases"].Namespaced).To(BeTrue())
		Expect(byName["macpools"].Namespaced).To(BeFalse())
		Expect(byName["macleases"].ShortNames).To(ContainElement("ml"))
		Expect(byName["macleases"].Categories).To(ContainElement("kubemacpool"))
		Expect(byName["macleases"].Verbs).To(ContainElements("create", "get", "list", "watch", "patch", "update", "delete", "deletecollection"))

		output := mustKubectl("api-resources", "--api-group=macpool.kubemacpool.io")
		Expect(output).To(ContainSubstring("macleases"))
		Expect(output).To(ContainSubstring("macpools"))
		Expect(output).To(ContainSubstring("MacLease"))
	})

	It("explains its fields with kubectl explain", func(ctx context.Context) {
		// kube-apiserver refreshes the OpenAPI of aggregated servers on its
		// own schedule; right after a restart of kubemacpool-apiserver it
		// may not have it yet.
		var spec string
		Eventually(func() (err error) {
			spec, err = kubectl("explain", "maclease.spec")
			return err
		}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())
		for _, field := range []string{"macAddress", "owner", "pool", "interface"} {
			Expect(spec).To(ContainSubstring(field))
		}
		Expect(spec).To(ContainSubstring("static reservation"))
		Expect(mustKubectl("explain", "maclease.status.phase")).To(ContainSubstring("Reserved"))
		ranges := mustKubectl("explain", "macpool.spec.ranges")
		Expect(ranges).To(ContainSubstring("start"))
		Expect(ranges).To(ContainSubstring("end"))
	})

	It("creates the default pool at start with the cluster's own range, from the kube-system UID, shown by kubectl get macpools", func(ctx context.Context) {
		kubeSystem, err := kubeClient.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		sum := sha256.Sum256([]byte(kubeSystem.UID))
		start := fmt.Sprintf("02:%02x:%02x:00:00:00", sum[0], sum[1])
		end := fmt.Sprintf("02:%02x:%02x:ff:ff:ff", sum[0], sum[1])

		pool, err := macClient.MacpoolV1alpha1().MacPools().Get(ctx, "default", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(pool.Spec.Ranges).To(Equal([]v1alpha1.MACRange{{Start: start, End: end}}))
		Expect(pool.Spec.ConflictPolicy).To(Equal(v1alpha1.ConflictPolicyWarn))
		output := mustKubectl("get", "macpools")
		Expect(strings.Fields(strings.SplitN(output, "\n", 2)[0])).To(Equal([]string{"NAME", "RANGES", "CAPACITY", "ALLOCATED", "FREE", "AGE"}))
		// The capacity is the allocator's, written into status shortly after start.
		Eventually(func() string { return mustKubectl("get", "macpool", "default") }).WithContext(ctx).
			Should(MatchRegexp(`default\s+` + start + "-" + end + `\s+16777216\s`))
	})
})
