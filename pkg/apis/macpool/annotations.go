package macpool

// AllocationAttemptAnnotation marks the lease an allocation created with a
// token of that allocation (the admission request's UID), so that a create
// repeated after an unknown outcome, or a call kube-apiserver repeats, can
// tell its own lease from another object's (see pkg/allocation). It means
// nothing once the lease is bound to its owner, and the bind removes it.
const AllocationAttemptAnnotation = "macpool.kubemacpool.io/allocation-attempt"
