package collision

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// op is one call on the Index: an Update, or a Remove when remove is set.
type op struct {
	key          string
	uid          string
	macs         []string
	migrationIDs []string
	remove       bool
	// ifUID makes a remove a RemoveIfUID with uid.
	ifUID bool
}

func update(key, uid string, macs ...string) op { return op{key: key, uid: uid, macs: macs} }

func migrating(key, uid string, migrationIDs []string, macs ...string) op {
	return op{key: key, uid: uid, macs: macs, migrationIDs: migrationIDs}
}

func remove(key string) op { return op{key: key, remove: true} }

func removeIfUID(key, uid string) op { return op{key: key, uid: uid, remove: true, ifUID: true} }

func (o op) apply(ix *Index) (Change, []string) {
	switch {
	case o.remove && o.ifUID:
		return ix.RemoveIfUID(o.key, o.uid), nil
	case o.remove:
		return ix.Remove(o.key), nil
	}
	return ix.Update(o.key, o.uid, o.macs, o.migrationIDs)
}

const (
	macA = "02:00:00:00:cc:01"
	macB = "02:00:00:00:cc:02"
)

var (
	pod  = PodKey("ns", "p")
	pod2 = PodKey("ns", "q")
	vmi  = VMIKey("ns", "v")
	src  = VMIKey("src-ns", "vm")
	dst  = VMIKey("dst-ns", "vm")
)

