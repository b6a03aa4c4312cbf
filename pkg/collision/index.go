package collision

import (
	"maps"
	"slices"
	"sync"
)

// Index records the MACs of running objects and which of those MACs
// collide. It is safe for concurrent use; every method holds one mutex for
// a time proportional to the MACs involved, so a single lock is cheaper
// than anything finer-grained.
type Index struct {
	mu sync.Mutex
	// objects maps a key to what it holds. Objects without a valid MAC are
	// not stored, so memory follows the number of tracked MACs.
	objects map[string]object
	// holders maps a canonical MAC to the sorted keys holding it. A slice
	// rather than a set: a MAC almost always has exactly one holder.
	holders map[string][]string
	// colliding maps each MAC currently in collision to its sorted
	// participants, so a change can be told from a repeat.
	colliding map[string][]string
}

type object struct {
	// uid tells incarnations of a key apart for RemoveIfUID; it plays no
	// part in collisions, which is what makes a VM reboot (same key, new
	// UID) collision-free.
	uid string
	// macs are canonical, unique and sorted.
	macs []string
	// networks maps each MAC to the sorted, unique networks it is on;
	// UnknownNetwork among them may meet any network.
	networks map[string][]string
	// migrationIDs are non-empty and unique.
	migrationIDs []string
}

// New returns an empty Index.
func New() *Index {
	return &Index{
		objects:   map[string]object{},
		holders:   map[string][]string{},
		colliding: map[string][]string{},
	}
}

// Update replaces everything known about key (see PodKey and VMIKey) with
// macs, in any spelling mac.Parse accepts. migrationIDs are the source and
// target migration UIDs of a VMI's status.migrationState; two VMIs sharing
// one are the halves of a decentralized live migration and do not collide
// with each other. Call Update only for running objects and Remove for the
// others.
//
// It returns the resulting collision changes and, for the caller to log,
// the entries of macs that are not MAC addresses (they are ignored).
func (ix *Index) Update(key, uid string, macs, migrationIDs []string) (Change, []string) {
	holdings := make([]Holding, len(macs))
	for i, address := range macs {
		holdings[i] = Holding{MAC: address, Network: UnknownNetwork}
	}
	return ix.UpdateHoldings(key, uid, holdings, migrationIDs)
}

// UpdateHoldings is Update with the network each MAC is on: two holders of
// a MAC collide only when they can meet on one L2 network (see Meet).
func (ix *Index) UpdateHoldings(key, uid string, holdings []Holding, migrationIDs []string) (Change, []string) {
	valid, networks, invalid := normaliseHoldings(holdings)
	ids := nonEmptyUnique(migrationIDs)

	ix.mu.Lock()
	defer ix.mu.Unlock()

	previous := ix.objects[key]
	for _, address := range previous.macs {
		if _, kept := slices.BinarySearch(valid, address); !kept {
			ix.removeHolder(address, key)
		}
	}
	for _, address := range valid {
		ix.addHolder(address, key)
	}
	if len(valid) == 0 {
		delete(ix.objects, key)
	} else {
		ix.objects[key] = object{uid: uid, macs: valid, networks: networks, migrationIDs: ids}
	}
	// Re-evaluate kept MACs too: new migration IDs can start or end an
	// exemption without any MAC changing.
	return ix.reevaluate(mergeSorted(previous.macs, valid)), invalid
}

// Remove forgets key, for an object that was deleted or stopped running.
func (ix *Index) Remove(key string) Change {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.remove(key)
}

// RemoveIfUID forgets key only if it is still the incarnation uid. It lets
// a late delete of a VM's previous VMI leave the rebooted one (same key,
// new UID) in place.
func (ix *Index) RemoveIfUID(key, uid string) Change {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if current, ok := ix.objects[key]; !ok || current.uid != uid {
		return Change{}
	}
	return ix.remove(key)
}

