package e2e

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
)

// deployKustomizations are the directories under artifacts/deploy that
// `kubectl apply -k` takes: the default install, the base and every overlay.
var deployKustomizations = []string{".", "base", "overlays/single-node", "overlays/ha", "overlays/opt-in", "overlays/monitoring"}

var _ = Describe("The deploy manifests", Label("deploy"), func() {
	var artifactsDir string

	BeforeEach(func() {
		var err error
		artifactsDir, err = filepath.Abs("../../artifacts")
		Expect(err).NotTo(HaveOccurred())
	})

	deployDir := func() string { return filepath.Join(artifactsDir, "deploy") }

	// The local control plane has kubemacpool-system (artifacts/local), so
	// the namespaced objects of a dry-run have a namespace to go to.
	for _, kustomization := range deployKustomizations {
		It("pass a server-side dry-run of kubectl apply -k "+kustomization, func() {
			output := mustKubectl("apply", "--dry-run=server", "-k", filepath.Join(deployDir(), kustomization))
			Expect(output).To(ContainSubstring("deployment.apps/kubemacpool-apiserver"))
			Expect(output).To(ContainSubstring("apiservice.apiregistration.k8s.io/v1alpha1.macpool.kubemacpool.io"))
			Expect(output).To(ContainSubstring("mutatingwebhookconfiguration.admissionregistration.k8s.io/kubemacpool-mutator"))
		})
	}

	It("combine the ha profile with the opt-in and monitoring components and an image of one's own in a kustomization that passes a server-side dry-run", func() {
		dir := GinkgoT().TempDir()
		relative := func(path string) string {
			rel, err := filepath.Rel(dir, filepath.Join(deployDir(), path))
			Expect(err).NotTo(HaveOccurred())
			return rel
		}
		kustomization := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" +
			"resources:\n  - " + relative("overlays/ha") + "\n" +
			"components:\n  - " + relative("components/opt-in") + "\n  - " + relative("components/monitoring") + "\n" +
			// What `kustomize edit set image` writes (docs/deployment.md#the-image).
			"images:\n  - name: quay.io/kubemacpool/kubemacpool-apiserver\n" +
			"    newName: registry.example.com/kubemacpool/kubemacpool-apiserver\n    newTag: v0.1.0\n"
		Expect(os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization), 0o644)).To(Succeed())

		output := mustKubectl("apply", "--dry-run=server", "-k", dir)
		Expect(output).To(ContainSubstring("poddisruptionbudget.policy/kubemacpool-apiserver"))
		Expect(output).To(ContainSubstring("servicemonitor.monitoring.coreos.com/kubemacpool-metrics-monitor"))
		Expect(output).To(ContainSubstring("prometheusrule.monitoring.coreos.com/kubemacpool-prometheus-rule"))

		rendered := renderKustomization(dir)
		Expect(webhookSelectorOperators(rendered)).To(Equal([]string{"In", "In"}))
		Expect(deploymentOf(rendered).Spec.Replicas).To(HaveValue(BeEquivalentTo(3)))
		pod := deploymentOf(rendered).Spec.Template.Spec
		Expect(containerOf(pod, "kubemacpool-apiserver").Image).To(Equal("registry.example.com/kubemacpool/kubemacpool-apiserver:v0.1.0"))
		Expect(containerOf(pod, "kube-rbac-proxy").Image).To(Equal("quay.io/brancz/kube-rbac-proxy:v0.18.0"))
	})

	It("leave the CA and the serving certificate to the server: no caBundle, no TLS Secret, the original's rotation knobs", func() {
		for _, kustomization := range deployKustomizations {
			By("rendering " + kustomization)
			rendered := renderKustomization(filepath.Join(deployDir(), kustomization))
			for _, object := range rendered {
				Expect(object.GetKind() == "Secret" && object.GetName() == "kubemacpool-service").To(BeFalse(),
					"%s ships Secret kubemacpool-service, which the server generates", kustomization)
			}
			apiService := &apiregistrationv1.APIService{}
			decodeInto(objectOf(rendered, "APIService", "v1alpha1.macpool.kubemacpool.io"), apiService)
			Expect(apiService.Spec.CABundle).To(BeEmpty())
			webhooks := &admissionregistrationv1.MutatingWebhookConfiguration{}
			decodeInto(objectOf(rendered, "MutatingWebhookConfiguration", "kubemacpool-mutator"), webhooks)
			Expect(webhooks.Webhooks).To(HaveLen(2))
			for _, webhook := range webhooks.Webhooks {
				Expect(webhook.ClientConfig.CABundle).To(BeEmpty(), webhook.Name)
			}
			server := containerOf(deploymentOf(rendered).Spec.Template.Spec, "kubemacpool-apiserver")
			Expect(server.Args).NotTo(ContainElement(HavePrefix("--tls-cert-file")), "the server would stop managing its certificate")
			env := map[string]string{}
			for _, variable := range server.Env {
				env[variable.Name] = variable.Value
			}
			Expect(env).To(HaveKeyWithValue("CA_ROTATE_INTERVAL", "8760h"))
			Expect(env).To(HaveKeyWithValue("CA_OVERLAP_INTERVAL", "24h"))
			Expect(env).To(HaveKeyWithValue("CERT_ROTATE_INTERVAL", "4380h"))
			Expect(env).To(HaveKeyWithValue("CERT_OVERLAP_INTERVAL", "24h"))
		}
	})

	It("render a Deployment with the original's security context, probes and the kube-rbac-proxy sidecar in every profile", func() {
		for _, kustomization := range deployKustomizations {
			By("rendering " + kustomization)
			rendered := renderKustomization(filepath.Join(deployDir(), kustomization))
			deployment := deploymentOf(rendered)
			pod := deployment.Spec.Template.Spec

			Expect(pod.ServiceAccountName).To(Equal("kubemacpool-apiserver"))
			Expect(pod.PriorityClassName).To(Equal("system-cluster-critical"))
			Expect(pod.TerminationGracePeriodSeconds).To(HaveValue(BeEquivalentTo(45)))
			Expect(pod.SecurityContext).NotTo(BeNil())
			Expect(pod.SecurityContext.RunAsNonRoot).To(HaveValue(BeTrue()))
			Expect(pod.SecurityContext.RunAsUser).To(HaveValue(BeEquivalentTo(107)))
			Expect(pod.SecurityContext.SeccompProfile).To(HaveValue(HaveField("Type", corev1.SeccompProfileTypeRuntimeDefault)))
			for _, key := range []string{"node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"} {
				Expect(pod.Tolerations).To(ContainElement(SatisfyAll(
					HaveField("Key", key), HaveField("Operator", corev1.TolerationOpExists),
					HaveField("Effect", corev1.TaintEffectNoExecute), HaveField("TolerationSeconds", HaveValue(BeEquivalentTo(60))))))
			}
			Expect(pod.Containers).To(HaveLen(2))
			for _, container := range pod.Containers {
				security := container.SecurityContext
				Expect(security).NotTo(BeNil(), container.Name)
				Expect(security.AllowPrivilegeEscalation).To(HaveValue(BeFalse()), container.Name)
				Expect(security.ReadOnlyRootFilesystem).To(HaveValue(BeTrue()), container.Name)
				Expect(security.Capabilities).NotTo(BeNil(), container.Name)
				Expect(security.Capabilities.Drop).To(ConsistOf(corev1.Capability("ALL")), container.Name)
			}

			server := containerOf(pod, "kubemacpool-apiserver")
			Expect(server.Image).To(HavePrefix("quay.io/kubemacpool/kubemacpool-apiserver:"))
			Expect(server.Args).To(ContainElements("--secure-port=8000", "--metric-addr=127.0.0.1:8080"))
			Expect(server.Ports).To(ContainElement(SatisfyAll(HaveField("Name", "https"), HaveField("ContainerPort", BeEquivalentTo(8000)))))
			Expect(server.Env).To(ContainElement(SatisfyAll(HaveField("Name", "POD_NAMESPACE"),
				HaveField("ValueFrom.FieldRef.FieldPath", "metadata.namespace"))))
			Expect(server.ReadinessProbe).NotTo(BeNil())
			Expect(server.ReadinessProbe.HTTPGet).To(HaveValue(SatisfyAll(
				HaveField("Path", "/readyz"), HaveField("Port", intstr.FromString("https")), HaveField("Scheme", corev1.URISchemeHTTPS))))
			Expect(server.LivenessProbe).NotTo(BeNil())
			Expect(server.LivenessProbe.HTTPGet).To(HaveValue(SatisfyAll(
				HaveField("Path", "/livez?exclude=etcd"), HaveField("Port", intstr.FromString("https")), HaveField("Scheme", corev1.URISchemeHTTPS))))
			// A slow start with a large store must not meet the liveness
			// probe: a startup probe with the same check (etcd excluded,
			// which is readiness's business) and minutes of budget.
			Expect(server.StartupProbe).NotTo(BeNil())
			Expect(server.StartupProbe.HTTPGet).To(HaveValue(SatisfyAll(
				HaveField("Path", "/livez?exclude=etcd"), HaveField("Port", intstr.FromString("https")), HaveField("Scheme", corev1.URISchemeHTTPS))))
			Expect(server.StartupProbe.PeriodSeconds * server.StartupProbe.FailureThreshold).To(BeNumerically(">=", 300))

			By("checking that a rollout of " + kustomization + " drains the Pod before it stops serving webhook calls")
			// The server has no --shutdown-delay-duration: the kubelet's
			// preStop sleep keeps the Pod serving while endpoints drop it.
			Expect(server.Lifecycle).NotTo(BeNil())
			Expect(server.Lifecycle.PreStop).NotTo(BeNil())
			Expect(server.Lifecycle.PreStop.Exec).To(BeNil(), "the image has no shell")
			Expect(server.Lifecycle.PreStop.Sleep).To(HaveValue(HaveField("Seconds", BeEquivalentTo(10))))
			// The grace period covers the sleep, then the webhook calls in
			// flight at SIGTERM (up to the webhooks' timeout), then a margin.
			webhooks := &admissionregistrationv1.MutatingWebhookConfiguration{}
			decodeInto(objectOf(rendered, "MutatingWebhookConfiguration", "kubemacpool-mutator"), webhooks)
			Expect(webhooks.Webhooks).NotTo(BeEmpty())
			for _, webhook := range webhooks.Webhooks {
				Expect(webhook.TimeoutSeconds).NotTo(BeNil(), webhook.Name)
				Expect(*pod.TerminationGracePeriodSeconds).To(BeNumerically(">=",
					server.Lifecycle.PreStop.Sleep.Seconds+int64(*webhook.TimeoutSeconds)+10), webhook.Name)
			}
			Expect(server.Resources.Requests.Cpu().Cmp(resource.MustParse("100m"))).To(BeZero())
			Expect(server.Resources.Requests.Memory().Cmp(resource.MustParse("100Mi"))).To(BeZero())
			// The sidecar serves the metrics with the certificate the server
			// manages; optional, or the Pod could not start before the
			// server has created the Secret.
			Expect(pod.Volumes).To(ContainElement(SatisfyAll(
				HaveField("Name", "tls"), HaveField("Secret.SecretName", "kubemacpool-service"),
				HaveField("Secret.Optional", HaveValue(BeTrue())),
				// The sidecar gets the serving pair alone, never ca.key.
				HaveField("Secret.Items", ConsistOf(
					corev1.KeyToPath{Key: "tls.crt", Path: "tls.crt"},
					corev1.KeyToPath{Key: "tls.key", Path: "tls.key"})))))

			By("checking that " + kustomization + " runs the server with its audit log on, under the shipped policy")
			Expect(server.Args).To(ContainElements("--audit-policy-file=/etc/kubemacpool/audit/policy.yaml", "--audit-log-path=-"))
			Expect(server.VolumeMounts).To(ContainElement(SatisfyAll(
				HaveField("Name", "audit-policy"), HaveField("MountPath", "/etc/kubemacpool/audit"), HaveField("ReadOnly", BeTrue()))))
			Expect(pod.Volumes).To(ContainElement(SatisfyAll(
				HaveField("Name", "audit-policy"), HaveField("ConfigMap.Name", "kubemacpool-audit-policy"))))
			auditPolicy := &corev1.ConfigMap{}
			decodeInto(objectOf(rendered, "ConfigMap", "kubemacpool-audit-policy"), auditPolicy)
			shipped, err := os.ReadFile(filepath.Join(deployDir(), "base", "audit-policy.yaml"))
			Expect(err).NotTo(HaveOccurred())
			Expect(auditPolicy.Data).To(HaveKeyWithValue("policy.yaml", string(shipped)))

			proxy := containerOf(pod, "kube-rbac-proxy")
			Expect(proxy.Image).To(Equal("quay.io/brancz/kube-rbac-proxy:v0.18.0"))
			Expect(proxy.Args).To(ContainElements("--secure-listen-address=0.0.0.0:8443", "--upstream=http://127.0.0.1:8080/"))
			Expect(proxy.Ports).To(ContainElement(SatisfyAll(HaveField("Name", "metrics"), HaveField("ContainerPort", BeEquivalentTo(8443)))))

			By("checking that the Service reaches both ports of " + kustomization)
			service := &corev1.Service{}
			decodeInto(objectOf(rendered, "Service", "kubemacpool-apiserver"), service)
			for key, value := range service.Spec.Selector {
				Expect(deployment.Spec.Template.Labels).To(HaveKeyWithValue(key, value))
			}
			Expect(service.Spec.Ports).To(ContainElements(
				SatisfyAll(HaveField("Name", "https"), HaveField("Port", BeEquivalentTo(443)), HaveField("TargetPort", intstr.FromString("https"))),
				SatisfyAll(HaveField("Name", "metrics"), HaveField("TargetPort", intstr.FromString("metrics")))))

			By("checking that the APIService of " + kustomization + " never skips TLS verification")
			apiService := &apiregistrationv1.APIService{}
			decodeInto(objectOf(rendered, "APIService", "v1alpha1.macpool.kubemacpool.io"), apiService)
			Expect(apiService.Spec.InsecureSkipTLSVerify).To(BeFalse())
			Expect(apiService.Spec.GroupPriorityMinimum).To(BeEquivalentTo(1000))
			Expect(apiService.Spec.VersionPriority).To(BeEquivalentTo(15))
			Expect(apiService.Spec.Service).To(HaveValue(SatisfyAll(
				HaveField("Name", "kubemacpool-apiserver"), HaveField("Namespace", "kubemacpool-system"), HaveField("Port", HaveValue(BeEquivalentTo(443))))))
		}
	})

	It("run one replica on a PersistentVolumeClaim in the single-node profile", func() {
		rendered := renderKustomization(filepath.Join(deployDir(), "overlays/single-node"))
		deployment := deploymentOf(rendered)
		Expect(deployment.Spec.Replicas).To(HaveValue(BeEquivalentTo(1)))
		Expect(deployment.Spec.Strategy.Type).To(Equal(appsv1.RecreateDeploymentStrategyType))
		server := containerOf(deployment.Spec.Template.Spec, "kubemacpool-apiserver")
		Expect(server.Args).To(ContainElement("--embedded-etcd-data-dir=/var/lib/kubemacpool/etcd"))
		Expect(server.Args).NotTo(ContainElement(HavePrefix("--etcd-servers")))
		Expect(server.VolumeMounts).To(ContainElement(SatisfyAll(HaveField("Name", "etcd-data"), HaveField("MountPath", "/var/lib/kubemacpool"))))
		Expect(deployment.Spec.Template.Spec.Volumes).To(ContainElement(SatisfyAll(
			HaveField("Name", "etcd-data"), HaveField("PersistentVolumeClaim.ClaimName", "kubemacpool-etcd"))))
		Expect(objectOf(rendered, "PersistentVolumeClaim", "kubemacpool-etcd")).NotTo(BeNil())
		Expect(hasKind(rendered, "PodDisruptionBudget")).To(BeFalse())

		// The default install is this profile.
		Expect(deploymentOf(renderKustomization(deployDir()))).To(Equal(deployment))
	})

	It("run three replicas on an external etcd, one per node, with a PodDisruptionBudget in the ha profile", func() {
		rendered := renderKustomization(filepath.Join(deployDir(), "overlays/ha"))
		deployment := deploymentOf(rendered)
		Expect(deployment.Spec.Replicas).To(HaveValue(BeEquivalentTo(3)))
		Expect(deployment.Spec.Strategy.Type).To(Equal(appsv1.RollingUpdateDeploymentStrategyType))
		Expect(deployment.Spec.Strategy.RollingUpdate).NotTo(BeNil())
		Expect(deployment.Spec.Strategy.RollingUpdate.MaxUnavailable).To(HaveValue(Equal(intstr.FromInt32(1))))
		pod := deployment.Spec.Template.Spec
		Expect(pod.Affinity).NotTo(BeNil())
		Expect(pod.Affinity.PodAntiAffinity).NotTo(BeNil())
		Expect(pod.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution).To(ContainElement(
			HaveField("TopologyKey", "kubernetes.io/hostname")))

		server := containerOf(pod, "kubemacpool-apiserver")
		Expect(server.Args).To(ContainElement("--etcd-servers=$(ETCD_SERVERS)"))
		Expect(server.Env).To(ContainElement(SatisfyAll(HaveField("Name", "ETCD_SERVERS"),
			HaveField("ValueFrom.ConfigMapKeyRef.Name", "kubemacpool-etcd"), HaveField("ValueFrom.ConfigMapKeyRef.Key", "servers"))))
		configMap := &corev1.ConfigMap{}
		decodeInto(objectOf(rendered, "ConfigMap", "kubemacpool-etcd"), configMap)
		Expect(configMap.Data).To(HaveKeyWithValue("servers", HavePrefix("https://")))
		Expect(hasKind(rendered, "PersistentVolumeClaim")).To(BeFalse())

		budget := &policyv1.PodDisruptionBudget{}
		decodeInto(objectOf(rendered, "PodDisruptionBudget", "kubemacpool-apiserver"), budget)
		Expect(budget.Spec.MinAvailable).To(HaveValue(Equal(intstr.FromInt32(2))))
		Expect(budget.Spec.Selector).NotTo(BeNil())
		for key, value := range budget.Spec.Selector.MatchLabels {
			Expect(deployment.Spec.Template.Labels).To(HaveKeyWithValue(key, value))
		}
	})

	It("install the webhooks as artifacts/webhook has them: opt-out by default, opt-in with the opt-in overlay", func() {
		for mode, kustomization := range map[string]string{"opt-out": ".", "opt-in": "overlays/opt-in"} {
			By(mode)
			want := &admissionregistrationv1.MutatingWebhookConfiguration{}
			decodeInto(readManifests(filepath.Join(artifactsDir, "webhook", "mutator-"+mode+".yaml"))[0], want)
			got := &admissionregistrationv1.MutatingWebhookConfiguration{}
			decodeInto(objectOf(renderKustomization(filepath.Join(deployDir(), kustomization)), "MutatingWebhookConfiguration", "kubemacpool-mutator"), got)
			Expect(got.Webhooks).To(Equal(want.Webhooks))
		}
	})

	It("grant the server the RBAC of artifacts/local and the user roles of artifacts/rbac", func() {
		rendered := renderKustomization(filepath.Join(deployDir(), "base"))
		var mirrored []*unstructured.Unstructured
		for _, file := range []string{"local/40-generic-apiserver.yaml", "local/50-controller.yaml", "local/60-certificates.yaml", "local/70-webhook-caller.yaml", "rbac/aggregated-roles.yaml"} {
			mirrored = append(mirrored, readManifests(filepath.Join(artifactsDir, file))...)
		}
		for _, want := range mirrored {
			got := objectOf(rendered, want.GetKind(), want.GetName())
			switch want.GetKind() {
			case "ClusterRole", "Role":
				wantRole, gotRole := &rbacv1.ClusterRole{}, &rbacv1.ClusterRole{}
				decodeInto(want, wantRole)
				decodeInto(got, gotRole)
				Expect(gotRole.Rules).To(Equal(wantRole.Rules), "rules of %s %s", want.GetKind(), want.GetName())
				Expect(gotRole.AggregationRule).To(Equal(wantRole.AggregationRule))
			case "ClusterRoleBinding", "RoleBinding":
				wantBinding, gotBinding := &rbacv1.RoleBinding{}, &rbacv1.RoleBinding{}
				decodeInto(want, wantBinding)
				decodeInto(got, gotBinding)
				Expect(gotBinding.RoleRef).To(Equal(wantBinding.RoleRef), "%s %s", want.GetKind(), want.GetName())
				Expect(gotBinding.Subjects).To(Equal(wantBinding.Subjects), "%s %s", want.GetKind(), want.GetName())
			}
			Expect(got.GetNamespace()).To(Equal(want.GetNamespace()), "%s %s", want.GetKind(), want.GetName())
			for key, value := range want.GetLabels() {
				Expect(got.GetLabels()).To(HaveKeyWithValue(key, value), "%s %s", want.GetKind(), want.GetName())
			}
		}
		proxy := &rbacv1.ClusterRole{}
		decodeInto(objectOf(rendered, "ClusterRole", "kubemacpool-apiserver:kube-rbac-proxy"), proxy)
		Expect(proxy.Rules).To(ConsistOf(
			rbacv1.PolicyRule{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
			rbacv1.PolicyRule{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}}))
		reader := &rbacv1.ClusterRole{}
		decodeInto(objectOf(rendered, "ClusterRole", "kubemacpool-metrics-reader"), reader)
		Expect(reader.Rules).To(ConsistOf(rbacv1.PolicyRule{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}))
	})

	It("let only the API port and, from the monitoring namespaces, the metrics port reach the server's Pods", func() {
		rendered := renderKustomization(deployDir())
		deployment := deploymentOf(rendered)
		ingress := map[int32][]networkingv1.NetworkPolicyPeer{}
		for _, name := range []string{"kubemacpool-allow-ingress-to-webhook", "kubemacpool-allow-ingress-to-metrics-endpoint"} {
			policy := &networkingv1.NetworkPolicy{}
			decodeInto(objectOf(rendered, "NetworkPolicy", name), policy)
			Expect(policy.Spec.PolicyTypes).To(ConsistOf(networkingv1.PolicyTypeIngress), name)
			for key, value := range policy.Spec.PodSelector.MatchLabels {
				Expect(deployment.Spec.Template.Labels).To(HaveKeyWithValue(key, value), name)
			}
			for _, rule := range policy.Spec.Ingress {
				Expect(rule.Ports).To(HaveLen(1), name)
				ingress[rule.Ports[0].Port.IntVal] = rule.From
			}
		}
		Expect(ingress).To(HaveLen(2))
		// kube-apiserver on the host network cannot be selected portably;
		// the server authorizes every call on this port itself.
		Expect(ingress).To(HaveKeyWithValue(int32(8000), BeEmpty()))
		Expect(ingress[8443]).To(ConsistOf(HaveField("NamespaceSelector.MatchExpressions", ConsistOf(metav1.LabelSelectorRequirement{
			Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{"monitoring", "openshift-monitoring"},
		}))))
	})

	It("ship the original's KubemacpoolMACCollisionDetected alert unchanged in the monitoring overlay", func() {
		rendered := renderKustomization(filepath.Join(deployDir(), "overlays/monitoring"))
		rule := objectOf(rendered, "PrometheusRule", "kubemacpool-prometheus-rule")
		Expect(rule.GetNamespace()).To(Equal("kubemacpool-system"))
		Expect(rule.GetLabels()).To(HaveKeyWithValue("prometheus.kubemacpool.io", "true"))
		Expect(rule.GetLabels()).To(HaveKeyWithValue("openshift.io/prometheus-rule-evaluation-scope", "leaf-prometheus"))
		groups, _, err := unstructured.NestedSlice(rule.Object, "spec", "groups")
		Expect(err).NotTo(HaveOccurred())
		// The original's group, as it was; the other alerts are in a group
		// of their own (their rules are tested by make test-monitoring).
		Expect(groups).To(ContainElement(map[string]interface{}{
			"name": "alerts.rules",
			"rules": []interface{}{map[string]interface{}{
				"alert": "KubemacpoolMACCollisionDetected",
				"expr":  "count(kmp_mac_collisions > 1) > 0",
				"for":   "30s",
				"labels": map[string]interface{}{
					"severity": "warning",
				},
				"annotations": map[string]interface{}{
					"summary":     "MAC address collisions detected.",
					"description": "{{ $value }} MAC address(es) have collisions. Multiple running objects are using the same MAC address.",
					"runbook_url": "https://kubevirt.io/monitoring/runbooks/KubemacpoolMACCollisionDetected",
				},
			}},
		}))

		// Both endpoints verify the server's CA and the Service's name, and
		// authenticate with the scraper's token Secret: no
		// insecureSkipVerify, no bearerTokenFile.
		monitor := objectOf(rendered, "ServiceMonitor", "kubemacpool-metrics-monitor")
		endpoints, _, err := unstructured.NestedSlice(monitor.Object, "spec", "endpoints")
		Expect(err).NotTo(HaveOccurred())
		Expect(endpoints).To(HaveLen(2))
		var ports []interface{}
		for _, endpoint := range endpoints {
			endpoint := endpoint.(map[string]interface{})
			ports = append(ports, endpoint["port"])
			Expect(endpoint).To(HaveKeyWithValue("scheme", "https"))
			Expect(endpoint).NotTo(HaveKey("bearerTokenFile"))
			Expect(endpoint).NotTo(HaveKey("bearerTokenSecret"))
			Expect(endpoint).To(HaveKeyWithValue("tlsConfig", map[string]interface{}{
				"ca":         map[string]interface{}{"secret": map[string]interface{}{"name": "kubemacpool-service", "key": "ca.crt"}},
				"serverName": "kubemacpool-apiserver",
			}))
			Expect(endpoint).To(HaveKeyWithValue("authorization", map[string]interface{}{
				"type":        "Bearer",
				"credentials": map[string]interface{}{"name": "kubemacpool-metrics-scraper-token", "key": "token"},
			}))
		}
		Expect(ports).To(ConsistOf("metrics", "https"))
		token := objectOf(rendered, "Secret", "kubemacpool-metrics-scraper-token")
		Expect(token.GetNamespace()).To(Equal("kubemacpool-system"))
		Expect(token.Object).To(HaveKeyWithValue("type", "kubernetes.io/service-account-token"))
		Expect(token.GetAnnotations()).To(HaveKeyWithValue("kubernetes.io/service-account.name", "kubemacpool-metrics-scraper"))
		binding := &rbacv1.ClusterRoleBinding{}
		decodeInto(objectOf(rendered, "ClusterRoleBinding", "kubemacpool-metrics-reader"), binding)
		Expect(binding.RoleRef.Name).To(Equal("kubemacpool-metrics-reader"))
		Expect(binding.Subjects).To(ConsistOf(rbacv1.Subject{Kind: "ServiceAccount", Name: "kubemacpool-metrics-scraper", Namespace: "kubemacpool-system"}))

		// The dashboard, from the one JSON file, for Grafana's sidecar.
		dashboard := objectOf(rendered, "ConfigMap", "kubemacpool-grafana-dashboard")
		Expect(dashboard.GetNamespace()).To(Equal("kubemacpool-system"))
		Expect(dashboard.GetLabels()).To(HaveKeyWithValue("grafana_dashboard", "1"))
		shipped, err := os.ReadFile(filepath.Join(deployDir(), "components/monitoring/dashboards/kubemacpool.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(dashboard.Object).To(HaveKeyWithValue("data", HaveKeyWithValue("kubemacpool.json", string(shipped))))

		selector, _, err := unstructured.NestedStringMap(monitor.Object, "spec", "selector", "matchLabels")
		Expect(err).NotTo(HaveOccurred())
		service := objectOf(rendered, "Service", "kubemacpool-apiserver")
		for key, value := range selector {
			Expect(service.GetLabels()).To(HaveKeyWithValue(key, value))
		}
	})
})

