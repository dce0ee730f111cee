//go:build race

package slab

// raceEnabled: under the race detector sync.Pool drops a quarter of what it
// is given, so reuse is not counted on.
const raceEnabled = true
