package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"kubemacpool.io/kubemacpool/test/localcluster"
)

// The admission webhooks create leases in whatever namespace an
// AdmissionReview names, so they must serve kube-apiserver alone. These
// specs play a hostile Pod that reaches the server's port directly.
var _ = Describe("The webhook endpoints", Label("webhook-auth"), func() {
	var namespace string

	BeforeEach(func(ctx context.Context) {
		namespace = createNamespace(ctx, "forged")
	})

	// post sends a forged AdmissionReview for a Pod with one multus network
	// in namespace to path, straight to the kubemacpool Service (where
	// kube-apiserver sends its webhook calls), with the credentials in
	// config, and returns the status code and body.
	post := func(ctx context.Context, config *rest.Config, path string) (int, []byte) {
		GinkgoHelper()
		pod := newPod("forged", `[{"name":"br1"}]`)
		pod.Namespace = namespace
		raw, err := json.Marshal(pod)
		Expect(err).NotTo(HaveOccurred())
		review := admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"},
			Request: &admissionv1.AdmissionRequest{
				UID:       types.UID("forged-" + namespace),
				Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
				Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
				Namespace: namespace,
				Name:      "forged",
				Operation: admissionv1.Create,
				UserInfo:  authenticationv1.UserInfo{Username: "kubernetes-admin", Groups: []string{"system:masters"}},
				Object:    runtime.RawExtension{Raw: raw},
			},
		}
		body, err := json.Marshal(review)
		Expect(err).NotTo(HaveOccurred())
		client, err := rest.HTTPClientFor(config)
		Expect(err).NotTo(HaveOccurred())
		defer client.CloseIdleConnections()
		requestCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		request, err := http.NewRequestWithContext(requestCtx, http.MethodPost, config.Host+path, bytes.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		request.Header.Set("Content-Type", "application/json")
		response, err := client.Do(request)
		Expect(err).NotTo(HaveOccurred())
		defer response.Body.Close()
		answer, err := io.ReadAll(response.Body)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("POST %s: %d %s\n", path, response.StatusCode, answer)
		return response.StatusCode, answer
	}

	anonymous := func(ctx context.Context) *rest.Config {
		GinkgoHelper()
		config, err := cluster.KubemacpoolServiceAnonymousConfig(ctx)
		Expect(err).NotTo(HaveOccurred())
		return config
	}

	// withKubeconfigCredentials is anonymous plus the client certificate of
	// the user a kubeconfig of the cluster authenticates.
	withKubeconfigCredentials := func(ctx context.Context, kubeconfig string) *rest.Config {
		GinkgoHelper()
		userConfig, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		Expect(err).NotTo(HaveOccurred())
		config := anonymous(ctx)
		config.CertData, config.KeyData = userConfig.CertData, userConfig.KeyData
		Expect(config.CertData).NotTo(BeEmpty())
		return config
	}

	expectNoLease := func(ctx context.Context) {
		GinkgoHelper()
		// The webhook creates its leases before it answers, so a refused
		// call that had reached it would show them now.
		Expect(leasesOf(ctx, namespace)).To(BeEmpty(), "a refused caller made the server lease a MAC in %s", namespace)
	}

	for _, path := range []string{"/mutate-pods", "/mutate-virtualmachines"} {
		It("refuse an AdmissionReview without credentials on "+path+" and lease nothing", func(ctx context.Context) {
			status, body := post(ctx, anonymous(ctx), path)
			Expect(status).To(BeElementOf(http.StatusUnauthorized, http.StatusForbidden), string(body))
			expectNoLease(ctx)
		})
	}

	It("refuse an AdmissionReview from an ordinary user's client certificate with 403 and lease nothing", func(ctx context.Context) {
		kubeconfig, err := cluster.UserKubeconfig("mallory", "developers")
		Expect(err).NotTo(HaveOccurred())
		status, body := post(ctx, withKubeconfigCredentials(ctx, kubeconfig), "/mutate-pods")
		Expect(status).To(Equal(http.StatusForbidden), string(body))
		Expect(string(body)).To(ContainSubstring(`cannot post path \"/mutate-pods\"`))
		expectNoLease(ctx)
	})

	It("refuse an AdmissionReview that asks to impersonate kube-apiserver's webhook identity with 403 and lease nothing", func(ctx context.Context) {
		kubeconfig, err := cluster.UserKubeconfig("mallory", "developers")
		Expect(err).NotTo(HaveOccurred())
		config := withKubeconfigCredentials(ctx, kubeconfig)
		config.Impersonate = rest.ImpersonationConfig{UserName: localcluster.WebhookCallerUser}
		status, body := post(ctx, config, "/mutate-pods")
		Expect(status).To(Equal(http.StatusForbidden), string(body))
		Expect(string(body)).To(ContainSubstring("impersonation is not served"))
		expectNoLease(ctx)
	})

	It("refuse an AdmissionReview from a ServiceAccount token (a Pod in the cluster) with 403 and lease nothing", func(ctx context.Context) {
		account, err := kubeClient.CoreV1().ServiceAccounts(namespace).Create(ctx,
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "tenant"}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		token, err := kubeClient.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, account.Name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		config := anonymous(ctx)
		config.BearerToken = token.Status.Token
		status, body := post(ctx, config, "/mutate-pods")
		Expect(status).To(Equal(http.StatusForbidden), string(body))
		Expect(string(body)).To(ContainSubstring("system:serviceaccount:" + namespace + ":tenant"))
		expectNoLease(ctx)
	})

	It("answer kube-apiserver's webhook identity with a patch and a lease", func(ctx context.Context) {
		certPEM, keyPEM, err := cluster.WebhookCallerCertificate()
		Expect(err).NotTo(HaveOccurred())
		config := anonymous(ctx)
		config.CertData, config.KeyData = certPEM, keyPEM
		status, body := post(ctx, config, "/mutate-pods")
		Expect(status).To(Equal(http.StatusOK), string(body))
		answer := admissionv1.AdmissionReview{}
		Expect(json.Unmarshal(body, &answer)).To(Succeed())
		Expect(answer.Response).NotTo(BeNil())
		Expect(answer.Response.Allowed).To(BeTrue(), "%+v", answer.Response.Result)
		Expect(answer.Response.Patch).NotTo(BeEmpty())

		// No Pod will ever own it: release it now rather than after the TTL.
		leases := leasesOf(ctx, namespace)
		Expect(leases).To(HaveLen(1))
		for _, lease := range leases {
			Expect(lease.Spec.Owner).NotTo(BeNil())
			Expect(lease.Spec.Owner.Name).To(Equal("forged"))
			Expect(macClient.MacpoolV1alpha1().MacLeases(namespace).Delete(ctx, lease.Name, metav1.DeleteOptions{})).To(Succeed())
		}
	})

	It("let kube-apiserver, and only its webhook identity, call them: a Pod with networks created through the API gets a MAC", func(ctx context.Context) {
		binding, err := kubeClient.RbacV1().ClusterRoleBindings().Get(ctx, "kubemacpool-webhook-caller", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(binding.RoleRef.Name).To(Equal("kubemacpool-webhook-caller"))
		Expect(binding.Subjects).To(ConsistOf(HaveField("Name", localcluster.WebhookCallerUser)),
			"the identity kube-apiserver presents is the only one bound")
		pod, err := kubeClient.CoreV1().Pods(namespace).Create(ctx, newPod("through-the-api", `[{"name":"br1"}]`), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(podNetworks(pod)[0]).To(HaveKey("mac"))
		Expect(leasesOf(ctx, namespace)).To(HaveLen(1))
	})
})
