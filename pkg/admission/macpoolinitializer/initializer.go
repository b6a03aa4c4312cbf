package macpoolinitializer

import (
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninitializer "k8s.io/apiserver/pkg/admission/initializer"
	quota "k8s.io/apiserver/pkg/quota/v1"
	"k8s.io/apiserver/pkg/quota/v1/generic"

	"kubemacpool.io/kubemacpool/pkg/admission/reservationscope"
	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	macinformers "kubemacpool.io/kubemacpool/pkg/generated/informers/externalversions"
)

type pluginInitializer struct {
	informers macinformers.SharedInformerFactory
	quota     quota.Configuration
}

var _ admission.PluginInitializer = pluginInitializer{}

// New returns an initializer that gives plugins informers from informers
// (started by the server after it starts serving) and a quota configuration
// that counts MacLeases per namespace as count/macleases.macpool.kubemacpool.io.
func New(informers macinformers.SharedInformerFactory) admission.PluginInitializer {
	return pluginInitializer{informers: informers, quota: QuotaConfiguration()}
}

// Initialize gives plugin what it asks for.
func (i pluginInitializer) Initialize(plugin admission.Interface) {
	if wants, ok := plugin.(reservationscope.WantsMacInformerFactory); ok {
		wants.SetMacInformerFactory(i.informers)
	}
	if wants, ok := plugin.(genericadmissioninitializer.WantsQuotaConfiguration); ok {
		wants.SetQuotaConfiguration(i.quota)
	}
}

// QuotaConfiguration counts MacLeases, the only namespaced resource of the
// server. Admission needs no listing: it adds one to the usage the
// ResourceQuota's status records, which kube-controller-manager's quota
// controller recomputes from this server's API through discovery.
func QuotaConfiguration() quota.Configuration {
	leases := generic.NewObjectCountEvaluator(macpool.Resource("macleases"), nil, "")
	return generic.NewConfiguration([]quota.Evaluator{leases}, nil)
}
