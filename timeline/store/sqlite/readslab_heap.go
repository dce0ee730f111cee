//go:build !unix

package sqlite

// mapSlab is the heap's memory where anonymous maps are not offered.
func mapSlab(n int) []byte { return make([]byte, n) }

// unmapSlab leaves a heap slab to the collector.
func unmapSlab([]byte) {}
