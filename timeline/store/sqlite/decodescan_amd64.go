//go:build !purego

package sqlite

// plainEnd16 is plainEnd for j+16 <= len(b): 16 bytes at a time with SSE2
// (part of amd64's baseline), the last ones by checking b's last 16
// bytes again.
//
//go:noescape
func plainEnd16(b []byte, j int) int
