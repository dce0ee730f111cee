package fs_test

import (
	"os"
	"syscall"
	"time"
)

func atime(fi os.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Atim.Unix())
	}
	return time.Time{}
}

func mkfifo(p string) bool { return syscall.Mkfifo(p, 0o600) == nil }
