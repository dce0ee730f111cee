package ntfs

import (
	"context"
	"io"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// SetParentCache sets the parent cache size of the Tables made after it
// and returns a function restoring the previous size.
func SetParentCache(n int) (restore func()) {
	old := parentCache
	parentCache = n
	return func() { parentCache = old }
}

// ResidentStreams calls fn with every resident $DATA stream of the volume
// w reads: the bytes the walker serves from the scanned record, and the
// bytes go-ntfs reads for the same stream.
func ResidentStreams(t interface{ Fatal(...any) }, w *Walker, fn func(entry uint64, name string, ours, gontfs []byte)) {
	tab := NewTable(w.mft, w.size, w.rsize)
	err := tab.Scan(context.Background(), func(r *Record, _ int64) error {
		for _, s := range r.Streams {
			if s.Type != AttrData || !s.Resident || s.StartVCN != 0 {
				continue
			}
			e := w.entry(r, s, layerPrefix+"x", new(jfs.Hold))
			ra, ok, err := e.ReaderAt()
			if !ok {
				return err
			}
			ours, err := io.ReadAll(io.NewSectionReader(ra, 0, s.Size))
			if err != nil {
				return err
			}
			gra, err := w.stream(int64(r.Entry), s.Name, s.Size)
			if err != nil {
				return err
			}
			theirs, err := io.ReadAll(io.NewSectionReader(gra, 0, s.Size))
			if err != nil {
				return err
			}
			fn(r.Entry, s.Name, ours, theirs)
		}
		return nil
	}, func(uint64, int64, error) {})
	if err != nil {
		t.Fatal(err)
	}
}

// MFTMap maps the $MFT whose record 0 lies at byte mft0 of vol (clusters
// of cluster bytes) through its run lists, as New does for a $MFT with an
// $ATTRIBUTE_LIST: its reader (nil when record 0 cannot be used), its
// size, and what of it could not be mapped.
func MFTMap(vol io.ReaderAt, cluster, mft0 int64, recSize int) (io.ReaderAt, int64, error) {
	t := &Table{vol: vol, cluster: cluster}
	m, err := newMFTMap(vol, cluster, mft0, recSize, t.list)
	if m == nil {
		return nil, 0, err
	}
	return m, m.size, err
}
