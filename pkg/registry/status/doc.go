// Package status serves the /status subresource of a resource from a copy of
// the resource's generic store that carries the status update strategy.
package status
