package apiserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"path"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"k8s.io/apiserver/pkg/registry/generic"

	"kubemacpool.io/kubemacpool/pkg/allocation"
)

// storedNamesPage bounds one keys-only read; a variable for the test.
var storedNamesPage int64 = 10000

const etcdDial = 5 * time.Second

// storedLeaseNames lists the names of the stored MacLeases from their etcd
// keys alone: the key of a lease ends in its name, which is its MAC (see
// pkg/registry/macpool/maclease). A keys-only read of 100,000 leases takes a
// fraction of a second, where decoding their values takes seconds.
func storedLeaseNames(options generic.RESTOptions) allocation.NameLister {
	prefix := path.Join("/", options.StorageConfig.Prefix, options.ResourcePrefix) + "/"
	return func(ctx context.Context) ([]string, error) {
		client, err := etcdClient(ctx, options)
		if err != nil {
			return nil, err
		}
		defer client.Close()

		var names []string
		key, end := prefix, clientv3.GetPrefixRangeEnd(prefix)
		var revision int64
		for {
			options := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithKeysOnly(), clientv3.WithLimit(storedNamesPage)}
			if revision != 0 {
				// Every page at the revision of the first.
				options = append(options, clientv3.WithRev(revision))
			}
			response, err := client.Get(ctx, key, options...)
			if err != nil {
				return nil, fmt.Errorf("reading the keys under %s: %w", prefix, err)
			}
			revision = response.Header.Revision
			for _, kv := range response.Kvs {
				names = append(names, path.Base(string(kv.Key)))
			}
			if !response.More || len(response.Kvs) == 0 {
				return names, nil
			}
			key = string(response.Kvs[len(response.Kvs)-1].Key) + "\x00"
		}
	}
}

// etcdClient connects to the etcd that options store in, for a read or a
// write that the registry's storage does not offer. The caller closes it.
func etcdClient(ctx context.Context, options generic.RESTOptions) (*clientv3.Client, error) {
	settings := options.StorageConfig.Transport
	var tlsConfig *tls.Config
	if settings.CertFile != "" || settings.KeyFile != "" || settings.TrustedCAFile != "" {
		info := transport.TLSInfo{CertFile: settings.CertFile, KeyFile: settings.KeyFile, TrustedCAFile: settings.TrustedCAFile}
		var err error
		if tlsConfig, err = info.ClientConfig(); err != nil {
			return nil, fmt.Errorf("configuring TLS to etcd: %w", err)
		}
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   settings.ServerList,
		TLS:         tlsConfig,
		DialTimeout: etcdDial,
		Context:     ctx,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd: %w", err)
	}
	return client, nil
}
