package evidence

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jejak-forensics/jejak/forensics/image"
)

// SegmentFile is one file of what ingest reads for a file item: the file
// itself and, for a disk image split into segments (image.001, image.002,
// ... or an E01, E02, ... set), each sibling segment. Each is hashed at
// registration, so every byte ingest reads is covered by a registered hash.
type SegmentFile struct {
	Path    string    `json:"path"` // absolute
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	SHA256  string    `json:"sha256"`
	Changed time.Time `json:"ctime,omitzero"` // inode change time, for the fast re-check
}

// imageSegments names the files ingest reads for the evidence file at abs,
// found the way the disk reader finds them (forensics/image): every
// segment of a split raw or EWF set, in order; the file alone otherwise,
// or when the set cannot be opened (ingest then reads the file alone, or
// fails on the EWF set).
//
// A numbered set is hashed whole even when its content turns out not to
// be a disk (ingest then reads the named file only): one hash too many
// costs time, one too few would let unregistered bytes in.
func imageSegments(abs string) []string {
	img, err := image.Open(abs)
	if err != nil {
		return []string{abs}
	}
	defer img.Close()
	segs := img.Info().Segments
	if len(segs) == 0 {
		return []string{abs}
	}
	return segs
}

// hashSegments hashes each file of the set abs belongs to: SHA-256 of
// each, and of abs itself the digests self names, returned apart (they are
// the item's identity).
func hashSegments(ctx context.Context, abs string, self hashSet, progress func(done, total int64)) ([]SegmentFile, Digests, os.FileInfo, error) {
	names := imageSegments(abs)
	var total int64
	for _, n := range names {
		fi, err := os.Stat(n)
		if err != nil {
			return nil, Digests{}, nil, err
		}
		total += fi.Size()
	}
	buf := make([]byte, hashBufSize)
	var (
		segs  []SegmentFile
		selfd Digests
		selfi os.FileInfo
		done  int64
	)
	for _, n := range names {
		want := withSHA256
		if n == abs {
			want = self | withSHA256
		}
		d, fi, err := hashFile(ctx, n, buf, want, done, total, progress)
		if err != nil {
			return nil, Digests{}, nil, err
		}
		if n == abs {
			selfd, selfi = d, fi
		}
		segs = append(segs, SegmentFile{Path: n, Size: d.Size, ModTime: fi.ModTime().UTC(), SHA256: d.SHA256, Changed: ctimeOf(fi)})
		done += d.Size
	}
	if selfi == nil {
		return nil, Digests{}, nil, fmt.Errorf("%s is not among the segments of its own set %v", abs, names)
	}
	// A segment added or removed while the set was hashed: the hashes
	// describe no single state of the set.
	if again := imageSegments(abs); !sameNames(names, again) {
		return nil, Digests{}, nil, &ChangedDuringHashError{Path: abs,
			Before: fmt.Sprintf("%d segments", len(names)), After: fmt.Sprintf("%d segments", len(again))}
	}
	return segs, selfd, selfi, nil
}

func sameNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// segmentsOf is what was registered for a file item: its segments, or for
// an item registered by a jejak that hashed the named file only (legacy,
// no segment list), that file alone.
func segmentsOf(it *Item) (segs []SegmentFile, legacy bool) {
	if len(it.Segments) > 0 {
		return it.Segments, false
	}
	return []SegmentFile{{Path: it.Path, Size: it.Size, ModTime: it.ModTime, SHA256: it.SHA256}}, true
}

// sameSegments reports the first registered segment whose hash differs
// from a fresh hashing, or a segment present on one side only.
func sameSegments(path string, was, now []SegmentFile) error {
	have := map[string]SegmentFile{}
	for _, s := range now {
		have[s.Path] = s
	}
	for _, w := range was {
		g, ok := have[w.Path]
		switch {
		case !ok:
			return &ChangedError{Path: path, File: w.Path, What: "segment", Registered: "present (sha256 " + w.SHA256 + ")", Current: "not part of the set"}
		case g.SHA256 != w.SHA256:
			return &ChangedError{Path: path, File: w.Path, What: "sha256", Registered: w.SHA256, Current: g.SHA256}
		case !g.ModTime.Equal(w.ModTime):
			return &ChangedError{Path: path, File: w.Path, What: "mtime", Registered: w.ModTime.Format(time.RFC3339Nano), Current: g.ModTime.Format(time.RFC3339Nano)}
		}
		delete(have, w.Path)
	}
	for _, s := range now {
		if _, extra := have[s.Path]; extra {
			return &ChangedError{Path: path, File: s.Path, What: "segment", Registered: "absent", Current: "present (sha256 " + s.SHA256 + ")"}
		}
	}
	return nil
}
