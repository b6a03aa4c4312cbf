package embeddedetcd

import (
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apiserver/pkg/storage"
	etcdfeature "k8s.io/apiserver/pkg/storage/feature"
)

// inProcessEndpoint is the name the in-process member goes by where the
// storage layer wants an endpoint.
const inProcessEndpoint = "in-process"

// checkProgressNotify has checker learn whether the member supports
// progress notifications, the way etcd3.New has it check a network client.
//
// The watch cache serves a consistent list (no resourceVersion, what kubectl
// and most clients send) and a watch that streams its initial objects
// (client-go's WatchList) only once the checker knows that etcd supports
// them; the checker finds out by asking each endpoint of the client for
// its version. The in-process client has no endpoints, so it never asked:
// every consistent list of leases went to etcd and decoded every lease of
// the cluster (keys carry no namespace), for any user who may list leases
// in one namespace, and watches that asked for initial events were refused.
func checkProgressNotify(checker etcdfeature.FeatureSupportChecker, client *clientv3.Client) {
	checker.CheckClient(client.Ctx(), namedEndpoint{client}, storage.RequestWatchProgress)
}

// namedEndpoint is the in-process client with one endpoint, whose status
// (the member's version) its Maintenance API answers in process.
type namedEndpoint struct{ *clientv3.Client }

func (namedEndpoint) Endpoints() []string { return []string{inProcessEndpoint} }
