//go:build !linux

package baseline

import (
	"os"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

func ownerOf(string) string { return "" }

func statTimes(fi os.FileInfo) jfs.Times { return jfs.Times{Modified: fi.ModTime()} }
