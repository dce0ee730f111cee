//go:build !linux && !darwin && !windows

package fs

import "os"

func openReadOnly(name string) (*os.File, error) { return os.Open(name) }

// fileTimes: only the modification time is portable.
func fileTimes(_ string, fi os.FileInfo) (Times, string) {
	return Times{Modified: fi.ModTime().UTC()}, ""
}
