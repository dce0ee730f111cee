//go:build linux

package evidence

import (
	"os"
	"syscall"
	"time"
)

// ctimeOf is the inode change time. Nobody can set it: an edit whose mtime
// was put back (touch -d) still moves it, so a fast re-check that compares
// it cannot be fooled that way.
func ctimeOf(fi os.FileInfo) time.Time {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return time.Time{}
	}
	return time.Unix(st.Ctim.Sec, st.Ctim.Nsec).UTC()
}

// allocated is how many bytes the file holds on disk: a sparse file's
// holes are not counted.
func allocated(fi os.FileInfo) int64 {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fi.Size()
	}
	return st.Blocks * 512
}
