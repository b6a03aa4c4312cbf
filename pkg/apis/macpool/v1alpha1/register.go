package v1alpha1

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

// GroupName is the API group of every kubemacpool resource.
const GroupName = "macpool.kubemacpool.io"

// SchemeGroupVersion is the group and version of this package.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

var (
	// SchemeBuilder registers the hand-written parts of this version; the
	// generated conversions and defaulters register themselves in their files.
	SchemeBuilder      runtime.SchemeBuilder
	localSchemeBuilder = &SchemeBuilder
	// AddToScheme adds this version to a scheme.
	AddToScheme = localSchemeBuilder.AddToScheme
)

func init() {
	localSchemeBuilder.Register(addKnownTypes, addDefaultingFuncs, addFieldLabelConversions)
}

// Resource takes an unqualified resource and returns a group-qualified GroupResource.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion,
		&MacLease{},
		&MacLeaseList{},
		&MacPool{},
		&MacPoolList{},
	)
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}

// addFieldLabelConversions lets field selectors through the request decoding;
// without it the server rejects every selector but metadata.name/namespace.
func addFieldLabelConversions(scheme *runtime.Scheme) error {
	allowed := map[string]bool{"metadata.name": true, "metadata.namespace": true}
	for _, field := range macpool.MacLeaseFieldNames {
		allowed[field] = true
	}
	return scheme.AddFieldLabelConversionFunc(SchemeGroupVersion.WithKind("MacLease"), func(label, value string) (string, string, error) {
		if !allowed[label] {
			return "", "", fmt.Errorf("field label not supported for MacLease: %s", label)
		}
		return label, value, nil
	})
}