func TestIndex(t *testing.T) {
	cases := []struct {
		name  string
		setup []op
		// last is checked against the want* fields.
		last           op
		wantChange     Change
		wantInvalid    []string
		wantCollisions map[string][]string
		// wantMessages, when set, are EventMessage of each started or
		// changed MAC.
		wantMessages []string
	}{
		{
			name:  "pod and vmi collide",
			setup: []op{update(pod, "u1", macA)},
			last:  update(vmi, "u2", macA),
			wantChange: Change{Started: []Transition{
				{MAC: macA, Keys: []string{pod, vmi}},
			}},
			wantCollisions: map[string][]string{macA: {pod, vmi}},
			wantMessages:   []string{"MAC 02:00:00:00:cc:01: Collision between pod/ns/p, vmi/ns/v"},
		},
		{
			name:  "three-way collision",
			setup: []op{update(vmi, "u2", macA), update(pod, "u1", macA)},
			last:  update(pod2, "u3", macA),
			wantChange: Change{Changed: []Transition{
				{MAC: macA, Keys: []string{pod, pod2, vmi}, Previous: []string{pod, vmi}},
			}},
			wantCollisions: map[string][]string{macA: {pod, pod2, vmi}},
			wantMessages:   []string{"MAC 02:00:00:00:cc:01: Collision between pod/ns/p, pod/ns/q, vmi/ns/v"},
		},
		{
			name:  "remove resolves a collision",
			setup: []op{update(pod, "u1", macA), update(vmi, "u2", macA)},
			last:  remove(pod),
			wantChange: Change{Resolved: []Transition{
				{MAC: macA, Previous: []string{pod, vmi}},
			}},
			wantCollisions: map[string][]string{},
		},
		{
			name:  "remove one of three keeps the collision",
			setup: []op{update(pod, "u1", macA), update(vmi, "u2", macA), update(pod2, "u3", macA)},
			last:  remove(pod2),
			wantChange: Change{Changed: []Transition{
				{MAC: macA, Keys: []string{pod, vmi}, Previous: []string{pod, pod2, vmi}},
			}},
			wantCollisions: map[string][]string{macA: {pod, vmi}},
		},
		{
			name:           "removing an unknown key changes nothing",
			setup:          []op{update(pod, "u1", macA)},
			last:           remove(vmi),
			wantCollisions: map[string][]string{},
		},
		{
			name:  "changing MAC resolves one collision and starts another",
			setup: []op{update(pod, "u1", macA), update(vmi, "u2", macA), update(pod2, "u3", macB)},
			last:  update(vmi, "u2", macB),
			wantChange: Change{
				Started:  []Transition{{MAC: macB, Keys: []string{pod2, vmi}}},
				Resolved: []Transition{{MAC: macA, Previous: []string{pod, vmi}}},
			},
			wantCollisions: map[string][]string{macB: {pod2, vmi}},
			wantMessages:   []string{"MAC 02:00:00:00:cc:02: Collision between pod/ns/q, vmi/ns/v"},
		},
		{
			name:           "migration source and target do not collide",
			setup:          []op{migrating(src, "s", []string{"mig-src", "mig-dst"}, macA)},
			last:           migrating(dst, "d", []string{"mig-dst"}, macA),
			wantCollisions: map[string][]string{},
		},
		{
			name: "third object collides with both migration halves",
			setup: []op{
				migrating(src, "s", []string{"mig-src", "mig-dst"}, macA),
				migrating(dst, "d", []string{"mig-src", "mig-dst"}, macA),
			},
			last: update(pod, "u1", macA),
			wantChange: Change{Started: []Transition{
				{MAC: macA, Keys: []string{pod, dst, src}},
			}},
			wantCollisions: map[string][]string{macA: {pod, dst, src}},
			wantMessages:   []string{"MAC 02:00:00:00:cc:01: Collision between pod/ns/p, vmi/dst-ns/vm, vmi/src-ns/vm"},
		},
		{
			name: "migration halves collide once the migration IDs are gone",
			setup: []op{
				migrating(src, "s", []string{"mig"}, macA),
				migrating(dst, "d", []string{"mig"}, macA),
			},
			last: update(dst, "d", macA),
			wantChange: Change{Started: []Transition{
				{MAC: macA, Keys: []string{dst, src}},
			}},
			wantCollisions: map[string][]string{macA: {dst, src}},
		},
		{
			name:  "different migrations do not exempt each other",
			setup: []op{migrating(src, "s", []string{"mig-1"}, macA)},
			last:  migrating(dst, "d", []string{"mig-2"}, macA),
			wantChange: Change{Started: []Transition{
				{MAC: macA, Keys: []string{dst, src}},
			}},
			wantCollisions: map[string][]string{macA: {dst, src}},
		},
		{
			name:  "empty migration IDs do not exempt",
			setup: []op{migrating(src, "s", []string{""}, macA)},
			last:  migrating(dst, "d", []string{""}, macA),
			wantChange: Change{Started: []Transition{
				{MAC: macA, Keys: []string{dst, src}},
			}},
			wantCollisions: map[string][]string{macA: {dst, src}},
		},
		{
			name:  "only VMIs can be migration peers",
			setup: []op{migrating(vmi, "v", []string{"mig"}, macA)},
			last:  migrating(pod, "p", []string{"mig"}, macA),
			wantChange: Change{Started: []Transition{
				{MAC: macA, Keys: []string{pod, vmi}},
			}},
			wantCollisions: map[string][]string{macA: {pod, vmi}},
		},
		{
			name:           "VM reboot with a new UID does not collide",
			setup:          []op{update(vmi, "boot-1", macA)},
			last:           update(vmi, "boot-2", macA),
			wantCollisions: map[string][]string{},
		},
		{
			name:           "late removal of the previous incarnation is ignored",
			setup:          []op{update(vmi, "boot-1", macA), update(vmi, "boot-2", macA), update(pod, "p", macA)},
			last:           removeIfUID(vmi, "boot-1"),
			wantCollisions: map[string][]string{macA: {pod, vmi}},
		},
		{
			name:  "removal of the current incarnation applies",
			setup: []op{update(vmi, "boot-2", macA), update(pod, "p", macA)},
			last:  removeIfUID(vmi, "boot-2"),
			wantChange: Change{Resolved: []Transition{
				{MAC: macA, Previous: []string{pod, vmi}},
			}},
			wantCollisions: map[string][]string{},
		},
		{
			name:  "MACs are normalised across case and separators",
			setup: []op{update(pod, "u1", "02-00-00-00-CC-01")},
			last:  update(vmi, "u2", "02:00:00:00:Cc:01"),
			wantChange: Change{Started: []Transition{
				{MAC: macA, Keys: []string{pod, vmi}},
			}},
			wantCollisions: map[string][]string{macA: {pod, vmi}},
			wantMessages:   []string{"MAC 02:00:00:00:cc:01: Collision between pod/ns/p, vmi/ns/v"},
		},
		{
			name:           "one object with a MAC on two interfaces does not collide with itself",
			last:           update(vmi, "u2", macA, "02-00-00-00-cc-01"),
			wantCollisions: map[string][]string{},
		},
		{
			name:  "unparseable MACs are reported and ignored",
			setup: []op{update(pod, "u1", macA)},
			last:  update(vmi, "u2", "not-a-mac", macA, "02:00:00:00:cc:0g", "", "02.00.00.00.cc.01"),
			wantChange: Change{Started: []Transition{
				{MAC: macA, Keys: []string{pod, vmi}},
			}},
			wantInvalid:    []string{"not-a-mac", "02:00:00:00:cc:0g", "", "02.00.00.00.cc.01"},
			wantCollisions: map[string][]string{macA: {pod, vmi}},
		},
		{
			name:  "an update with no valid MAC forgets the object",
			setup: []op{update(pod, "u1", macA), update(vmi, "u2", macA)},
			last:  update(vmi, "u2", "garbage"),
			wantChange: Change{Resolved: []Transition{
				{MAC: macA, Previous: []string{pod, vmi}},
			}},
			wantInvalid:    []string{"garbage"},
			wantCollisions: map[string][]string{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ix := New()
			for _, o := range tc.setup {
				o.apply(ix)
				checkInvariants(t, ix)
			}
			change, invalid := tc.last.apply(ix)
			checkInvariants(t, ix)

			if !reflect.DeepEqual(change, tc.wantChange) {
				t.Errorf("change:\n got  %+v\n want %+v", change, tc.wantChange)
			}
			if change.Empty() != tc.wantChange.Empty() {
				t.Errorf("Empty() = %v, want %v", change.Empty(), tc.wantChange.Empty())
			}
			if !slices.Equal(invalid, tc.wantInvalid) {
				t.Errorf("invalid MACs: got %q, want %q", invalid, tc.wantInvalid)
			}
			if got := ix.Collisions(); !reflect.DeepEqual(got, tc.wantCollisions) {
				t.Errorf("Collisions() = %v, want %v", got, tc.wantCollisions)
			}
			wantCounts := map[string]int{}
			for address, keys := range tc.wantCollisions {
				wantCounts[address] = len(keys)
			}
			if got := ix.Counts(); !maps.Equal(got, wantCounts) {
				t.Errorf("Counts() = %v, want %v", got, wantCounts)
			}
			var messages []string
			for _, transition := range slices.Concat(change.Started, change.Changed) {
				messages = append(messages, EventMessage(transition.MAC, transition.Keys))
			}
			if tc.wantMessages != nil && !slices.Equal(messages, tc.wantMessages) {
				t.Errorf("event messages:\n got  %q\n want %q", messages, tc.wantMessages)
			}
		})
	}
}

