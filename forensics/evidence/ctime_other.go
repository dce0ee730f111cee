//go:build !linux

package evidence

import (
	"os"
	"time"
)

// ctimeOf: not read on this OS; the fast re-check then compares size and
// mtime only.
func ctimeOf(os.FileInfo) time.Time { return time.Time{} }

// allocated is the file's size: holes are not told apart on this OS.
func allocated(fi os.FileInfo) int64 { return fi.Size() }