// chartProfiles are the values files of charts/kubemacpool that match the
// kustomize overlays, and the objects only that profile has.
var chartProfiles = []struct {
	name        string
	valuesFiles []string
	objects     []string
}{
	{name: "default", objects: []string{"persistentvolumeclaim/kubemacpool-etcd"}},
	{name: "opt-in", valuesFiles: []string{"ci/opt-in-values.yaml"}},
	{name: "ha", valuesFiles: []string{"ci/ha-values.yaml"},
		objects: []string{"poddisruptionbudget.policy/kubemacpool-apiserver", "configmap/kubemacpool-etcd"}},
	{name: "monitoring", valuesFiles: []string{"ci/monitoring-values.yaml"},
		objects: []string{"servicemonitor.monitoring.coreos.com/kubemacpool-metrics-monitor", "prometheusrule.monitoring.coreos.com/kubemacpool-prometheus-rule"}},
}

// helmTemplate runs the pinned helm (make helm) on charts/kubemacpool with
// the --set values and the values files of the chart, and returns its
// output.
func helmTemplate(sets []string, valuesFiles ...string) string {
	GinkgoHelper()
	repoRoot, err := filepath.Abs("../..")
	Expect(err).NotTo(HaveOccurred())
	chart := filepath.Join(repoRoot, "charts", "kubemacpool")
	args := []string{"template", "kubemacpool", chart}
	for _, file := range valuesFiles {
		args = append(args, "--values", filepath.Join(chart, file))
	}
	for _, set := range sets {
		args = append(args, "--set", set)
	}
	cmd := exec.Command(filepath.Join(binDir, "helm"), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	Expect(cmd.Run()).To(Succeed(), "helm %s (make helm builds it): %s", strings.Join(args, " "), stderr.String())
	return stdout.String()
}

// renderKustomization runs kubectl kustomize on dir and returns its objects.
func renderKustomization(dir string) []*unstructured.Unstructured {
	GinkgoHelper()
	output := mustKubectl("kustomize", dir)
	return decodeManifests([]byte(output))
}

// readManifests returns the objects of a YAML file.
func readManifests(path string) []*unstructured.Unstructured {
	GinkgoHelper()
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	return decodeManifests(data)
}

func decodeManifests(data []byte) []*unstructured.Unstructured {
	GinkgoHelper()
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objects []*unstructured.Unstructured
	for {
		object := &unstructured.Unstructured{}
		err := decoder.Decode(&object.Object)
		if errors.Is(err, io.EOF) {
			return objects
		}
		Expect(err).NotTo(HaveOccurred())
		if len(object.Object) > 0 {
			objects = append(objects, object)
		}
	}
}

// objectOf finds the object of kind and name; it fails the spec if there is
// none.
func objectOf(objects []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	GinkgoHelper()
	for _, object := range objects {
		if object.GetKind() == kind && object.GetName() == name {
			return object
		}
	}
	var present []string
	for _, object := range objects {
		present = append(present, object.GetKind()+"/"+object.GetName())
	}
	Fail("no " + kind + "/" + name + " among " + strings.Join(present, ", "))
	return nil
}

func hasKind(objects []*unstructured.Unstructured, kind string) bool {
	for _, object := range objects {
		if object.GetKind() == kind {
			return true
		}
	}
	return false
}

func decodeInto(object *unstructured.Unstructured, into interface{}) {
	GinkgoHelper()
	Expect(runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(object.Object, into, true)).To(Succeed(),
		"%s/%s", object.GetKind(), object.GetName())
}

func deploymentOf(objects []*unstructured.Unstructured) *appsv1.Deployment {
	GinkgoHelper()
	deployment := &appsv1.Deployment{}
	decodeInto(objectOf(objects, "Deployment", "kubemacpool-apiserver"), deployment)
	return deployment
}

func containerOf(pod corev1.PodSpec, name string) corev1.Container {
	GinkgoHelper()
	for _, container := range pod.Containers {
		if container.Name == name {
			return container
		}
	}
	Fail("no container " + name)
	return corev1.Container{}
}

// webhookSelectorOperators returns the operator of the opt-mode term of each
// webhook of kubemacpool-mutator.
func webhookSelectorOperators(objects []*unstructured.Unstructured) []string {
	GinkgoHelper()
	config := &admissionregistrationv1.MutatingWebhookConfiguration{}
	decodeInto(objectOf(objects, "MutatingWebhookConfiguration", "kubemacpool-mutator"), config)
	var operators []string
	for _, webhook := range config.Webhooks {
		Expect(webhook.NamespaceSelector).NotTo(BeNil())
		for _, expression := range webhook.NamespaceSelector.MatchExpressions {
			if expression.Key == webhook.Name {
				operators = append(operators, string(expression.Operator))
			}
		}
	}
	return operators
}
