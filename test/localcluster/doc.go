// Package localcluster runs a small, real Kubernetes control plane on
// 127.0.0.1 for `make local-up` and the end-to-end tests: etcd, kube-apiserver
// and kubemacpool-apiserver registered behind the aggregator through an
// APIService.
//
// There is no kubelet or scheduler, and kube-controller-manager runs only a
// few controllers: nothing runs pods, so the control plane only stores and
// serves objects. kubemacpool-apiserver runs as a local process and the
// APIService reaches it through an ExternalName Service that points at
// localhost.
//
// Options.KubemacpoolReplicas >= 2 runs several kubemacpool-apiserver
// processes on the control plane's etcd instead of one with an embedded etcd.
// The aggregator and the webhooks reach replica 0 only (an ExternalName
// Service names one port); Cluster.KubemacpoolReplicaConfig reaches each
// replica directly.
//
// Everything lives under Options.RootDir:
//
//	ports.json                       ports chosen on first start, reused while free
//	etcd/                            etcd data dir of kube-apiserver
//	kubemacpool-etcd/                data dir of kubemacpool-apiserver's embedded etcd (one replica)
//	pki/                             CAs, serving and client certificates, SA key
//	kubeconfig                       admin kubeconfig (system:masters)
//	kubemacpool-apiserver.kubeconfig token kubeconfig of the kubemacpool-apiserver SA
//	users/                           kubeconfigs made by Cluster.UserKubeconfig
//	logs/<component>.log             output of every process, appended across starts;
//	                                 replica i >= 1 logs to kubemacpool-apiserver-<i>.log
//
// A second Start on the same RootDir keeps all data and reuses the PKI.
//
// Every child process gets Pdeathsig=SIGKILL, so it dies with the launcher
// even when the launcher is killed without a chance to clean up.
package localcluster
