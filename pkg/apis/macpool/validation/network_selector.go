package validation

import (
	"fmt"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
)

// validateNetworkSelector checks spec.networkSelector. An empty selector is
// refused rather than read as "every network" or "no network": an
// administrator who means every network writes labelSelector: {}.
func validateNetworkSelector(selector *macpool.NetworkSelector, path *field.Path) field.ErrorList {
	if selector == nil {
		return nil
	}
	var allErrs field.ErrorList
	if len(selector.Networks) == 0 && selector.LabelSelector == nil {
		allErrs = append(allErrs, field.Required(path,
			"networks (NetworkAttachmentDefinitions by namespace and name) or labelSelector (their labels), or both; labelSelector: {} selects every network"))
	}
	networksPath := path.Child("networks")
	seen := map[macpool.NetworkReference]int{}
	for i, reference := range selector.Networks {
		itemPath := networksPath.Index(i)
		if reference.Namespace == "" {
			allErrs = append(allErrs, field.Required(itemPath.Child("namespace"), "the namespace of the NetworkAttachmentDefinition"))
		} else {
			for _, msg := range validation.IsDNS1123Label(reference.Namespace) {
				allErrs = append(allErrs, field.Invalid(itemPath.Child("namespace"), reference.Namespace, msg))
			}
		}
		if reference.Name == "" {
			allErrs = append(allErrs, field.Required(itemPath.Child("name"), "the name of the NetworkAttachmentDefinition"))
		} else {
			for _, msg := range validation.IsDNS1123Subdomain(reference.Name) {
				allErrs = append(allErrs, field.Invalid(itemPath.Child("name"), reference.Name, msg))
			}
		}
		if first, repeated := seen[reference]; repeated {
			allErrs = append(allErrs, field.Duplicate(itemPath, fmt.Sprintf("%s/%s (also networks[%d])", reference.Namespace, reference.Name, first)))
			continue
		}
		seen[reference] = i
	}
	if selector.LabelSelector != nil {
		allErrs = append(allErrs, metav1validation.ValidateLabelSelector(selector.LabelSelector,
			metav1validation.LabelSelectorValidationOptions{}, path.Child("labelSelector"))...)
	}
	return allErrs
}
