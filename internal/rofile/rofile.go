// Package rofile opens evidence read-only, for every package that reads it
// straight from disk (the evidence registry, the image containers, the disk
// walker): without touching access times where the OS allows, and never
// blocking on something that is not a regular file or a folder.
//
// An access time is metadata of the evidence: an examiner who reads it must
// not change it. Linux has O_NOATIME, allowed to the file's owner or with
// CAP_FOWNER; elsewhere the open is plain (the mount's atime policy applies,
// which is why evidence should sit on a read-only or noatime mount).
//
// A FIFO opened for reading blocks until a writer appears, and a device may
// act on open (a tape rewinds): Open refuses both before and after opening,
// opening with O_NONBLOCK so that a path swapped for a FIFO between the
// check and the open cannot hang the caller.
package rofile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrNotRegular is the cause of a refusal of anything that is neither a
// regular file nor a folder: a FIFO, a socket, a device.
var ErrNotRegular = errors.New("not a regular file or folder")

// NotRegularError names the path refused and what it is.
type NotRegularError struct {
	Path string
	Type fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s: %v, so not evidence jejak reads (image or copy its content into a file first)", e.Path, typeName(e.Type), ErrNotRegular)
}

func (e *NotRegularError) Unwrap() error { return ErrNotRegular }

func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "of type " + m.Type().String()
}

// Check refuses a mode that is neither a regular file nor a folder.
func Check(path string, m fs.FileMode) error {
	if m.IsRegular() || m.IsDir() {
		return nil
	}
	return &NotRegularError{Path: path, Type: m.Type()}
}

// Open opens a regular file or a folder read-only, without updating its
// access time where the OS allows. Anything else is a *NotRegularError,
// and opening it never blocks.
func Open(path string) (*os.File, error) {
	return open(path, false)
}

// OpenDir is Open for a folder only (O_DIRECTORY where the OS has it).
func OpenDir(path string) (*os.File, error) {
	return open(path, true)
}

// ReadDir lists a folder like os.ReadDir (sorted by name) but opens it with
// OpenDir, so listing it leaves its access time alone.
func ReadDir(path string) ([]os.DirEntry, error) {
	d, err := OpenDir(path)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ents, err := d.ReadDir(-1)
	sortEntries(ents)
	return ents, err
}
