package certificate

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregatorfake "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset/fake"
)

const (
	testNamespace  = "kubemacpool-system"
	testSecret     = "kubemacpool-service"
	testService    = "kubemacpool-apiserver"
	testAPIService = "v1alpha1.macpool.kubemacpool.io"
	testWebhooks   = "kubemacpool-mutator"
)

var testSecretLabels = map[string]string{"app.kubernetes.io/part-of": "kubemacpool"}

// fakeRecorder keeps what the manager reports to the metrics endpoint.
type fakeRecorder struct {
	mu     sync.Mutex
	writes []string
	expiry map[string]time.Time
}

func (r *fakeRecorder) SetCertificateExpiry(certificate string, notAfter time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.expiry == nil {
		r.expiry = map[string]time.Time{}
	}
	r.expiry[certificate] = notAfter
}

func (r *fakeRecorder) CountCertificateWrite(action string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, action)
}

func (r *fakeRecorder) snapshot() ([]string, map[string]time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.writes), maps.Clone(r.expiry)
}

func installedWebhooks() *admissionregistrationv1.MutatingWebhookConfiguration {
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: testWebhooks},
		Webhooks: []admissionregistrationv1.MutatingWebhook{
			{Name: "mutatepods.kubemacpool.io"},
			{Name: "mutatevirtualmachines.kubemacpool.io"},
		},
	}
}

func installedAPIService() *apiregistrationv1.APIService {
	return &apiregistrationv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: testAPIService},
		Spec: apiregistrationv1.APIServiceSpec{
			Group: "macpool.kubemacpool.io", Version: "v1alpha1",
			Service:              &apiregistrationv1.ServiceReference{Namespace: testNamespace, Name: testService},
			GroupPriorityMinimum: 1000, VersionPriority: 15,
		},
	}
}

// harness is a manager over fake clusters, with a clock the test moves.
type harness struct {
	m          *Manager
	kube       *kubefake.Clientset
	aggregator *aggregatorfake.Clientset
	serving    *ServingContent
	listener   *countingListener
	recorder   *fakeRecorder
	now        atomic.Int64
}

func newHarness(t *testing.T, policy Policy, kubeObjects []runtime.Object, aggregatorObjects []runtime.Object) *harness {
	t.Helper()
	h := &harness{
		kube:       kubefake.NewClientset(kubeObjects...),
		aggregator: aggregatorfake.NewClientset(aggregatorObjects...),
		serving:    &ServingContent{},
		listener:   &countingListener{},
		recorder:   &fakeRecorder{},
	}
	h.setNow(start)
	h.serving.AddListener(h.listener)
	h.m = New(Config{
		Namespace:                testNamespace,
		SecretName:               testSecret,
		ServiceName:              testService,
		APIServiceName:           testAPIService,
		WebhookConfigurationName: testWebhooks,
		Policy:                   policy,
		SecretLabels:             testSecretLabels,
		Kube:                     h.kube,
		Aggregator:               h.aggregator,
		Serving:                  h.serving,
		Metrics:                  h.recorder,
		Now:                      func() time.Time { return time.Unix(0, h.now.Load()).UTC() },
	})
	return h
}

func (h *harness) setNow(now time.Time) { h.now.Store(now.UnixNano()) }

func (h *harness) secret(t *testing.T) *corev1.Secret {
	t.Helper()
	secret, err := h.kube.CoreV1().Secrets(testNamespace).Get(context.Background(), testSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading the Secret: %v", err)
	}
	return secret
}

// secretWrites are the writes of the Secret the fake cluster saw.
func (h *harness) secretWrites() []string {
	var writes []string
	for _, action := range h.kube.Actions() {
		if action.GetResource().Resource == "secrets" && slices.Contains([]string{"create", "update", "patch", "delete"}, action.GetVerb()) {
			writes = append(writes, action.GetVerb())
		}
	}
	return writes
}

