//go:build darwin

package fs

import (
	"os"
	"strconv"
	"syscall"
	"time"
)

func fileTimes(_ string, fi os.FileInfo) (Times, string) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Times{Modified: fi.ModTime().UTC()}, ""
	}
	return Times{
		Modified: tsTime(st.Mtimespec),
		Accessed: tsTime(st.Atimespec),
		Changed:  tsTime(st.Ctimespec),
		Born:     tsTime(st.Birthtimespec),
	}, strconv.FormatUint(st.Ino, 10)
}

func tsTime(ts syscall.Timespec) time.Time {
	sec, nsec := ts.Unix()
	return time.Unix(sec, nsec).UTC()
}
