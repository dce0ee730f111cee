//go:build linux

package fs

import (
	"errors"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// openReadOnly opens evidence without touching its access time when the
// kernel lets us (O_NOATIME needs the file's owner or CAP_FOWNER); otherwise
// it falls back to a plain read-only open, as a mount with noatime or ro
// would make moot anyway.
func openReadOnly(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOATIME, 0)
	if err != nil && (errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL)) {
		return os.OpenFile(name, os.O_RDONLY, 0)
	}
	return f, err
}

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
		t.Born = time.Unix(stx.Btime.Sec, int64(stx.Btime.Nsec)).UTC()
	}
	return t, strconv.FormatUint(uint64(st.Ino), 10)
}

func tsTime(ts syscall.Timespec) time.Time {
	sec, nsec := ts.Unix()
	return time.Unix(sec, nsec).UTC()
}
