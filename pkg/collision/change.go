package collision

import "slices"

// Transition is what happened to one MAC's collision.
type Transition struct {
	// MAC is in canonical colon form.
	MAC string
	// Keys are the sorted objects colliding on MAC after the change; nil
	// when the collision was resolved.
	Keys []string
	// Previous are the sorted objects that collided on MAC before the
	// change; nil when the collision just started.
	Previous []string
}

// Change lists the MACs whose collision state an Update or Remove altered,
// each sorted by MAC. The caller emits events and updates metrics only for
// these, rather than re-reporting every collision on every object update.
type Change struct {
	// Started are MACs that were not colliding and now are.
	Started []Transition
	// Changed are MACs still colliding but between a different set of
	// objects (a third holder joined, or one of three left).
	Changed []Transition
	// Resolved are MACs that no longer collide.
	Resolved []Transition
}

// Empty reports whether nothing changed.
func (c Change) Empty() bool {
	return len(c.Started) == 0 && len(c.Changed) == 0 && len(c.Resolved) == 0
}

// record classifies the move of address from before to after (both sorted
// participant lists, nil meaning "not colliding") and appends it to c.
func (c *Change) record(address string, before, after []string) {
	switch {
	case before == nil && after == nil:
	case before == nil:
		c.Started = append(c.Started, Transition{MAC: address, Keys: slices.Clone(after)})
	case after == nil:
		c.Resolved = append(c.Resolved, Transition{MAC: address, Previous: slices.Clone(before)})
	case !slices.Equal(before, after):
		c.Changed = append(c.Changed, Transition{MAC: address, Keys: slices.Clone(after), Previous: slices.Clone(before)})
	}
}
