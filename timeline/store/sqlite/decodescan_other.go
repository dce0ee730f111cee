//go:build !amd64 || purego

package sqlite

// plainEnd16 is plainEnd for j+16 <= len(b): plainEndWords elsewhere.
func plainEnd16(b []byte, j int) int {
	return plainEndWords(b, j)
}
