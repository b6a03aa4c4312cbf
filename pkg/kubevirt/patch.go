package kubevirt

import (
	"encoding/json"
	"fmt"
	"sort"

	"kubemacpool.io/kubemacpool/pkg/mac"
)

// Assignments combines the plan with the MACs the pool gave: allocated[k]
// goes to NeedAllocation[k], and every Kept MAC is written back. The result
// is the input of Patch. It refuses a count mismatch, an allocated MAC that
// is not unicast, and one that collides with another allocated MAC or with
// any MAC the VirtualMachine already has (explicit or kept; the pool knows
// only leased MACs, not those of unmanaged interfaces). On error the caller
// should return the allocated MACs to the pool.
func (p *Plan) Assignments(allocated []string) (map[int]string, error) {
	if len(allocated) != len(p.NeedAllocation) {
		return nil, fmt.Errorf("got %d allocated MACs for %d interfaces", len(allocated), len(p.NeedAllocation))
	}
	assignments := make(map[int]string, len(p.Kept)+len(allocated))
	for _, kept := range p.Kept {
		assignments[kept.Index] = kept.MAC
	}
	taken := make(map[mac.Address]string, len(p.inUse)+len(allocated))
	for addr, i := range p.inUse {
		taken[addr] = p.names[i]
	}
	for k, text := range allocated {
		ref := p.NeedAllocation[k]
		addr, err := mac.ParseUnicast(text)
		if err != nil {
			return nil, fmt.Errorf("MAC allocated for interface %s: %w", ref.Name, err)
		}
		if other, dup := taken[addr]; dup {
			return nil, fmt.Errorf("MAC %s allocated for interface %s is already used by interface %s", addr, ref.Name, other)
		}
		taken[addr] = ref.Name
		assignments[ref.Index] = addr.String()
	}
	return assignments, nil
}

// patchOperation is one RFC 6902 operation. "add" on an object member
// replaces an existing value and creates a missing one, so it is right
// whether or not the request had a macAddress field.
type patchOperation struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value"`
}

// Patch returns a JSON patch that sets macAddress of the interfaces at the
// given indexes, in index order so the same input gives the same bytes, and
// touches nothing else. Values are written in canonical colon form; a value
// that is not a unicast MAC or a negative index is an error, since that
// would be a bug in the caller. An empty map gives nil: no patch at all.
func Patch(assignments map[int]string) ([]byte, error) {
	if len(assignments) == 0 {
		return nil, nil
	}
	indexes := make([]int, 0, len(assignments))
	for i := range assignments {
		if i < 0 {
			return nil, fmt.Errorf("negative interface index %d", i)
		}
		indexes = append(indexes, i)
	}
	sort.Ints(indexes)
	operations := make([]patchOperation, 0, len(indexes))
	for _, i := range indexes {
		addr, err := mac.ParseUnicast(assignments[i])
		if err != nil {
			return nil, fmt.Errorf("interface %d: %w", i, err)
		}
		operations = append(operations, patchOperation{
			Op:    "add",
			Path:  fmt.Sprintf("/spec/template/spec/domain/devices/interfaces/%d/macAddress", i),
			Value: addr.String(),
		})
	}
	return json.Marshal(operations)
}
