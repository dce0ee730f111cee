package zonecheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/jejak-forensics/jejak/forensics/disk"
	"github.com/jejak-forensics/jejak/forensics/image"
	"github.com/jejak-forensics/jejak/forensics/volume"
	"github.com/jejak-forensics/jejak/internal/rofile"
	"github.com/jejak-forensics/jejak/parsers/registry"
	gontfs "www.velocidex.com/golang/go-ntfs/parser"
)

// SystemHivePath is where Windows keeps its SYSTEM hive, relative to the
// root of its system volume.
const SystemHivePath = "Windows/System32/config/SYSTEM"

// ErrNoSystemHive is returned by SystemZone when the evidence holds no
// SYSTEM hive where Windows keeps it.
var ErrNoSystemHive = errors.New("no Windows SYSTEM hive at " + SystemHivePath)

// HiveZone is the time zone a Windows machine's SYSTEM hive states, and
// where the hive was found.
type HiveZone struct {
	TimeZone registry.TimeZone
	// Where names the hive: the folder path, or the image with its
	// partition ("partition:2@1048576/Windows/System32/config/SYSTEM").
	Where string
}

// SystemZone finds the SYSTEM hive of the Windows installation an evidence
// item holds and reads its time zone. It looks the hive up by path only,
// never by a walk: in a disk image, each NTFS partition's
// Windows/System32/config/SYSTEM through go-ntfs's path lookup; in a
// folder, the same path matched case-insensitively under it. The first
// hive whose zone can be read wins. ErrNoSystemHive (wrapped) when there is
// none; another error when a hive was found but could not be read.
func SystemZone(ctx context.Context, path string) (HiveZone, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return HiveZone{}, err
	}
	if fi.IsDir() {
		return folderZone(path)
	}
	img, err := image.Open(path)
	if err != nil {
		return HiveZone{}, ErrNoSystemHive // a log, an archive: not an image
	}
	defer img.Close()
	if !disk.LooksLikeDisk(img, img.Size()) {
		return HiveZone{}, ErrNoSystemHive
	}
	sys, err := volume.Open(img, img.Size())
	if err != nil {
		return HiveZone{}, err
	}
	var firstErr error
	for _, p := range sys.Partitions {
		if err := ctx.Err(); err != nil {
			return HiveZone{}, err
		}
		if volume.Detect(p.Reader) != "ntfs" {
			continue
		}
		where := SystemHivePath
		if sys.Scheme != "none" {
			where = fmt.Sprintf("partition:%d@%d/%s", p.Index, p.Start, SystemHivePath)
		}
		tz, found, err := ntfsZone(p.Reader)
		if !found {
			continue
		}
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", where, err)
			}
			continue
		}
		return HiveZone{TimeZone: tz, Where: where}, nil
	}
	if firstErr != nil {
		return HiveZone{}, firstErr
	}
	return HiveZone{}, ErrNoSystemHive
}

// ntfsZone reads the zone of the SYSTEM hive of one NTFS volume. found is
// false when the volume has no such file (or cannot be opened as NTFS:
// the walk reports that).
func ntfsZone(r io.ReaderAt) (tz registry.TimeZone, found bool, err error) {
	defer func() {
		// go-ntfs indexes through generated accessors that can run past
		// a damaged buffer (see forensics/fs/ntfs).
		if p := recover(); p != nil {
			err = fmt.Errorf("ntfs: damaged volume: %v", p)
		}
	}()
	vol, err := gontfs.GetNTFSContext(r, 0)
	if err != nil {
		return tz, false, nil
	}
	defer vol.Close()
	data, err := gontfs.GetDataForPath(vol, SystemHivePath)
	if err != nil {
		return tz, false, nil
	}
	found = true
	tz, err = registry.ReadTimeZone(data, gontfs.RangeSize(data))
	return tz, found, err
}

// folderZone looks SystemHivePath up under root, each component matched
// case-insensitively (a copy of a Windows volume keeps Windows' spelling,
// which a case-sensitive file system then holds as it came).
func folderZone(root string) (HiveZone, error) {
	p := root
	for _, name := range strings.Split(SystemHivePath, "/") {
		ents, err := os.ReadDir(p)
		if err != nil {
			return HiveZone{}, ErrNoSystemHive
		}
		next := ""
		for _, e := range ents {
			if e.Name() == name {
				next = name
				break
			}
			if next == "" && strings.EqualFold(e.Name(), name) {
				next = e.Name()
			}
		}
		if next == "" {
			return HiveZone{}, ErrNoSystemHive
		}
		p = filepath.Join(p, next)
	}
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return HiveZone{}, ErrNoSystemHive
	}
	f, err := rofile.Open(p)
	if err != nil {
		return HiveZone{}, err
	}
	defer f.Close()
	rel, _ := filepath.Rel(root, p)
	tz, err := registry.ReadTimeZone(f, fi.Size())
	if err != nil {
		return HiveZone{}, fmt.Errorf("%s: %w", rel, err)
	}
	return HiveZone{TimeZone: tz, Where: filepath.ToSlash(rel)}, nil
}
