package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubemacpool.io/kubemacpool/test/localcluster"
)

// auditEvent is the part of an audit.k8s.io/v1 Event the specs read.
type auditEvent struct {
	Level      string `json:"level"`
	Stage      string `json:"stage"`
	RequestURI string `json:"requestURI"`
	Verb       string `json:"verb"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource  string `json:"resource"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestObject  json.RawMessage   `json:"requestObject"`
	ResponseObject json.RawMessage   `json:"responseObject"`
	Annotations    map[string]string `json:"annotations"`
}

// auditEvents reads every event kubemacpool-apiserver has logged so far.
func auditEvents() []auditEvent {
	GinkgoHelper()
	file, err := os.Open(cluster.KubemacpoolAuditLog(0))
	Expect(err).NotTo(HaveOccurred(), "the suite runs the server with the shipped audit policy")
	defer file.Close()
	var events []auditEvent
	scanner := bufio.NewScanner(file)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		var event auditEvent
		Expect(json.Unmarshal(scanner.Bytes(), &event)).To(Succeed(), scanner.Text())
		events = append(events, event)
	}
	Expect(scanner.Err()).NotTo(HaveOccurred())
	return events
}

var _ = Describe("The audit log of kubemacpool-apiserver", func() {
	It("records the leases a Pod admission writes in process as annotations of the webhook call, one per lease", func(ctx context.Context) {
		namespace := createNamespace(ctx, "audit")
		// Two networks, two leases in one call: each has its annotation.
		_, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("audited", `[{"name":"br1"},{"name":"br2"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		leases := leasesOf(ctx, namespace)
		Expect(leases).To(HaveLen(2))
		var written []string
		for _, lease := range leases {
			written = append(written, namespace+"/"+lease.Name)
		}

		Eventually(func(g Gomega) {
			var calls []auditEvent
			for _, event := range auditEvents() {
				if event.Annotations["macpool.kubemacpool.io/lease-created"] == written[0] ||
					event.Annotations["macpool.kubemacpool.io/lease-created"] == written[1] {
					calls = append(calls, event)
				}
			}
			g.Expect(calls).To(HaveLen(1), "one event of the webhook call names the leases %v", written)
			call := calls[0]
			g.Expect(call.Annotations).To(HaveKey("macpool.kubemacpool.io/lease-created-2"))
			g.Expect([]string{call.Annotations["macpool.kubemacpool.io/lease-created"], call.Annotations["macpool.kubemacpool.io/lease-created-2"]}).
				To(ConsistOf(written), "both leases of the call are recorded")
			g.Expect(call.RequestURI).To(HavePrefix("/mutate-pods"))
			g.Expect(call.Stage).To(Equal("ResponseComplete"))
			g.Expect(call.Level).To(Equal("Metadata"), "the AdmissionReview, with the whole Pod, stays out")
			g.Expect(call.RequestObject).To(BeEmpty())
			g.Expect(call.User.Username).To(Equal(localcluster.WebhookCallerUser))
		}).WithContext(ctx).Should(Succeed())
	})

	It("records a lease written with kubectl, with the object", func(ctx context.Context) {
		namespace := createNamespace(ctx, "audit-kubectl")
		address := nextMAC()
		manifest := `apiVersion: macpool.kubemacpool.io/v1alpha1
kind: MacLease
metadata:
  name: ` + leaseName(address) + `
spec:
  macAddress: "` + address + `"
`
		_, err := kubectlWithInput(manifest, "create", "-n", namespace, "-f", "-")
		Expect(err).NotTo(HaveOccurred())
		mustKubectl("delete", "-n", namespace, "ml", leaseName(address))

		Eventually(func(g Gomega) {
			verbs := map[string]auditEvent{}
			for _, event := range auditEvents() {
				if event.ObjectRef != nil && event.ObjectRef.Resource == "macleases" && event.ObjectRef.Namespace == namespace &&
					(event.Verb == "create" || event.Verb == "delete") {
					verbs[event.Verb] = event
				}
			}
			g.Expect(verbs).To(HaveKey("create"))
			g.Expect(verbs).To(HaveKey("delete"))
			create := verbs["create"]
			g.Expect(create.Level).To(Equal("RequestResponse"))
			g.Expect(create.ResponseStatus.Code).To(Equal(201))
			g.Expect(create.User.Username).NotTo(BeEmpty())
			g.Expect(strings.ToLower(string(create.RequestObject))).To(ContainSubstring(address))
			g.Expect(string(create.ResponseObject)).To(ContainSubstring(`"uid"`), "the lease as stored")
			g.Expect(verbs["delete"].ObjectRef.Name).To(Equal(leaseName(address)))
		}).WithContext(ctx).Should(Succeed())
	})

	It("leaves out reads and health checks", func(ctx context.Context) {
		namespace := createNamespace(ctx, "audit-reads")
		_, err := macClient.MacpoolV1alpha1().MacLeases(namespace).List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		for _, event := range auditEvents() {
			Expect(event.Verb).NotTo(BeElementOf("get", "list", "watch"), "event %+v", event)
			Expect(event.RequestURI).NotTo(HavePrefix("/readyz"))
		}
	})
})
