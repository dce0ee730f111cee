//go:build linux

package baseline

import (
	"os"
	"strconv"
	"syscall"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// ownerOf returns "uid:gid" of a file on the examiner's disk.
func ownerOf(p string) string {
	fi, err := os.Lstat(p)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return strconv.FormatUint(uint64(st.Uid), 10) + ":" + strconv.FormatUint(uint64(st.Gid), 10)
}

// statTimes returns M, A and C of a file (Linux's stat has no birth time;
// statx would, and is not worth a syscall per file here).
func statTimes(fi os.FileInfo) jfs.Times {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return jfs.Times{Modified: fi.ModTime()}
	}
	return jfs.Times{
		Modified: fi.ModTime(),
		Accessed: time.Unix(st.Atim.Sec, st.Atim.Nsec),
		Changed:  time.Unix(st.Ctim.Sec, st.Ctim.Nsec),
	}
}
