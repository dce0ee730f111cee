//go:build !linux

package evidence

import "os"

// openEvidence opens evidence read-only; only Linux has O_NOATIME.
func openEvidence(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY, 0)
}