func (ix *Index) remove(key string) Change {
	previous, ok := ix.objects[key]
	if !ok {
		return Change{}
	}
	delete(ix.objects, key)
	for _, address := range previous.macs {
		ix.removeHolder(address, key)
	}
	return ix.reevaluate(previous.macs)
}

// Collisions returns every MAC in collision with the sorted keys involved.
// The result is a copy the caller may keep.
func (ix *Index) Collisions() map[string][]string {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	collisions := make(map[string][]string, len(ix.colliding))
	for address, keys := range ix.colliding {
		collisions[address] = slices.Clone(keys)
	}
	return collisions
}

// Counts returns, for every MAC in collision, the number of objects
// involved: the input metrics.Metrics.SetCollisions expects.
func (ix *Index) Counts() map[string]int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	counts := make(map[string]int, len(ix.colliding))
	for address, keys := range ix.colliding {
		counts[address] = len(keys)
	}
	return counts
}

// Len returns the number of objects tracked (those with at least one MAC).
func (ix *Index) Len() int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return len(ix.objects)
}

func (ix *Index) addHolder(address, key string) {
	keys := ix.holders[address]
	if i, found := slices.BinarySearch(keys, key); !found {
		ix.holders[address] = slices.Insert(keys, i, key)
	}
}

func (ix *Index) removeHolder(address, key string) {
	keys := ix.holders[address]
	i, found := slices.BinarySearch(keys, key)
	if !found {
		return
	}
	keys = slices.Delete(keys, i, i+1)
	if len(keys) == 0 {
		// Drop the entry so memory tracks live MACs, not every MAC ever seen.
		delete(ix.holders, address)
		return
	}
	ix.holders[address] = keys
}

// reevaluate recomputes the collision of each MAC in addresses (sorted) and
// records what changed.
func (ix *Index) reevaluate(addresses []string) Change {
	var change Change
	for _, address := range addresses {
		before := ix.colliding[address]
		after := ix.participants(address)
		change.record(address, before, after)
		if after == nil {
			delete(ix.colliding, address)
		} else {
			ix.colliding[address] = after
		}
	}
	return change
}

// participants returns the sorted holders of address that collide with at
// least one other holder, or nil if there is no collision. Holders on
// different networks do not collide, so a holder on net1 and one on net2
// are both left out unless a third meets either. A holder
// exempted from some holders (its migration peer) still participates if it
// conflicts with any other, so a third object on a migrating VMI's MAC
// collides with both halves. The check is quadratic in the holders of one
// MAC, which are one or two outside of collisions.
func (ix *Index) participants(address string) []string {
	keys := ix.holders[address]
	if len(keys) < 2 {
		return nil
	}
	var involved []string
	for i, key := range keys {
		for j, other := range keys {
			if i != j && !ix.migrationPeers(key, other) && Meet(ix.objects[key].networks[address], ix.objects[other].networks[address]) {
				involved = append(involved, key)
				break
			}
		}
	}
	return involved
}

// migrationPeers reports whether a and b are the source and target VMIs of
// one live migration, which legitimately run with the same MACs.
func (ix *Index) migrationPeers(a, b string) bool {
	if !isVMI(a) || !isVMI(b) {
		return false
	}
	ids := ix.objects[b].migrationIDs
	for _, id := range ix.objects[a].migrationIDs {
		if slices.Contains(ids, id) {
			return true
		}
	}
	return false
}

func nonEmptyUnique(ids []string) []string {
	set := map[string]struct{}{}
	for _, id := range ids {
		if id != "" {
			set[id] = struct{}{}
		}
	}
	if len(set) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(set))
}

// mergeSorted returns the sorted union of two sorted, unique slices.
func mergeSorted(a, b []string) []string {
	merged := make([]string, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		switch {
		case a[0] < b[0]:
			merged, a = append(merged, a[0]), a[1:]
		case a[0] > b[0]:
			merged, b = append(merged, b[0]), b[1:]
		default:
			merged, a, b = append(merged, a[0]), a[1:], b[1:]
		}
	}
	merged = append(merged, a...)
	return append(merged, b...)
}
