// +k8s:deepcopy-gen=package
// +groupName=macpool.kubemacpool.io

// Package macpool is the internal version of the macpool.kubemacpool.io API:
// MacLease records that one MAC address is taken, cluster-wide, and by whom;
// MacPool says where addresses come from.
package macpool
