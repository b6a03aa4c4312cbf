package validation

import (
	"fmt"
	"sort"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/mac"
)

// maxReferenceLength bounds free-text references: owner names, VM interface
// names and multus keys, the longest of which is namespace/name@interface
// (63 + 1 + 253 + 1 + 15 bytes).
const maxReferenceLength = 63 + 1 + 253 + 1 + 15

// ValidateMacLease checks a lease on create.
func ValidateMacLease(lease *macpool.MacLease) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&lease.ObjectMeta, true, validateLeaseName, field.NewPath("metadata"))
	allErrs = append(allErrs, validateLeaseSpec(lease, field.NewPath("spec"))...)
	allErrs = append(allErrs, validateLeaseStatus(&lease.Status, field.NewPath("status"))...)
	allErrs = append(allErrs, validateRetainedLease(lease)...)
	allErrs = append(allErrs, validateNodeHolds(lease, nil)...)
	return allErrs
}

// ValidateMacLeaseUpdate checks a lease update; the address never changes.
func ValidateMacLeaseUpdate(lease, old *macpool.MacLease) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&lease.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateLeaseSpec(lease, field.NewPath("spec"))...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(lease.Spec.MACAddress, old.Spec.MACAddress, field.NewPath("spec", "macAddress"))...)
	allErrs = append(allErrs, validateLeaseStatus(&lease.Status, field.NewPath("status"))...)
	allErrs = append(allErrs, validateRetainedLease(lease)...)
	allErrs = append(allErrs, validateNodeHolds(lease, old)...)
	return allErrs
}

// ValidateMacLeaseStatusUpdate checks an update through the status subresource.
func ValidateMacLeaseStatusUpdate(lease, old *macpool.MacLease) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&lease.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateLeaseStatus(&lease.Status, field.NewPath("status"))...)
	allErrs = append(allErrs, validateRetainedLease(lease)...)
	allErrs = append(allErrs, validateNodeHolds(lease, old)...)
	return allErrs
}

// validateLeaseName accepts only the canonical dash form, so that the name
// alone identifies the address and two spellings can never coexist.
func validateLeaseName(name string, prefix bool) []string {
	if prefix {
		return []string{"generateName is not supported: a MacLease is named after its MAC address"}
	}
	address, err := mac.Parse(name)
	if err != nil {
		return []string{"must be a MAC address in lower-case dash form, for example 02-00-00-00-00-0a"}
	}
	if name != address.Name() {
		return []string{fmt.Sprintf("must be the MAC address in lower-case dash form: %q", address.Name())}
	}
	return nil
}

func validateLeaseSpec(lease *macpool.MacLease, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	spec := &lease.Spec
	addressPath := path.Child("macAddress")
	address, err := mac.ParseUnicast(spec.MACAddress)
	switch {
	case spec.MACAddress == "":
		allErrs = append(allErrs, field.Required(addressPath, "the leased MAC address, for example 02:00:00:00:00:0a"))
	case err != nil:
		allErrs = append(allErrs, field.Invalid(addressPath, spec.MACAddress, err.Error()))
	case spec.MACAddress != address.String():
		allErrs = append(allErrs, field.Invalid(addressPath, spec.MACAddress, fmt.Sprintf("must be in lower-case colon form: %q", address.String())))
	case lease.Name != "" && lease.Name != address.Name():
		allErrs = append(allErrs, field.Invalid(addressPath, spec.MACAddress, fmt.Sprintf("must be the address of metadata.name %q", lease.Name)))
	}
	if spec.Pool != "" {
		for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(spec.Pool, false) {
			allErrs = append(allErrs, field.Invalid(path.Child("pool"), spec.Pool, msg))
		}
	}
	if spec.Owner != nil {
		allErrs = append(allErrs, validateOwner(spec.Owner, path.Child("owner"))...)
	}
	if len(spec.Interface) > maxReferenceLength {
		allErrs = append(allErrs, field.TooLong(path.Child("interface"), "", maxReferenceLength))
	}
	return allErrs
}

func validateOwner(owner *macpool.LeaseOwner, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if owner.APIVersion == "" {
		allErrs = append(allErrs, field.Required(path.Child("apiVersion"), "for example v1 or kubevirt.io/v1"))
	}
	if owner.Kind == "" {
		allErrs = append(allErrs, field.Required(path.Child("kind"), "for example Pod or VirtualMachine"))
	}
	if owner.Name == "" {
		allErrs = append(allErrs, field.Required(path.Child("name"), "the owner's name or generateName prefix"))
	}
	for child, value := range map[string]string{"apiVersion": owner.APIVersion, "kind": owner.Kind, "name": owner.Name} {
		if len(value) > maxReferenceLength {
			allErrs = append(allErrs, field.TooLong(path.Child(child), "", maxReferenceLength))
		}
	}
	return allErrs
}

func validateLeaseStatus(status *macpool.MacLeaseStatus, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch status.Phase {
	case "", macpool.MacLeasePhaseReserved, macpool.MacLeasePhaseBound, macpool.MacLeasePhaseRetained:
	default:
		allErrs = append(allErrs, field.NotSupported(path.Child("phase"), status.Phase,
			[]string{string(macpool.MacLeasePhaseReserved), string(macpool.MacLeasePhaseBound), string(macpool.MacLeasePhaseRetained)}))
	}
	if status.ExpiresAt != nil && status.Phase != macpool.MacLeasePhaseReserved && status.Phase != macpool.MacLeasePhaseRetained {
		allErrs = append(allErrs, field.Forbidden(path.Child("expiresAt"), "only a Reserved or Retained lease expires"))
	}
	return allErrs
}