func TestEventMessage(t *testing.T) {
	// Keys arrive in any order and the MAC in any spelling; the message is
	// canonical either way so repeated events aggregate.
	got := EventMessage("02-00-00-00-CC-01", []string{"vmi/ns/v", "pod/ns/p"})
	if want := "MAC 02:00:00:00:cc:01: Collision between pod/ns/p, vmi/ns/v"; got != want {
		t.Errorf("EventMessage = %q, want %q", got, want)
	}
	if EventReason != "MACCollision" {
		t.Errorf("EventReason = %q, want MACCollision", EventReason)
	}
}

func TestReturnedSlicesAreCopies(t *testing.T) {
	ix := New()
	ix.Update(pod, "u1", []string{macA}, nil)
	change, _ := ix.Update(vmi, "u2", []string{macA}, nil)
	change.Started[0].Keys[0] = "mutated"
	ix.Collisions()[macA][1] = "mutated"
	if got := ix.Collisions()[macA]; !slices.Equal(got, []string{pod, vmi}) {
		t.Errorf("caller mutation leaked into the index: %v", got)
	}
}

func TestMemoryFollowsTrackedMACs(t *testing.T) {
	ix := New()
	for i := range 100 {
		key := PodKey("ns", fmt.Sprint(i))
		ix.Update(key, "u", []string{fmt.Sprintf("02:00:00:00:00:%02x", i)}, nil)
		ix.Remove(key)
	}
	if ix.Len() != 0 || len(ix.holders) != 0 || len(ix.colliding) != 0 {
		t.Errorf("index retains state after every object left: %d objects, %d MACs, %d collisions",
			ix.Len(), len(ix.holders), len(ix.colliding))
	}
}

