package kubevirt

// FieldError is a denial: Field is the JSON path of the offending field in
// the form the API server uses in its own messages
// (spec.template.spec.domain.devices.interfaces[2].macAddress) and Reason
// says what is wrong. The handler can return Error() as the denial message
// or use the two parts to fill a metav1.StatusCause.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }
