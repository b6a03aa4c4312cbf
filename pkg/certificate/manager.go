package certificate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	aggregatorclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	aggregatorinformers "k8s.io/kube-aggregator/pkg/client/informers/externalversions"
)

const (
	// resyncPeriod bounds how long a missed watch event can leave a
	// blanked caBundle or a deleted Secret unnoticed.
	resyncPeriod = 30 * time.Second
	// bootstrapRetry is how often the first read or write of the Secret is
	// retried while kube-apiserver is unreachable or RBAC is missing.
	bootstrapRetry = 2 * time.Second
	// queueKey is the only item of the queue: every event means "look at
	// everything again".
	queueKey = "certificates"
)

// Config says what the manager looks after.
type Config struct {
	// Namespace holds the Secret and the Service.
	Namespace string
	// SecretName is the Secret with the CA and the serving certificate.
	SecretName string
	// ServiceName is the Service clients reach the server through; the
	// serving certificate is for <ServiceName>.<Namespace>.svc.
	ServiceName string
	// APIServiceName and WebhookConfigurationName get the CA bundle. Either
	// may not exist yet; the manager fills them in when they appear.
	APIServiceName           string
	WebhookConfigurationName string
	Policy                   Policy
	// SecretLabels are put on the Secret when it is written.
	SecretLabels map[string]string

	Kube       kubernetes.Interface
	Aggregator aggregatorclient.Interface
	// Serving receives the serving certificate.
	Serving *ServingContent
	// Metrics records expiries and Secret writes; nil records nothing.
	Metrics Recorder
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Recorder is what the manager reports to the metrics endpoint.
type Recorder interface {
	SetCertificateExpiry(certificate string, notAfter time.Time)
	CountCertificateWrite(action string)
}

type discardRecorder struct{}

func (discardRecorder) SetCertificateExpiry(string, time.Time) {}
func (discardRecorder) CountCertificateWrite(string)           {}

// Manager keeps the Secret, the serving certificate and the caBundles
// current. Every replica runs one.
type Manager struct {
	config Config
	names  []string
	queue  workqueue.TypedRateLimitingInterface[string]
}

// New returns a manager for config.
func New(config Config) *Manager {
	if config.Now == nil {
		config.Now = time.Now
	}
	if config.Metrics == nil {
		config.Metrics = discardRecorder{}
	}
	service := config.ServiceName + "." + config.Namespace
	return &Manager{
		config: config,
		// kube-apiserver checks <service>.<namespace>.svc for webhooks and
		// APIServices; the shorter forms serve in-cluster clients.
		names: []string{service + ".svc", service, config.ServiceName},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, resyncPeriod),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "kubemacpool_certificates"}),
	}
}

// DNSNames are the names the serving certificate is for.
func (m *Manager) DNSNames() []string { return m.names }

// Bootstrap makes sure the Secret holds usable material and loads the
// serving certificate from it, retrying until it succeeds or ctx ends. The
// secure port must not start before: it would have nothing to present.
func (m *Manager) Bootstrap(ctx context.Context) error {
	start := m.config.Now()
	err := wait.PollUntilContextCancel(ctx, bootstrapRetry, true, func(ctx context.Context) (bool, error) {
		if _, err := m.syncSecret(ctx); err != nil {
			klog.ErrorS(err, "Preparing the serving certificate failed, retrying", "secret", klog.KRef(m.config.Namespace, m.config.SecretName), "retryIn", bootstrapRetry)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("preparing the serving certificate from Secret %s/%s: %w", m.config.Namespace, m.config.SecretName, err)
	}
	klog.InfoS("Serving certificate ready", "secret", klog.KRef(m.config.Namespace, m.config.SecretName), "dnsNames", m.names, "took", m.config.Now().Sub(start).Round(time.Millisecond))
	return nil
}

// Run watches the Secret, the APIService and the webhook configuration and
// repairs or rotates whatever needs it, until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	defer utilruntime.HandleCrash()
	defer m.queue.ShutDown()

	// The manager's informers stay its own, not the server's shared
	// factories: each watches one named object (a field selector on
	// metadata.name), which no other component reads, so sharing would
	// only widen them to whole resources.
	byName := func(name string) func(*metav1.ListOptions) {
		return func(options *metav1.ListOptions) {
			options.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}
	}
	secrets := informers.NewSharedInformerFactoryWithOptions(m.config.Kube, resyncPeriod,
		informers.WithNamespace(m.config.Namespace), informers.WithTweakListOptions(byName(m.config.SecretName)))
	webhooks := informers.NewSharedInformerFactoryWithOptions(m.config.Kube, resyncPeriod,
		informers.WithTweakListOptions(byName(m.config.WebhookConfigurationName)))
	apiServices := aggregatorinformers.NewSharedInformerFactoryWithOptions(m.config.Aggregator, resyncPeriod,
		aggregatorinformers.WithTweakListOptions(byName(m.config.APIServiceName)))

	enqueue := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { m.queue.Add(queueKey) },
		UpdateFunc: func(any, any) { m.queue.Add(queueKey) },
		DeleteFunc: func(any) { m.queue.Add(queueKey) },
	}
	for _, informer := range []cache.SharedIndexInformer{
		secrets.Core().V1().Secrets().Informer(),
		webhooks.Admissionregistration().V1().MutatingWebhookConfigurations().Informer(),
		apiServices.Apiregistration().V1().APIServices().Informer(),
	} {
		if _, err := informer.AddEventHandler(enqueue); err != nil {
			utilruntime.HandleError(fmt.Errorf("watching for certificate changes: %w", err))
			return
		}
	}
	secrets.Start(ctx.Done())
	webhooks.Start(ctx.Done())
	apiServices.Start(ctx.Done())
	defer secrets.Shutdown()
	defer webhooks.Shutdown()
	defer apiServices.Shutdown()

	m.queue.Add(queueKey)
	go wait.UntilWithContext(ctx, m.work, time.Second)
	<-ctx.Done()
}

