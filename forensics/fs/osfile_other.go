//go:build !linux && !darwin && !windows

package fs

import "os"

// fileTimes: only the modification time is portable.
func fileTimes(_ string, fi os.FileInfo) (Times, string) {
	return Times{Modified: fi.ModTime().UTC()}, ""
}
