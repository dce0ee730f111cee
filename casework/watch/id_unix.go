//go:build unix

package watch

import (
	"os"
	"syscall"
)

// fileID returns the device and inode of a file: what stays with a file
// when it is renamed, and changes when a new file takes its name.
func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino) //nolint:unconvert // Dev is int32 on some platforms
	}
	return 0, 0
}