// expectServes checks that secret is complete and usable, that ca.key
// stays in it, and that the serving content presents its certificate.
func (h *harness) expectServes(t *testing.T, secret *corev1.Secret) {
	t.Helper()
	if secret.Type != corev1.SecretTypeTLS {
		t.Errorf("the Secret is of type %q, want %q", secret.Type, corev1.SecretTypeTLS)
	}
	keys := slices.Sorted(maps.Keys(secret.Data))
	if want := []string{CABundleKey, caKeyKey, corev1.TLSCertKey, corev1.TLSPrivateKeyKey}; !slices.Equal(keys, want) {
		t.Errorf("the Secret holds %v, want %v", keys, want)
	}
	for key, value := range testSecretLabels {
		if secret.Labels[key] != value {
			t.Errorf("the Secret is labelled %v, want %s=%s among them", secret.Labels, key, value)
		}
	}
	if _, err := parseSecret(secret); err != nil {
		t.Fatalf("the Secret does not read back: %v", err)
	}
	if bytes.Contains(secret.Data[CABundleKey], []byte("PRIVATE KEY")) || bytes.Contains(secret.Data[corev1.TLSCertKey], []byte("PRIVATE KEY")) {
		t.Error("a private key is among the certificates")
	}

	cert, key := h.serving.CurrentCertKeyContent()
	if !bytes.Equal(cert, secret.Data[corev1.TLSCertKey]) || !bytes.Equal(key, secret.Data[corev1.TLSPrivateKeyKey]) {
		t.Error("the serving content is not the Secret's serving certificate and key")
	}
	if bytes.Equal(key, secret.Data[caKeyKey]) {
		t.Error("the secure port presents the CA key")
	}
	cas, err := parseCertificates(secret.Data[CABundleKey])
	if err != nil {
		t.Fatal(err)
	}
	servingChain, err := parseCertificates(cert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	for _, ca := range cas {
		roots.AddCert(ca)
	}
	for _, name := range h.m.DNSNames() {
		if _, err := servingChain[0].Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: time.Unix(0, h.now.Load())}); err != nil {
			t.Errorf("a client of %s would reject the serving certificate: %v", name, err)
		}
	}
	_, expiry := h.recorder.snapshot()
	if !expiry["ca"].Equal(cas[0].NotAfter) || !expiry["serving"].Equal(servingChain[0].NotAfter) {
		t.Errorf("recorded expiries %v, want ca %s and serving %s", expiry, cas[0].NotAfter, servingChain[0].NotAfter)
	}
}

func expectWrites(t *testing.T, h *harness, want ...string) {
	t.Helper()
	if got, _ := h.recorder.snapshot(); !slices.Equal(got, want) {
		t.Errorf("recorded Secret writes %q, want %q", got, want)
	}
}

// bootstrapped is a Secret a manager wrote on an empty cluster.
func bootstrapped(t *testing.T) *corev1.Secret {
	t.Helper()
	h := newHarness(t, DefaultPolicy(), nil, nil)
	if err := h.m.Bootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	return h.secret(t)
}

func TestDNSNames(t *testing.T) {
	m := New(Config{Namespace: testNamespace, ServiceName: testService})
	if got := m.DNSNames(); !slices.Equal(got, testNames) {
		t.Errorf("DNSNames() = %v, want %v", got, testNames)
	}
}

func TestBootstrapOnAnEmptyCluster(t *testing.T) {
	h := newHarness(t, DefaultPolicy(), []runtime.Object{installedWebhooks()}, []runtime.Object{installedAPIService()})
	if h.serving.loaded() {
		t.Fatal("serving content before Bootstrap")
	}
	if err := h.m.Bootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.expectServes(t, h.secret(t))
	expectWrites(t, h, "regenerate")
	if got := h.listener.n.Load(); got != 1 {
		t.Errorf("the serving listener was told %d times, want 1", got)
	}
}

