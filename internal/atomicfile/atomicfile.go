// Package atomicfile writes files so that a reader, or a crash, sees the old
// file or the new one and never half of either: the one writer the case
// folder (custody, registry) and the exports (timeline, report, manifests)
// share.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write writes what fn writes to path through a temporary file in the same
// folder (rename is atomic only within one file system), synced, renamed
// into place only when fn succeeded, and the folder synced so the rename
// survives a crash. The file gets mode perm. A failed write leaves no file
// and its error names path, never the temporary file.
func Write(path string, perm os.FileMode, fn func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if _, serr := os.Stat(dir); serr != nil {
			return fmt.Errorf("write %s: folder %s: %w", path, dir, err)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := fn(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// CreateTemp makes 0600 files.
	if err := os.Chmod(tmp, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	syncDir(dir)
	return nil
}

// WriteFile is Write of a byte slice.
func WriteFile(path string, b []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// syncDir makes a rename durable. Some platforms cannot fsync a folder;
// the rename has happened anyway, so that is not an error.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