func (m *Manager) work(ctx context.Context) {
	for {
		key, shutdown := m.queue.Get()
		if shutdown {
			return
		}
		next, err := m.sync(ctx)
		switch {
		case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err):
			// Another replica wrote first; the next pass reads what it
			// wrote and usually finds nothing left to do.
			klog.V(2).InfoS("Another writer got there first, looking again", "err", err)
			m.queue.AddRateLimited(key)
		case err != nil:
			utilruntime.HandleErrorWithContext(ctx, err, "Keeping the certificates current failed, retrying", "secret", klog.KRef(m.config.Namespace, m.config.SecretName))
			m.queue.AddRateLimited(key)
		default:
			m.queue.Forget(key)
			m.queue.AddAfter(key, min(next.Sub(m.config.Now()), resyncPeriod))
		}
		m.queue.Done(key)
	}
}

// sync brings the Secret, the serving certificate and the caBundles up to
// date and tells when to look again.
func (m *Manager) sync(ctx context.Context) (time.Time, error) {
	secret, err := m.syncSecret(ctx)
	if err != nil {
		return time.Time{}, err
	}
	if err := m.syncCABundles(ctx, secret.Data[CABundleKey]); err != nil {
		return time.Time{}, err
	}
	material, err := parseSecret(secret)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading back Secret %s/%s: %w", m.config.Namespace, m.config.SecretName, err)
	}
	return plan(material, nil, m.names, m.config.Now(), m.config.Policy).next, nil
}

// syncSecret reads the Secret live (a cached copy could be older than what
// another replica wrote), applies what plan asks for, writes it back and
// serves its certificate.
func (m *Manager) syncSecret(ctx context.Context) (*corev1.Secret, error) {
	secrets := m.config.Kube.CoreV1().Secrets(m.config.Namespace)
	secret, err := secrets.Get(ctx, m.config.SecretName, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading Secret %s/%s: %w", m.config.Namespace, m.config.SecretName, err)
	}
	if apierrors.IsNotFound(err) {
		secret = nil
	}
	// One pass may take two steps: a rotated CA is followed by pruning.
	for range 4 {
		var material *material
		var readErr error
		if secret == nil {
			readErr = errors.New("the Secret does not exist")
		} else {
			material, readErr = parseSecret(secret)
		}
		now := m.config.Now()
		decision := plan(material, readErr, m.names, now, m.config.Policy)
		if decision.action == keep {
			m.config.Serving.set(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey])
			m.config.Metrics.SetCertificateExpiry("ca", material.newest().NotAfter)
			m.config.Metrics.SetCertificateExpiry("serving", material.serving.NotAfter)
			return secret, nil
		}
		next, err := apply(decision, material, m.names, now, m.config.Policy)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", decision.action, err)
		}
		if secret, err = m.writeSecret(ctx, secret, next); err != nil {
			return nil, fmt.Errorf("%s (%s): %w", decision.action, decision.reason, err)
		}
		m.config.Metrics.CountCertificateWrite(decision.action.String())
		klog.InfoS("Updated the serving certificate Secret", "secret", klog.KObj(secret), "action", decision.action.String(), "reason", decision.reason,
			"caNotAfter", next.newest().NotAfter, "servingNotAfter", next.serving.NotAfter)
	}
	return nil, fmt.Errorf("secret %s/%s did not settle", m.config.Namespace, m.config.SecretName)
}

// writeSecret stores material in current (nil: create). A conflict means
// another replica wrote first; the caller retries from a fresh read.
func (m *Manager) writeSecret(ctx context.Context, current *corev1.Secret, material *material) (*corev1.Secret, error) {
	data, err := material.secretData()
	if err != nil {
		return nil, err
	}
	secrets := m.config.Kube.CoreV1().Secrets(m.config.Namespace)
	if current != nil && current.Type != corev1.SecretTypeTLS {
		// The type is immutable; a Secret of another type under our name
		// is replaced, but only the very object that was read.
		uid := current.UID
		if err := secrets.Delete(ctx, current.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("replacing Secret %s/%s of type %s: %w", current.Namespace, current.Name, current.Type, err)
		}
		current = nil
	}
	if current == nil {
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: m.config.SecretName, Namespace: m.config.Namespace, Labels: m.config.SecretLabels},
			Type:       corev1.SecretTypeTLS,
			Data:       data,
		}
		created, err := secrets.Create(ctx, secret, metav1.CreateOptions{FieldManager: fieldManager})
		if err != nil {
			return nil, fmt.Errorf("creating Secret %s/%s: %w", m.config.Namespace, m.config.SecretName, err)
		}
		return created, nil
	}
	updated := current.DeepCopy()
	updated.Data = data
	if updated.Labels == nil && len(m.config.SecretLabels) > 0 {
		updated.Labels = map[string]string{}
	}
	maps.Copy(updated.Labels, m.config.SecretLabels)
	written, err := secrets.Update(ctx, updated, metav1.UpdateOptions{FieldManager: fieldManager})
	if err != nil {
		return nil, fmt.Errorf("updating Secret %s/%s: %w", m.config.Namespace, m.config.SecretName, err)
	}
	return written, nil
}
