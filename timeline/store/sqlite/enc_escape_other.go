//go:build !amd64 || purego

package sqlite

// firstEscape returns the index of the first byte of s that appendString
// does not copy as it is, or len(s) when there is none; s is at least 16
// bytes long (see enc_escape_amd64.go).
func firstEscape(s string) int {
	return firstEscapeWords(s)
}
