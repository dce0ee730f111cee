package ntfs

// SetParentCache sets the parent cache size of the Tables made after it
// and returns a function restoring the previous size.
func SetParentCache(n int) (restore func()) {
	old := parentCache
	parentCache = n
	return func() { parentCache = old }
}