func TestConcurrentUpdates(t *testing.T) {
	const (
		workers    = 8
		iterations = 300
	)
	shared := []string{"02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"}
	ix := New()
	changes := make([][]Change, workers)

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			random := rand.New(rand.NewPCG(uint64(w), 1))
			keys := []string{PodKey("ns", fmt.Sprint(w)), VMIKey("ns", fmt.Sprint(w))}
			for range iterations {
				key := keys[random.IntN(len(keys))]
				var change Change
				switch random.IntN(4) {
				case 0:
					change = ix.Remove(key)
				case 1:
					change, _ = ix.Update(key, "u", []string{shared[random.IntN(len(shared))]}, []string{"mig"})
				default:
					change, _ = ix.Update(key, "u", []string{shared[random.IntN(len(shared))], "02-00-00-00-00-FF"}, nil)
				}
				changes[w] = append(changes[w], change)
				_ = ix.Collisions()
				_ = ix.Counts()
			}
			// Settle on a known final state: each worker's pod on shared[0]
			// and its VMI gone.
			changes[w] = append(changes[w], ix.Remove(keys[1]))
			change, _ := ix.Update(keys[0], "u", []string{shared[0]}, nil)
			changes[w] = append(changes[w], change)
		})
	}
	wg.Wait()
	checkInvariants(t, ix)

	var wantKeys []string
	for w := range workers {
		wantKeys = append(wantKeys, PodKey("ns", fmt.Sprint(w)))
	}
	slices.Sort(wantKeys)
	want := map[string][]string{shared[0]: wantKeys}
	if got := ix.Collisions(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Collisions() = %v, want %v", got, want)
	}

	// Each change was computed under the lock, so per MAC the starts and
	// resolutions alternate; whatever order the workers saw them in, the
	// balance says whether the MAC ends up colliding.
	balance := map[string]int{}
	for _, list := range changes {
		for _, change := range list {
			for _, transition := range change.Started {
				balance[transition.MAC]++
			}
			for _, transition := range change.Resolved {
				balance[transition.MAC]--
			}
		}
	}
	for address, count := range balance {
		wantCount := 0
		if _, ok := want[address]; ok {
			wantCount = 1
		}
		if count != wantCount {
			t.Errorf("MAC %s: started minus resolved = %d, want %d", address, count, wantCount)
		}
	}
}

// checkInvariants verifies that the holder lists and the collision cache
// agree with the objects, as if recomputed from scratch.
func checkInvariants(t *testing.T, ix *Index) {
	t.Helper()
	ix.mu.Lock()
	defer ix.mu.Unlock()

	wantHolders := map[string][]string{}
	for key, object := range ix.objects {
		if len(object.macs) == 0 {
			t.Errorf("object %s is stored without MACs", key)
		}
		for _, address := range object.macs {
			wantHolders[address] = append(wantHolders[address], key)
		}
	}
	for address := range wantHolders {
		slices.Sort(wantHolders[address])
	}
	if !reflect.DeepEqual(ix.holders, wantHolders) {
		t.Errorf("holders %v, want %v", ix.holders, wantHolders)
	}
	for address := range ix.holders {
		participants := ix.participants(address)
		if !slices.Equal(ix.colliding[address], participants) {
			t.Errorf("MAC %s: cached collision %v, recomputed %v", address, ix.colliding[address], participants)
		}
	}
	for address := range ix.colliding {
		if _, ok := ix.holders[address]; !ok {
			t.Errorf("MAC %s is colliding without holders", address)
		}
	}
}

func TestNamespaceEventMessage(t *testing.T) {
	keys := []string{"vmi/tenant-b/v", "pod/tenant-a/p", "pod/tenant-a/q", "pod/tenant-c/r"}
	cases := map[string]string{
		"tenant-a": "MAC 02:00:00:00:cc:01: Collision between pod/tenant-a/p, pod/tenant-a/q and 2 object(s) in other namespaces",
		"tenant-b": "MAC 02:00:00:00:cc:01: Collision between vmi/tenant-b/v and 3 object(s) in other namespaces",
	}
	for namespace, want := range cases {
		if got := NamespaceEventMessage("02-00-00-00-CC-01", keys, namespace); got != want {
			t.Errorf("in %s: got %q, want %q", namespace, got, want)
		}
	}
	same := []string{"vmi/ns/v", "pod/ns/p"}
	if got, want := NamespaceEventMessage("02:00:00:00:cc:01", same, "ns"), EventMessage("02:00:00:00:cc:01", same); got != want {
		t.Errorf("within one namespace: got %q, want the original's %q", got, want)
	}
}

// The MacPool's event, stored in namespace "default", counts the holders and
// their namespaces and names none of them.
func TestPoolEventMessage(t *testing.T) {
	for _, tc := range []struct {
		keys []string
		want string
	}{
		{[]string{"vmi/tenant-b/vm-b", "pod/tenant-a/web-a", "pod/tenant-a/db-a", "pod/tenant-c/web-c"}, "MAC 02:00:00:00:cc:01: Collision between 4 objects in 3 namespace(s)"},
		{[]string{"pod/tenant-a/web-a", "vmi/tenant-a/vm-a"}, "MAC 02:00:00:00:cc:01: Collision between 2 objects in 1 namespace(s)"},
	} {
		got := PoolEventMessage("02-00-00-00-CC-01", tc.keys)
		if got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.keys, got, tc.want)
		}
		for _, key := range tc.keys {
			for _, part := range strings.Split(key, "/")[1:] {
				if strings.Contains(got, part) {
					t.Errorf("%q names %q", got, part)
				}
			}
		}
	}
}
