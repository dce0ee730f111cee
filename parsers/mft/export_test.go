package mft

// SetWorkers makes the timeline use n workers (1: the serial scan on the
// caller's goroutine) whatever the number of cores, and returns a function
// restoring the default.
func SetWorkers(n int) (restore func()) {
	old := workers
	workers = func(uint64) int { return n }
	return func() { workers = old }
}

// SetChunk sets the entries of one parallel batch (a multiple of
// ntfs.ScanBatch outside tests) and returns a function restoring it.
func SetChunk(n uint64) (restore func()) {
	old := chunkEntries
	chunkEntries = n
	return func() { chunkEntries = old }
}
