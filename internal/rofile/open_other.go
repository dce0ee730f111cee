//go:build !linux

package rofile

import "os"

// open: only Linux has O_NOATIME. The type is checked by Lstat before the
// open, so a FIFO is refused unless it is swapped in at that very moment.
func open(path string, dir bool) (*os.File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := Check(path, fi.Mode()); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if fi, err = f.Stat(); err != nil || (dir && !fi.IsDir()) {
		f.Close()
		if err == nil {
			err = &os.PathError{Op: "open", Path: path, Err: os.ErrInvalid}
		}
		return nil, err
	}
	if err := Check(path, fi.Mode()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