// A restarted or second replica finds a valid Secret: it serves it as it
// is, and writes nothing.
func TestBootstrapReusesAValidSecret(t *testing.T) {
	existing := bootstrapped(t)
	h := newHarness(t, DefaultPolicy(), []runtime.Object{existing.DeepCopy()}, nil)
	if err := h.m.Bootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	if writes := h.secretWrites(); len(writes) > 0 {
		t.Errorf("a valid Secret was written: %v", writes)
	}
	expectWrites(t, h)
	secret := h.secret(t)
	if !maps.EqualFunc(secret.Data, existing.Data, bytes.Equal) {
		t.Error("the Secret's content changed")
	}
	h.expectServes(t, secret)

	// Bootstrap again, as after a lost leadership: nothing to reload.
	if err := h.m.Bootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := h.listener.n.Load(); got != 1 {
		t.Errorf("the serving listener was told %d times, want 1", got)
	}
}

// Whatever is unusable in the Secret, it is generated anew under the same
// name, and the new certificate is served.
func TestBootstrapRegeneratesAnUnusableSecret(t *testing.T) {
	valid, other := bootstrapped(t).Data, bootstrapped(t).Data
	with := func(data map[string][]byte, changes map[string][]byte) map[string][]byte {
		data = maps.Clone(data)
		for key, value := range changes {
			if value == nil {
				delete(data, key)
			} else {
				data[key] = value
			}
		}
		return data
	}
	for _, tc := range []struct {
		name       string
		secretType corev1.SecretType
		data       map[string][]byte
	}{
		{"empty", corev1.SecretTypeTLS, nil},
		{"garbage", corev1.SecretTypeTLS, map[string][]byte{CABundleKey: []byte("garbage"), caKeyKey: []byte("garbage"), corev1.TLSCertKey: []byte("garbage"), corev1.TLSPrivateKeyKey: []byte("garbage")}},
		{"no CA key", corev1.SecretTypeTLS, with(valid, map[string][]byte{caKeyKey: nil})},
		{"no serving key", corev1.SecretTypeTLS, with(valid, map[string][]byte{corev1.TLSPrivateKeyKey: nil})},
		{"serving key of another certificate", corev1.SecretTypeTLS, with(valid, map[string][]byte{corev1.TLSPrivateKeyKey: other[corev1.TLSPrivateKeyKey]})},
		{"serving certificate of another CA", corev1.SecretTypeTLS, with(valid, map[string][]byte{CABundleKey: other[CABundleKey], caKeyKey: other[caKeyKey]})},
		{"CA key of another CA", corev1.SecretTypeTLS, with(valid, map[string][]byte{caKeyKey: other[caKeyKey]})},
		{"another type", corev1.SecretTypeOpaque, map[string][]byte{"password": []byte("hunter2")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			corrupted := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: testSecret, Labels: map[string]string{"team": "network"}},
				Type:       tc.secretType,
				Data:       tc.data,
			}
			h := newHarness(t, DefaultPolicy(), []runtime.Object{corrupted}, nil)
			if err := h.m.Bootstrap(t.Context()); err != nil {
				t.Fatal(err)
			}
			secret := h.secret(t)
			h.expectServes(t, secret)
			expectWrites(t, h, "regenerate")
			for _, old := range [][]byte{valid[CABundleKey], other[CABundleKey]} {
				if bytes.Equal(secret.Data[CABundleKey], old) {
					t.Error("the CA of the unusable Secret was kept")
				}
			}
			if tc.secretType == corev1.SecretTypeTLS && secret.Labels["team"] != "network" {
				t.Errorf("the Secret lost its own labels: %v", secret.Labels)
			}
		})
	}
}

