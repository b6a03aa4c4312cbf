// Package networkattachment follows the labels of multus
// NetworkAttachmentDefinitions (k8s.cni.cncf.io/v1), for the MacPools that
// select their networks by label.
//
// The cluster may not serve NetworkAttachmentDefinitions when the server
// starts, or ever: multus is often installed after Kubemacpool. Labels
// therefore asks discovery until they are served and only then starts its
// informer; meanwhile, and for a definition the informer has not seen yet,
// it reads the definition from kube-apiserver, whose NotFound (for the
// object or for the whole resource) means "no such network". Explicit
// references in spec.networkSelector.networks need none of this.
package networkattachment
