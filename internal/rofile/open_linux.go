//go:build linux

package rofile

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

func open(path string, dir bool) (*os.File, error) {
	// O_NONBLOCK: a FIFO opens at once instead of waiting for a writer;
	// it is refused below by fstat. Regular files ignore the flag, which
	// is cleared anyway before the descriptor is handed to os.File.
	flags := unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY
	if dir {
		flags |= unix.O_DIRECTORY
	}
	// Refuse by stat first, so that a device is never opened at all (a
	// tape rewinds on open) and a socket gets a clear refusal, not ENXIO.
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFREG && t != unix.S_IFDIR {
		return nil, &NotRegularError{Path: path, Type: modeType(t)}
	}
	fd, err := openRetry(path, flags|unix.O_NOATIME)
	if errors.Is(err, unix.EPERM) {
		// O_NOATIME is for the owner or CAP_FOWNER only: fall back
		// silently, the mount's atime policy then applies.
		fd, err = openRetry(path, flags)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	// fstat again on what was opened: the path may have been swapped.
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFREG && t != unix.S_IFDIR {
		unix.Close(fd)
		return nil, &NotRegularError{Path: path, Type: modeType(t)}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "fcntl", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

func openRetry(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func modeType(t uint32) os.FileMode {
	switch t {
	case unix.S_IFIFO:
		return os.ModeNamedPipe
	case unix.S_IFSOCK:
		return os.ModeSocket
	case unix.S_IFCHR:
		return os.ModeDevice | os.ModeCharDevice
	case unix.S_IFBLK:
		return os.ModeDevice
	case unix.S_IFLNK:
		return os.ModeSymlink
	}
	return os.ModeIrregular
}
