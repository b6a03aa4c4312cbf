// +k8s:openapi-gen=true
// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=kubemacpool.io/kubemacpool/pkg/apis/macpool
// +k8s:defaulter-gen=TypeMeta
// +groupName=macpool.kubemacpool.io
// +k8s:openapi-model-package=io.kubemacpool.pkg.apis.macpool.v1alpha1

// Package v1alpha1 is the v1alpha1 version of the macpool.kubemacpool.io API.
package v1alpha1
