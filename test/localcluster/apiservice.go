package localcluster

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1apply "k8s.io/client-go/applyconfigurations/core/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	apiregistrationv1apply "k8s.io/kube-aggregator/pkg/client/applyconfiguration/apiregistration/v1"
)

const (
	kubemacpoolGroup   = "macpool.kubemacpool.io"
	kubemacpoolVersion = "v1alpha1"
	apiServiceName     = kubemacpoolVersion + "." + kubemacpoolGroup
	fieldManager       = "kubemacpool-localcluster"
	// startedAtAnnotation changes on every start of kubemacpool-apiserver.
	// Changing the Service makes the aggregator re-check the APIService at
	// once instead of at its next 30 s resync.
	startedAtAnnotation     = "localcluster.kubemacpool.io/kubemacpool-started-at"
	apiServiceServedTimeout = 2 * time.Minute
)

// registerAPIService points the aggregator at the local kubemacpool-apiserver.
// kube-apiserver resolves an ExternalName Service to externalName:<APIService
// port> and checks the serving certificate against
// kubemacpool-apiserver.kubemacpool-system.svc, so the Service reaches the
// local process without any Endpoints. Applied on every start because the
// port may change. The caBundle is left out: kubemacpool-apiserver fills it
// in and keeps it current.
func (c *Cluster) registerAPIService(ctx context.Context) error {
	service := corev1apply.Service(kubemacpoolServiceName, kubemacpoolNamespace).
		WithAnnotations(map[string]string{startedAtAnnotation: time.Now().UTC().Format(time.RFC3339Nano)}).
		WithSpec(corev1apply.ServiceSpec().
			WithType(corev1.ServiceTypeExternalName).
			WithExternalName("localhost").
			WithPorts(corev1apply.ServicePort().WithName("https").WithPort(443).WithProtocol(corev1.ProtocolTCP)))
	applyOptions := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	if _, err := c.client.CoreV1().Services(kubemacpoolNamespace).Apply(ctx, service, applyOptions); err != nil {
		return fmt.Errorf("applying Service %s/%s: %w", kubemacpoolNamespace, kubemacpoolServiceName, err)
	}

	apiService := apiregistrationv1apply.APIService(apiServiceName).
		WithSpec(apiregistrationv1apply.APIServiceSpec().
			WithGroup(kubemacpoolGroup).
			WithVersion(kubemacpoolVersion).
			WithService(apiregistrationv1apply.ServiceReference().
				WithNamespace(kubemacpoolNamespace).
				WithName(kubemacpoolServiceName).
				WithPort(c.kubemacpoolServicePort())).
			WithGroupPriorityMinimum(1000).
			WithVersionPriority(15))
	if _, err := c.aggregator.ApiregistrationV1().APIServices().Apply(ctx, apiService, applyOptions); err != nil {
		return fmt.Errorf("applying APIService %s: %w", apiServiceName, err)
	}
	return nil
}

// waitAPIServiceServed waits until the aggregator reports the APIService
// Available and discovery lists the group version, which is when kubectl can
// use it. It gives up early if server exits.
func (c *Cluster) waitAPIServiceServed(ctx context.Context, server *process) error {
	if err := waitUntil(ctx, "APIService "+apiServiceName+" Available", apiServiceServedTimeout, server, c.apiServiceAvailable); err != nil {
		return err
	}
	if err := waitUntil(ctx, kubemacpoolGroup+"/"+kubemacpoolVersion+" in discovery", apiServiceServedTimeout, server, c.groupVersionDiscovered); err != nil {
		return err
	}
	// Available and the group list are the aggregator's own records, which
	// can still be those of before a restart; only a request proxied through
	// to the server shows the path works again.
	return waitUntil(ctx, kubemacpoolGroup+"/"+kubemacpoolVersion+" served through the aggregator", apiServiceServedTimeout, server, c.groupVersionProxied)
}

// groupVersionProxied asks for the group version's resource list, which the
// aggregator proxies to kubemacpool-apiserver rather than answering itself.
func (c *Cluster) groupVersionProxied(ctx context.Context) error {
	_, err := c.client.Discovery().ServerResourcesForGroupVersion(kubemacpoolGroup + "/" + kubemacpoolVersion)
	return err
}

func (c *Cluster) apiServiceAvailable(ctx context.Context) error {
	apiService, err := c.aggregator.ApiregistrationV1().APIServices().Get(ctx, apiServiceName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, condition := range apiService.Status.Conditions {
		if condition.Type != apiregistrationv1.Available {
			continue
		}
		if condition.Status == apiregistrationv1.ConditionTrue {
			return nil
		}
		return fmt.Errorf("Available=%s: %s: %s", condition.Status, condition.Reason, condition.Message)
	}
	return fmt.Errorf("no Available condition yet")
}

func (c *Cluster) groupVersionDiscovered(ctx context.Context) error {
	groups, err := c.client.Discovery().ServerGroups()
	if err != nil {
		return err
	}
	for _, group := range groups.Groups {
		if group.Name != kubemacpoolGroup {
			continue
		}
		if slices.ContainsFunc(group.Versions, func(v metav1.GroupVersionForDiscovery) bool { return v.Version == kubemacpoolVersion }) {
			return nil
		}
	}
	return fmt.Errorf("discovery does not list %s/%s yet", kubemacpoolGroup, kubemacpoolVersion)
}
