//go:build linux

package fs

import (
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// fileTimes reads MACB and the inode number from an lstat result; the
// birth time comes from statx, which os.Lstat does not ask for.
func fileTimes(name string, fi os.FileInfo) (Times, string) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Times{Modified: fi.ModTime().UTC()}, ""
	}
	t := Times{
		Modified: tsTime(st.Mtim),
		Accessed: tsTime(st.Atim),
		Changed:  tsTime(st.Ctim),
	}
	var stx unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, name, unix.AT_SYMLINK_NOFOLLOW|unix.AT_STATX_DONT_SYNC, unix.STATX_BTIME, &stx) == nil &&
		stx.Mask&unix.STATX_BTIME != 0 {
		t.Born = tsTime(syscall.Timespec{Sec: stx.Btime.Sec, Nsec: int64(stx.Btime.Nsec)})
	}
	return t, strconv.FormatUint(uint64(st.Ino), 10)
}

// tsTime reads a stat time; exactly 0 is a time the file system never set
// (an image built without creation times reports a birth time of 0), absent
// as the ext4 walker and fls treat it, not an event in 1970.
func tsTime(ts syscall.Timespec) time.Time {
	sec, nsec := ts.Unix()
	if sec == 0 && nsec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, nsec).UTC()
}
