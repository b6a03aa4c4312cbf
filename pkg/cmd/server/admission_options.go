package server

import (
	"fmt"

	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/resourcequota"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"

	"kubemacpool.io/kubemacpool/pkg/admission/leaseprotection"
	"kubemacpool.io/kubemacpool/pkg/admission/macpoolinitializer"
	"kubemacpool.io/kubemacpool/pkg/admission/reservationscope"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	macinformers "kubemacpool.io/kubemacpool/pkg/generated/informers/externalversions"
)

// DefaultMaxMACsPerObject fits real multi-NIC workloads with room to spare:
// one PCI bus has 32 slots, so a VM with more NICs needs PCI bridges, and
// network functions with many multus networks use well under that. It
// bounds what a single Pod or VM can reserve (the original accepted 1024).
const DefaultMaxMACsPerObject = 32

// DefaultMaxReservationsPerNamespace is far above what a namespace has in
// flight: a reservation is bound within moments of its object being stored
// (bind-wait-s in docs/benchmarks.md), so even a burst of thousands of pods
// holds a few dozen. It bounds the MACs a tenant keeps with objects that a
// later admission step rejects, for which no lease quota may be set.
const DefaultMaxReservationsPerNamespace = 1024

// registerAdmissionPlugins adds the server's own plugins to the generic
// chain (NamespaceLifecycle, admission webhooks and policies):
// MacLeaseReservationScope, MacLeaseProtection, and ResourceQuota, which
// kube-apiserver does not run for an aggregated API. Validating plugins run
// in this order; ResourceQuota is last, as in kube-apiserver, so that a
// request refused by another plugin is never charged.
func registerAdmissionPlugins(o *genericoptions.AdmissionOptions) {
	reservationscope.Register(o.Plugins)
	leaseprotection.Register(o.Plugins)
	resourcequota.Register(o.Plugins)
	o.RecommendedPluginOrder = append(o.RecommendedPluginOrder, reservationscope.PluginName, leaseprotection.PluginName, resourcequota.PluginName)
}

// admissionInitializers builds the informers on this server's own objects
// that admission plugins read, through the loopback client, and keeps them
// in o for the server to start.
func (o *Options) admissionInitializers(c *genericapiserver.RecommendedConfig) ([]admission.PluginInitializer, error) {
	client, err := versioned.NewForConfig(c.LoopbackClientConfig)
	if err != nil {
		return nil, fmt.Errorf("building the loopback client of the admission plugins: %w", err)
	}
	o.macInformers = macinformers.NewSharedInformerFactory(client, 0)
	return []admission.PluginInitializer{macpoolinitializer.New(o.macInformers)}, nil
}