// ValidateMacPool checks a pool on create.
func ValidateMacPool(pool *macpool.MacPool) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&pool.ObjectMeta, false, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validatePoolSpec(&pool.Spec, field.NewPath("spec"))...)
}

// ValidateMacPoolUpdate checks a pool update. Ranges may change freely:
// leases outside the new ranges stay valid.
func ValidateMacPoolUpdate(pool, old *macpool.MacPool) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&pool.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validatePoolSpec(&pool.Spec, field.NewPath("spec"))...)
}

// ValidateMacPoolStatusUpdate checks an update through the status subresource.
func ValidateMacPoolStatusUpdate(pool, old *macpool.MacPool) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&pool.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	statusPath := field.NewPath("status")
	for name, value := range map[string]int64{"capacity": pool.Status.Capacity, "allocated": pool.Status.Allocated, "free": pool.Status.Free, "retained": pool.Status.Retained} {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(value, statusPath.Child(name))...)
	}
	allErrs = append(allErrs, metav1validation.ValidateConditions(pool.Status.Conditions, statusPath.Child("conditions"))...)
	return allErrs
}

// ParseRanges turns the ranges (or the excluded ranges) of a pool spec into
// address ranges; the allocator uses it after validation has accepted the
// spec.
func ParseRanges(ranges []macpool.MACRange) ([]mac.Range, error) {
	parsed := make([]mac.Range, 0, len(ranges))
	for i, r := range ranges {
		addressRange, err := mac.ParseRange(r.Start, r.End)
		if err != nil {
			return nil, fmt.Errorf("spec.ranges[%d]: %w", i, err)
		}
		parsed = append(parsed, addressRange)
	}
	return parsed, nil
}

func validatePoolSpec(spec *macpool.MacPoolSpec, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	rangesPath := path.Child("ranges")
	if len(spec.Ranges) == 0 {
		allErrs = append(allErrs, field.Required(rangesPath, "at least one range of unicast addresses, for example {start: 02:00:00:00:00:00, end: 02:ff:ff:ff:ff:ff}"))
	}
	type indexedRange struct {
		index int
		mac.Range
	}
	var parsed []indexedRange
	for i, r := range spec.Ranges {
		itemPath := rangesPath.Index(i)
		start, startErr := mac.ParseUnicast(r.Start)
		if startErr != nil {
			allErrs = append(allErrs, field.Invalid(itemPath.Child("start"), r.Start, startErr.Error()))
		}
		end, endErr := mac.ParseUnicast(r.End)
		if endErr != nil {
			allErrs = append(allErrs, field.Invalid(itemPath.Child("end"), r.End, endErr.Error()))
		}
		if startErr != nil || endErr != nil {
			continue
		}
		if start > end {
			allErrs = append(allErrs, field.Invalid(itemPath, fmt.Sprintf("%s-%s", r.Start, r.End), "start must not be after end"))
			continue
		}
		parsed = append(parsed, indexedRange{index: i, Range: mac.Range{Start: start, End: end}})
	}
	sort.Slice(parsed, func(a, b int) bool { return parsed[a].Start < parsed[b].Start })
	for i := 1; i < len(parsed); i++ {
		if parsed[i-1].Overlaps(parsed[i].Range) {
			allErrs = append(allErrs, field.Invalid(rangesPath.Index(parsed[i].index), parsed[i].Range.String(),
				fmt.Sprintf("overlaps spec.ranges[%d] (%s)", parsed[i-1].index, parsed[i-1].Range)))
		}
	}
	allErrs = append(allErrs, validateExclude(spec.Exclude, path.Child("exclude"))...)
	allErrs = append(allErrs, validateRetention(spec.Retention, path.Child("retention"))...)
	if spec.NamespaceSelector != nil {
		allErrs = append(allErrs, metav1validation.ValidateLabelSelector(spec.NamespaceSelector, metav1validation.LabelSelectorValidationOptions{}, path.Child("namespaceSelector"))...)
	}
	allErrs = append(allErrs, validateNetworkSelector(spec.NetworkSelector, path.Child("networkSelector"))...)
	switch spec.ConflictPolicy {
	case macpool.ConflictPolicyWarn, macpool.ConflictPolicyReject, macpool.ConflictPolicyReassign:
	default:
		allErrs = append(allErrs, field.NotSupported(path.Child("conflictPolicy"), spec.ConflictPolicy,
			[]string{string(macpool.ConflictPolicyWarn), string(macpool.ConflictPolicyReject), string(macpool.ConflictPolicyReassign)}))
	}
	return allErrs
}

// validateExclude checks the excluded ranges. They need not lie inside
// spec.ranges: an administrator lists the MACs of physical hosts once and
// may move the pool's ranges later. They may overlap each other, since
// excluding an address twice excludes it once. Multicast ends are refused
// like in spec.ranges: a range whose ends are unicast is what every
// other range of the API is.
func validateExclude(exclude []macpool.MACRange, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, r := range exclude {
		itemPath := path.Index(i)
		start, startErr := mac.ParseUnicast(r.Start)
		if startErr != nil {
			allErrs = append(allErrs, field.Invalid(itemPath.Child("start"), r.Start, startErr.Error()))
		}
		end, endErr := mac.ParseUnicast(r.End)
		if endErr != nil {
			allErrs = append(allErrs, field.Invalid(itemPath.Child("end"), r.End, endErr.Error()))
		}
		if startErr == nil && endErr == nil && start > end {
			allErrs = append(allErrs, field.Invalid(itemPath, fmt.Sprintf("%s-%s", r.Start, r.End), "start must not be after end"))
		}
	}
	return allErrs
}