// A serving certificate due for renewal is renewed by the CA that issued
// it, and the secure port is told to reload.
func TestBootstrapRenewsAnExpiringServingCertificate(t *testing.T) {
	h := newHarness(t, compressedPolicy, nil, nil)
	if err := h.m.Bootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	before := h.secret(t)
	oldCert, _ := h.serving.CurrentCertKeyContent()

	h.setNow(start.Add(compressedPolicy.CertRotateInterval - compressedPolicy.CertOverlapInterval + time.Minute))
	if err := h.m.Bootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := h.secret(t)
	h.expectServes(t, after)
	expectWrites(t, h, "regenerate", "renew-serving")
	if newCert, _ := h.serving.CurrentCertKeyContent(); bytes.Equal(newCert, oldCert) {
		t.Error("the old serving certificate is still served")
	}
	if !bytes.Equal(after.Data[CABundleKey], before.Data[CABundleKey]) || !bytes.Equal(after.Data[caKeyKey], before.Data[caKeyKey]) {
		t.Error("renewing the serving certificate replaced the CA")
	}
	if got := h.listener.n.Load(); got != 2 {
		t.Errorf("the serving listener was told %d times, want 2", got)
	}
}

// Another replica writing first is not a failure: Bootstrap reads again and
// serves what the other wrote, without overwriting it.
func TestBootstrapAfterAnotherReplicaWroteFirst(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing []runtime.Object
		verb     string
		err      error
	}{
		{"both create", nil, "create", apierrors.NewAlreadyExists(schema.GroupResource{Resource: "secrets"}, testSecret)},
		{"both repair", []runtime.Object{&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: testSecret},
			Type:       corev1.SecretTypeTLS,
		}}, "update", apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, testSecret, errors.New("the object has been modified"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			theirs := bootstrapped(t)
			h := newHarness(t, DefaultPolicy(), tc.existing, nil)
			var raced atomic.Bool
			h.kube.PrependReactor(tc.verb, "secrets", func(clienttesting.Action) (bool, runtime.Object, error) {
				if !raced.CompareAndSwap(false, true) {
					return false, nil, nil
				}
				// The other replica's write lands just before ours.
				if tc.verb == "create" {
					if err := h.kube.Tracker().Add(theirs.DeepCopy()); err != nil {
						t.Error(err)
					}
				} else if err := h.kube.Tracker().Update(corev1.SchemeGroupVersion.WithResource("secrets"), theirs.DeepCopy(), testNamespace); err != nil {
					t.Error(err)
				}
				return true, nil, tc.err
			})
			if err := h.m.Bootstrap(t.Context()); err != nil {
				t.Fatal(err)
			}
			if !raced.Load() {
				t.Fatal("the manager never wrote the Secret")
			}
			secret := h.secret(t)
			if !maps.EqualFunc(secret.Data, theirs.Data, bytes.Equal) {
				t.Error("the other replica's Secret was overwritten")
			}
			cert, _ := h.serving.CurrentCertKeyContent()
			if !bytes.Equal(cert, theirs.Data[corev1.TLSCertKey]) {
				t.Error("the serving content is not the other replica's certificate")
			}
			expectWrites(t, h)
		})
	}
}

// While the Secret cannot be read Bootstrap keeps trying; when its context
// ends it says so, and nothing is served.
func TestBootstrapGivesUpWithItsContext(t *testing.T) {
	h := newHarness(t, DefaultPolicy(), nil, nil)
	var reads atomic.Int32
	h.kube.PrependReactor("get", "secrets", func(clienttesting.Action) (bool, runtime.Object, error) {
		reads.Add(1)
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, testSecret, errors.New("RBAC"))
	})
	ctx, cancel := context.WithTimeout(t.Context(), bootstrapRetry+time.Second)
	defer cancel()
	err := h.m.Bootstrap(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Bootstrap = %v, want the context's deadline", err)
	}
	if got := reads.Load(); got < 2 {
		t.Errorf("the Secret was read %d times, want a retry", got)
	}
	if h.serving.loaded() {
		t.Error("something is served without a Secret")
	}
	if writes := h.secretWrites(); len(writes) > 0 {
		t.Errorf("the Secret was written although it could not be read: %v", writes)
	}
}

