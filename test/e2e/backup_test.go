package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"kubemacpool.io/kubemacpool/pkg/apis/macpool/v1alpha1"
	"kubemacpool.io/kubemacpool/pkg/generated/clientset/versioned"
	"kubemacpool.io/kubemacpool/test/localcluster"
)

// restoredLease is what a backup must carry over for each lease.
type restoredLease struct {
	MAC, Pool, Owner, Phase string
	// OwnerUIDs are the UIDs of the owner references: the garbage
	// collector releases the lease with its owner only through them.
	OwnerUIDs []string
	ExpiresAt string
}

// leaseState reads every lease of namespaces by namespace/name.
func leaseState(ctx context.Context, macs versioned.Interface, namespaces ...string) map[string]restoredLease {
	GinkgoHelper()
	state, err := tryLeaseState(ctx, macs, namespaces...)
	Expect(err).NotTo(HaveOccurred())
	return state
}

// tryLeaseState is leaseState for Eventually: the aggregator may answer 503
// for a moment after kubemacpool-apiserver started again.
func tryLeaseState(ctx context.Context, macs versioned.Interface, namespaces ...string) (map[string]restoredLease, error) {
	state := map[string]restoredLease{}
	for _, namespace := range namespaces {
		list, err := macs.MacpoolV1alpha1().MacLeases(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		for _, lease := range list.Items {
			view := restoredLease{MAC: lease.Spec.MACAddress, Pool: lease.Spec.Pool, Phase: string(lease.Status.Phase)}
			if lease.Spec.Owner != nil {
				view.Owner = lease.Spec.Owner.Kind + "/" + lease.Spec.Owner.Name
			}
			for _, reference := range lease.OwnerReferences {
				view.OwnerUIDs = append(view.OwnerUIDs, string(reference.UID))
			}
			if lease.Status.ExpiresAt != nil {
				view.ExpiresAt = lease.Status.ExpiresAt.UTC().Format(time.RFC3339)
			}
			state[namespace+"/"+lease.Name] = view
		}
	}
	return state, nil
}

var _ = Describe("Backup and restore", Ordered, func() {
	const (
		pods      = "backup-pods"
		reserved  = "backup-reserved"
		labPool   = "backup-lab"
		labLabel  = "e2e.kubemacpool.io/backup-lab"
		labStart  = "0e:00:00:00:10:00"
		labEnd    = "0e:00:00:00:10:ff"
		staticMAC = "0e:00:00:00:10:07"
		handMAC   = "0e:00:00:00:10:08"
	)
	var (
		own     *localcluster.Cluster
		kube    kubernetes.Interface
		macs    versioned.Interface
		before  map[string]restoredLease
		workDir string
	)

	BeforeAll(func(ctx context.Context) {
		buildPlugin()
		// A control plane of its own: the spec wipes kubemacpool's store.
		// The TTL outlasts the spec, so that the Reserved lease stays so.
		own = startOwnCluster("backup", localcluster.Options{KubemacpoolArgs: []string{"--reservation-ttl=1h"}})
		config := own.RESTConfig()
		config.Timeout = time.Minute
		kube = kubernetes.NewForConfigOrDie(config)
		macs = versioned.NewForConfigOrDie(config)
		workDir = GinkgoT().TempDir()

		for _, namespace := range []string{pods, reserved} {
			_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
		}
		// A pool that serves only the labelled namespace: restoring its
		// static reservation needs the pool back first
		// (MacLeaseReservationScope).
		namespace, err := kube.CoreV1().Namespaces().Get(ctx, reserved, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		namespace.Labels[labLabel] = "true"
		_, err = kube.CoreV1().Namespaces().Update(ctx, namespace, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = macs.MacpoolV1alpha1().MacPools().Create(ctx, &v1alpha1.MacPool{
			ObjectMeta: metav1.ObjectMeta{Name: labPool, Labels: map[string]string{"team": "net"}},
			Spec: v1alpha1.MacPoolSpec{
				Ranges:            []v1alpha1.MACRange{{Start: labStart, End: labEnd}},
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{labLabel: "true"}},
			},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		// Bound leases: the webhook leases, the controller binds to the pods.
		for _, name := range []string{"web-0", "web-1"} {
			_, err := kube.CoreV1().Pods(pods).Create(ctx, newPod(name, `[{"name":"br1"},{"name":"br2"}]`), metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
		}
		Eventually(func(g Gomega) {
			leases := leaseState(ctx, macs, pods)
			g.Expect(leases).To(HaveLen(4))
			for _, lease := range leases {
				g.Expect(lease.Phase).To(Equal("Bound"))
				g.Expect(lease.OwnerUIDs).To(HaveLen(1))
			}
		}).WithContext(ctx).Should(Succeed())

		// A static reservation in the lab pool, and a Reserved lease whose
		// owner does not exist yet, with its expiry.
		static := newLease(staticMAC, "")
		static.Spec.Owner, static.Spec.Pool, static.Spec.Interface = nil, labPool, ""
		static.Labels = map[string]string{"purpose": "router"}
		_, err = macs.MacpoolV1alpha1().MacLeases(reserved).Create(ctx, static, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		hand := newLease(handMAC, "not-yet")
		hand.Spec.Pool = labPool
		expires := metav1.NewTime(time.Now().Add(time.Hour).Truncate(time.Second))
		hand.Status = v1alpha1.MacLeaseStatus{Phase: v1alpha1.MacLeasePhaseReserved, ExpiresAt: &expires}
		_, err = macs.MacpoolV1alpha1().MacLeases(reserved).Create(ctx, hand, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		before = leaseState(ctx, macs, pods, reserved)
		Expect(before).To(HaveLen(6))
		Expect(before).To(HaveKeyWithValue(reserved+"/"+leaseName(handMAC), HaveField("Phase", "Reserved")))
	}, NodeTimeout(8*time.Minute))

	// wipe stops the server, moves its store aside and starts it on an
	// empty one: a fresh install on the same cluster.
	wipe := func(ctx context.Context) {
		GinkgoHelper()
		dataDir, err := own.KubemacpoolDataDir()
		Expect(err).NotTo(HaveOccurred())
		Expect(own.StopKubemacpool()).To(Succeed())
		Expect(os.Rename(dataDir, dataDir+".wiped-"+time.Now().Format("150405.000"))).To(Succeed())
		Expect(own.StartKubemacpool(ctx)).To(Succeed())
		// The controller of the fresh install adopts the MACs of the
		// running pods (Bound, without pool); the rest is gone.
		Eventually(func() (map[string]restoredLease, error) { return tryLeaseState(ctx, macs, reserved) }).
			WithContext(ctx).Should(BeEmpty(), "the fresh install starts empty")
		_, err = macs.MacpoolV1alpha1().MacPools().Get(ctx, labPool, metav1.GetOptions{})
		Expect(err).To(HaveOccurred(), "the fresh install has no lab pool")
	}

	It("exports every pool and lease with kubectl macpool backup and restores them into a fresh install", func(ctx context.Context) {
		file := filepath.Join(workDir, "macpool-backup.yaml")
		result := kubectlMacpool(own.Kubeconfig(), "backup", "-f", file)
		Expect(result.Code).To(Equal(0), result.Stderr)
		Expect(result.Stderr).To(ContainSubstring("MacLeases (leases of every namespace)"))

		wipe(ctx)

		result = kubectlMacpool(own.Kubeconfig(), "restore", "-f", file)
		Expect(result.Code).To(Equal(0), "stdout %s\nstderr %s", result.Stdout, result.Stderr)
		// The fresh install made the default pool from the same flags.
		Expect(result.Stdout).To(ContainSubstring("MacPools:  1 created, 0 updated, 1 unchanged, 0 conflicting, 0 failed"))
		// The pods' leases are created, or completed if the controller
		// adopted them first: never a conflict.
		Expect(result.Stdout).To(MatchRegexp(`MacLeases: [2-6] created, [0-4] updated, 0 unchanged, 0 conflicting, 0 failed`))
		Expect(leaseState(ctx, macs, pods, reserved)).To(Equal(before))
		pool, err := macs.MacpoolV1alpha1().MacPools().Get(ctx, labPool, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(pool.Labels).To(HaveKeyWithValue("team", "net"))
		Expect(pool.Spec.NamespaceSelector.MatchLabels).To(HaveKeyWithValue(labLabel, "true"))
		Eventually(func() int64 {
			pool, err := macs.MacpoolV1alpha1().MacPools().Get(ctx, labPool, metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			return pool.Status.Allocated
		}).WithContext(ctx).Should(BeEquivalentTo(2), "the restored leases count in the pool's status")

		// The restored leases are the server's again: a restored MAC is
		// taken, and the controller keeps the Bound leases of live pods.
		_, err = macs.MacpoolV1alpha1().MacLeases("default").Create(ctx, newLease(staticMAC, "thief"), metav1.CreateOptions{})
		Expect(err).To(HaveOccurred(), "the restored static reservation holds its MAC")
		Consistently(func() map[string]restoredLease { return leaseState(ctx, macs, pods, reserved) }).
			WithContext(ctx).WithTimeout(5 * time.Second).Should(Equal(before))

		// A second run changes nothing.
		result = kubectlMacpool(own.Kubeconfig(), "restore", "-f", file)
		Expect(result.Code).To(Equal(0), result.Stderr)
		Expect(result.Stdout).To(ContainSubstring("MacLeases: 0 created, 0 updated, 6 unchanged, 0 conflicting, 0 failed"))
	})

	It("restores an online snapshot of the embedded etcd into a fresh data directory", func(ctx context.Context) {
		// The API restore before this spec left the store as it was.
		Expect(leaseState(ctx, macs, pods, reserved)).To(Equal(before))
		server := kubemacpoolBinary
		if server == "" {
			server = filepath.Join(binDir, "kubemacpool-apiserver")
		}
		endpoint, err := own.KubemacpoolEmbeddedEtcdClientURL()
		Expect(err).NotTo(HaveOccurred())
		snapshot := filepath.Join(workDir, "kubemacpool-etcd.db")
		// Online: the server keeps running and serving.
		output, err := exec.CommandContext(ctx, server, "snapshot", "save", "--endpoint="+endpoint, "--file="+snapshot).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "%s", output)
		Expect(string(output)).To(ContainSubstring("Saved a snapshot of"))

		dataDir, err := own.KubemacpoolDataDir()
		Expect(err).NotTo(HaveOccurred())
		Expect(own.StopKubemacpool()).To(Succeed())
		Expect(os.Rename(dataDir, dataDir+".before-snapshot-restore")).To(Succeed())
		// The server's own ports are free while it is stopped.
		peer, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		peerURL := "http://" + peer.Addr().String()
		Expect(peer.Close()).To(Succeed())
		output, err = exec.CommandContext(ctx, server, "snapshot", "restore", "--file="+snapshot, "--embedded-etcd-data-dir="+dataDir,
			"--embedded-etcd-client-url="+endpoint, "--embedded-etcd-peer-url="+peerURL).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "%s", output)
		Expect(string(output)).To(MatchRegexp(`Restored \d+ keys into`))
		Expect(own.StartKubemacpool(ctx)).To(Succeed())

		Eventually(func() (map[string]restoredLease, error) { return tryLeaseState(ctx, macs, pods, reserved) }).
			WithContext(ctx).Should(Equal(before))
		pool, err := macs.MacpoolV1alpha1().MacPools().Get(ctx, labPool, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(pool.Labels).To(HaveKeyWithValue("team", "net"))
		_, err = macs.MacpoolV1alpha1().MacLeases("default").Create(ctx, newLease(staticMAC, "thief"), metav1.CreateOptions{})
		Expect(err).To(HaveOccurred(), "the restored static reservation holds its MAC")
		Consistently(func() map[string]restoredLease { return leaseState(ctx, macs, pods, reserved) }).
			WithContext(ctx).WithTimeout(5 * time.Second).Should(Equal(before))
	})

	It("restores as the caller: a tenant cannot write outside their namespace", func(ctx context.Context) {
		file := filepath.Join(workDir, "macpool-backup.yaml")
		wipe(ctx)

		const tenant = "backup-tenant"
		_, err := kube.RbacV1().RoleBindings(pods).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "admin"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "admin"},
			Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: tenant}},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		kubeconfig, err := own.UserKubeconfig(tenant)
		Expect(err).NotTo(HaveOccurred())

		var result pluginResult
		Eventually(func() string {
			result = kubectlMacpool(kubeconfig, "restore", "-f", file)
			return result.Stdout
		}).WithContext(ctx).Should(MatchRegexp(`MacLeases: \d created, \d updated, \d unchanged, 0 conflicting, 2 failed`),
			func() string { return "the role binding takes effect; stderr: " + result.Stderr })
		Expect(result.Code).To(Equal(1))
		Expect(result.Stdout).To(ContainSubstring("MacPools:  0 created, 0 updated, 1 unchanged, 0 conflicting, 1 failed"))
		Expect(result.Stderr).To(ContainSubstring("you may not create macpools.macpool.kubemacpool.io"))
		Expect(result.Stderr).To(ContainSubstring("you may not create macleases.macpool.kubemacpool.io in namespace " + reserved))

		after := leaseState(ctx, macs, pods, reserved)
		Expect(after).To(HaveLen(4))
		for key, lease := range after {
			Expect(before).To(HaveKeyWithValue(key, lease))
		}
	})
})
