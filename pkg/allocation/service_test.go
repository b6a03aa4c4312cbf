package allocation

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	versionedfake "kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned/fake"
	"kubemacpool.io/kubemacpool/pkg/mac"
	"kubemacpool.io/kubemacpool/pkg/macindex"
)

func mustParse(t *testing.T, text string) mac.Address {
	t.Helper()
	a, err := mac.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// testService is a synced service with the default pool over ranges, whose
// namespace informer holds the given namespaces.
func testService(t *testing.T, client versioned.Interface, live *kubefake.Clientset, synced bool, namespaces ...*corev1.Namespace) *Service {
	t.Helper()
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, ns := range namespaces {
		if err := indexer.Add(ns); err != nil {
			t.Fatal(err)
		}
	}
	taken := macindex.NewTakenSet()
	r := mac.Range{Start: mustParse(t, "02:00:00:00:00:00"), End: mustParse(t, "02:00:00:00:00:ff")}
	state, err := macindex.NewPool(macpool.DefaultPoolName, []mac.Range{r}, taken, strings.NewReader(strings.Repeat("\x00", 64)))
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{
		client:         client,
		leases:         ClientLeases(client),
		namespaces:     corelisters.NewNamespaceLister(indexer),
		reservationTTL: time.Minute,
		taken:          taken,
		pools:          map[string]*pool{macpool.DefaultPoolName: {state: state}},
		synced:         []cache.InformerSynced{func() bool { return synced }},
		leasesSynced:   func() bool { return synced },
	}
	if live != nil {
		s.liveNamespaces = live.CoreV1()
	}
	return s
}

// A namespace created a moment before its first pod may not be in the
// informer yet: the service asks kube-apiserver instead of denying the pod.
// Temporary trouble is a *NotReadyError, which the webhooks answer with 503.
func TestAllocateNamespaceNotInTheInformer(t *testing.T) {
	fresh := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fresh"}}
	tests := []struct {
		name         string
		synced       bool
		live         *kubefake.Clientset
		wantNotReady bool
		wantNotFound bool
	}{
		{name: "the namespace exists in kube-apiserver", synced: true, live: kubefake.NewClientset(fresh)},
		{name: "the namespace does not exist", synced: true, live: kubefake.NewClientset(), wantNotFound: true},
		{name: "the allocator is still loading", synced: false, live: kubefake.NewClientset(fresh), wantNotReady: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testService(t, versionedfake.NewSimpleClientset(), tt.live, tt.synced)
			owner := Owner{APIVersion: "v1", Kind: "Pod", Name: "p"}
			_, allocateErr := s.Allocate(context.Background(), "fresh", owner, "net1", Network{}, false)
			_, claimErr := s.Claim(context.Background(), "fresh", owner, "net2", Network{}, mustParse(t, "02:00:00:00:00:10"), false)
			for _, err := range []error{allocateErr, claimErr} {
				var notReady *NotReadyError
				switch {
				case tt.wantNotReady:
					if !errors.As(err, &notReady) || !strings.Contains(err.Error(), "try again") {
						t.Errorf("error = %v, want a *NotReadyError that says try again", err)
					}
				case tt.wantNotFound:
					if err == nil || errors.As(err, &notReady) || !strings.Contains(err.Error(), `namespace "fresh" does not exist`) {
						t.Errorf("error = %v, want namespace \"fresh\" does not exist", err)
					}
				case err != nil:
					t.Errorf("error = %v, want none", err)
				}
			}
		})
	}
}

// The cleanup of a failed admission must run even when the request's
// context is already cancelled: kube-apiserver cancels it exactly when it
// gives up on the webhook.
func TestAbortWithACancelledContext(t *testing.T) {
	var mu sync.Mutex
	var deleted []string
	// preconditions are the UID and resourceVersion each delete named.
	var preconditions []string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			// Gone with the delete: no finalizer left to remove.
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`))
			return
		}
		if r.Method != http.MethodDelete {
			http.Error(w, "unexpected", http.StatusMethodNotAllowed)
			return
		}
		options := metav1.DeleteOptions{}
		if err := json.NewDecoder(r.Body).Decode(&options); err != nil || options.Preconditions == nil ||
			options.Preconditions.UID == nil || options.Preconditions.ResourceVersion == nil {
			http.Error(w, "a delete without preconditions", http.StatusBadRequest)
			return
		}
		mu.Lock()
		deleted = append(deleted, r.URL.Path)
		preconditions = append(preconditions, string(*options.Preconditions.UID)+"@"+*options.Preconditions.ResourceVersion)
		mu.Unlock()
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Success"}`))
	}))
	defer server.Close()
	client, err := versioned.NewForConfig(&restclient.Config{Host: server.URL})
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{client: client, leases: ClientLeases(client)}
	transaction := s.Begin("ns", Owner{Kind: "Pod", Name: "p"}, false)
	transaction.created = []createdLease{
		{address: mustParse(t, "02:00:00:00:00:01"), uid: "uid-1", resourceVersion: "1"},
		{address: mustParse(t, "02:00:00:00:00:02"), uid: "uid-2", resourceVersion: "2"},
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	transaction.Abort(ctx)

	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"/apis/macpool.kubemacpool.io/v1alpha1/namespaces/ns/macleases/02-00-00-00-00-01",
		"/apis/macpool.kubemacpool.io/v1alpha1/namespaces/ns/macleases/02-00-00-00-00-02",
	}
	if strings.Join(deleted, ",") != strings.Join(want, ",") {
		t.Fatalf("deleted %v, want %v", deleted, want)
	}
	// Only the versions this call created.
	if got := strings.Join(preconditions, ","); got != "uid-1@1,uid-2@2" {
		t.Errorf("deleted with preconditions %s, want uid-1@1,uid-2@2", got)
	}
}

// The webhook's lease is protected from its create: a delete before the
// owner exists only marks it (the lease controller keeps it until it
// expires).
func TestCreatedLeasesAreProtected(t *testing.T) {
	client := versionedfake.NewSimpleClientset()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}
	s := testService(t, client, nil, true, ns)
	address, err := s.Allocate(context.Background(), "ns", Owner{APIVersion: "v1", Kind: "Pod", Name: "p"}, "net1", Network{}, false)
	if err != nil {
		t.Fatal(err)
	}
	lease, err := client.MacpoolV1alpha1().MacLeases("ns").Get(context.Background(), address.Name(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lease.Finalizers, []string{macpool.MACProtectionFinalizer}) || lease.Status.Phase != "Reserved" {
		t.Errorf("created lease: finalizers %v, phase %q; want the protection finalizer on a Reserved lease", lease.Finalizers, lease.Status.Phase)
	}
}