// eventually polls condition until it holds; the bound covers a watch event
// the fake informers miss, which the manager's resync picks up.
func eventually(t *testing.T, what string, condition func(context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 2*resyncPeriod, true, condition); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// caBundlesAre tells whether the APIService (when it exists) and every
// webhook carry bundle.
func (h *harness) caBundlesAre(bundle []byte, withAPIService bool) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		webhooks, err := h.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, testWebhooks, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, webhook := range webhooks.Webhooks {
			if !bytes.Equal(webhook.ClientConfig.CABundle, bundle) {
				return false, nil
			}
		}
		if !withAPIService {
			return true, nil
		}
		apiService, err := h.aggregator.ApiregistrationV1().APIServices().Get(ctx, testAPIService, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil && bytes.Equal(apiService.Spec.CABundle, bundle), err
	}
}

// Run keeps the caBundles and the Secret as they should be, whatever
// happens to them, and rides out conflicts and failed calls.
func TestRunRepairs(t *testing.T) {
	h := newHarness(t, DefaultPolicy(), []runtime.Object{installedWebhooks()}, nil)
	if err := h.m.Bootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	bundle := h.secret(t).Data[CABundleKey]
	// The first caBundle write meets a concurrent edit; the first read of
	// the Secret after Bootstrap fails.
	var conflicted, failed atomic.Bool
	h.kube.PrependReactor("update", "mutatingwebhookconfigurations", func(clienttesting.Action) (bool, runtime.Object, error) {
		if conflicted.CompareAndSwap(false, true) {
			return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "mutatingwebhookconfigurations"}, testWebhooks, errors.New("modified"))
		}
		return false, nil, nil
	})
	h.kube.PrependReactor("get", "secrets", func(clienttesting.Action) (bool, runtime.Object, error) {
		if failed.CompareAndSwap(false, true) {
			return true, nil, apierrors.NewServiceUnavailable("etcd is busy")
		}
		return false, nil, nil
	})

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { h.m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	eventually(t, "the webhooks never got the CA bundle", h.caBundlesAre(bundle, false))
	if !conflicted.Load() || !failed.Load() {
		t.Fatalf("the injected conflict (%v) or failure (%v) never happened", conflicted.Load(), failed.Load())
	}

	// The APIService is installed after the server started.
	if _, err := h.aggregator.ApiregistrationV1().APIServices().Create(ctx, installedAPIService(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the APIService installed later never got the CA bundle", h.caBundlesAre(bundle, true))

	// Someone blanks the caBundles.
	webhooks, err := h.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, testWebhooks, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	webhooks.Webhooks[1].ClientConfig.CABundle = nil
	if _, err := h.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Update(ctx, webhooks, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	apiService, err := h.aggregator.ApiregistrationV1().APIServices().Get(ctx, testAPIService, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	apiService.Spec.CABundle = nil
	if _, err := h.aggregator.ApiregistrationV1().APIServices().Update(ctx, apiService, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the blanked caBundles were not restored", h.caBundlesAre(bundle, true))
	expectWrites(t, h, "regenerate")

	// Someone deletes the Secret: a new CA is made, published and served.
	if err := h.kube.CoreV1().Secrets(testNamespace).Delete(ctx, testSecret, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var regenerated *corev1.Secret
	eventually(t, "the deleted Secret was not generated anew", func(ctx context.Context) (bool, error) {
		secret, err := h.kube.CoreV1().Secrets(testNamespace).Get(ctx, testSecret, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		regenerated = secret
		return err == nil, err
	})
	if bytes.Equal(regenerated.Data[CABundleKey], bundle) {
		t.Fatal("the regenerated Secret has the old CA")
	}
	eventually(t, "the new CA bundle was not published", h.caBundlesAre(regenerated.Data[CABundleKey], true))
	eventually(t, "the new serving certificate is not served", func(context.Context) (bool, error) {
		cert, _ := h.serving.CurrentCertKeyContent()
		return bytes.Equal(cert, regenerated.Data[corev1.TLSCertKey]), nil
	})
	h.expectServes(t, h.secret(t))
	expectWrites(t, h, "regenerate", "regenerate")
}
