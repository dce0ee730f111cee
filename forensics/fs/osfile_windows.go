//go:build windows

package fs

import (
	"os"
	"syscall"
	"time"
)

func fileTimes(_ string, fi os.FileInfo) (Times, string) {
	d, ok := fi.Sys().(*syscall.Win32FileAttributeData)
	if !ok {
		return Times{Modified: fi.ModTime().UTC()}, ""
	}
	return Times{
		Modified: ftTime(d.LastWriteTime),
		Accessed: ftTime(d.LastAccessTime),
		Born:     ftTime(d.CreationTime),
	}, ""
}

func ftTime(ft syscall.Filetime) time.Time {
	if ft.HighDateTime == 0 && ft.LowDateTime == 0 {
		return time.Time{}
	}
	return time.Unix(0, ft.Nanoseconds()).UTC()
}
