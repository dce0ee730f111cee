//go:build linux

package evidence

import (
	"errors"
	"os"
	"syscall"
)

// openEvidence opens evidence read-only without updating its access time,
// so registering evidence does not alter its metadata. O_NOATIME is allowed
// only to the file's owner or with CAP_FOWNER; otherwise fall back to a
// plain read-only open (the mount's atime policy then applies).
func openEvidence(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOATIME, 0)
	if errors.Is(err, syscall.EPERM) {
		return os.OpenFile(path, os.O_RDONLY, 0)
	}
	return f, err
}
