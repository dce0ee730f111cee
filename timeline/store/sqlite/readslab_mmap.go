//go:build unix

package sqlite

import "syscall"

// mapSlab maps n bytes of anonymous memory, outside the Go heap; where the
// system refuses, the heap's.
func mapSlab(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n)
	}
	return b
}

// unmapSlab gives back a slab of mapSlab (a heap slab is left to the
// collector: munmap refuses it, as memory it did not map).
func unmapSlab(b []byte) { _ = syscall.Munmap(b) }
