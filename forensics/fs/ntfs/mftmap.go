package ntfs

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
)

// Extent is one $DATA attribute of a non-resident stream: the clusters of
// VCNs First to Last (included). A stream in many fragments is split over
// several such attributes, one per record, that its $ATTRIBUTE_LIST names.
type Extent struct {
	First, Last uint64
	Runs        []Run
}

// DataExtents returns the unnamed non-resident $DATA attributes of rec, a
// record decoded in place by ParseRecord (fixups undone), in record order,
// with the real and initialized sizes the extent of VCN 0 gives (0 when rec
// holds no such extent). Only the $MFT's map needs this: ParseRecord keeps
// no run list, so that the scan of every record stays cheap.
func DataExtents(rec []byte) (ext []Extent, size, initSize int64, err error) {
	le := binary.LittleEndian
	if len(rec) < 48 {
		return nil, 0, 0, fmt.Errorf("%w: %d bytes", ErrBadRecord, len(rec))
	}
	used := int(le.Uint32(rec[24:]))
	if used > len(rec) || used < 48 {
		used = len(rec)
	}
	off := int(le.Uint16(rec[20:]))
	for n := 0; off+16 <= used && n < 512; n++ {
		typ, alen := le.Uint32(rec[off:]), int(le.Uint32(rec[off+4:]))
		if typ == attrEnd {
			break
		}
		if alen < 16 || off+alen > used {
			return ext, size, initSize, fmt.Errorf("%w: attribute 0x%x at %d has length %d", ErrBadRecord, typ, off, alen)
		}
		a := rec[off : off+alen]
		if typ == AttrData && a[8] != 0 && a[9] == 0 {
			if len(a) < 64 {
				return ext, size, initSize, fmt.Errorf("%w: $DATA at %d too short", ErrBadRecord, off)
			}
			ro := int(le.Uint16(a[32:]))
			if ro < 64 || ro > len(a) {
				return ext, size, initSize, fmt.Errorf("%w: $DATA at %d: mapping pairs at %d", ErrBadRecord, off, ro)
			}
			e := Extent{First: le.Uint64(a[16:]), Last: le.Uint64(a[24:])}
			if e.Runs, err = DecodeRuns(a[ro:]); err != nil {
				return ext, size, initSize, fmt.Errorf("%w: $DATA at %d (VCN %d): %v", ErrBadRecord, off, e.First, err)
			}
			if e.First == 0 {
				size, initSize = int64(le.Uint64(a[48:])), int64(le.Uint64(a[56:]))
			}
			ext = append(ext, e)
		}
		off += alen
	}
	return ext, size, initSize, nil
}

// mftMap is the $MFT as the volume holds it, read through its own run
// lists: those of record 0 and of the extension records that record 0's
// $ATTRIBUTE_LIST names, wherever in the $MFT they lie. go-ntfs reads the
// extension records of the $MFT through record 0's extent alone: one that
// lies past it (Windows puts them in any free record of a $MFT grown in
// many fragments) is not read, and the records it maps were read from the
// wrong clusters: the files in them were lost, reported as torn records
// (TestFragmentedMFT).
type mftMap struct {
	vol     io.ReaderAt
	cluster int64
	size    int64 // real size of the stream
	init    int64 // initialized size: the bytes past it read as zeros
	runs    []vrun
}

// vrun is a run placed in the stream: VCN, cluster (-1 sparse), length.
type vrun struct {
	vcn, lcn, n int64
}

// maxMFTExtents bounds the extension records followed for the $MFT.
const maxMFTExtents = 4096

// newMFTMap reads record 0 (recSize bytes at byte mft0 of vol, as the boot
// sector places it) and the extension records its $ATTRIBUTE_LIST names
// for $DATA, each once its place in the $MFT is mapped by the extents read
// before it. The map comes back with every extent it could place; err
// names what it could not (an extension record unreadable, or lying where
// no extent read maps it; a gap between extents): the records there are
// reported by the scan as unreadable, not taken for empty slots.
func newMFTMap(vol io.ReaderAt, cluster int64, mft0 int64, recSize int, list func(*Record) ([]ListEntry, error)) (*mftMap, error) {
	m := &mftMap{vol: vol, cluster: cluster}
	buf := make([]byte, recSize)
	if _, err := vol.ReadAt(buf, mft0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read $MFT record 0: %w", err)
	}
	rec, err := ParseRecord(buf, 0)
	if rec == nil {
		return nil, fmt.Errorf("$MFT record 0: %w", err)
	}
	ext, size, init, err := DataExtents(buf)
	if err != nil {
		return nil, fmt.Errorf("$MFT record 0: %w", err)
	}
	if size <= 0 {
		return nil, errors.New("$MFT record 0 holds no first extent of its $DATA")
	}
	m.size, m.init = size, min(init, size)
	var problems []error
	m.add(ext)
	if rec.List == nil && !rec.ListNonResident {
		return m, m.check(nil)
	}
	rows, err := list(rec)
	if err != nil {
		problems = append(problems, fmt.Errorf("$MFT's $ATTRIBUTE_LIST: %w", err))
	}
	pending := map[uint64]bool{}
	for _, le := range rows {
		if le.Type != AttrData || le.Entry == 0 || pending[le.Entry] {
			continue
		}
		if len(pending) == maxMFTExtents {
			problems = append(problems, fmt.Errorf("$MFT's $ATTRIBUTE_LIST names more than %d extension records for its $DATA: the rest are not read", maxMFTExtents))
			break
		}
		pending[le.Entry] = true
	}
	// Each round reads the extension records that the extents known so
	// far map: an extent may map the record of the next one.
	for progress := true; progress && len(pending) > 0; {
		progress = false
		var found []Extent
		for _, entry := range slices.Sorted(maps.Keys(pending)) {
			if !m.mapped(int64(entry)*int64(recSize), int64(recSize)) {
				continue
			}
			delete(pending, entry)
			progress = true
			b := make([]byte, recSize)
			if _, err := m.ReadAt(b, int64(entry)*int64(recSize)); err != nil {
				problems = append(problems, fmt.Errorf("$MFT extension record %d: %w", entry, err))
				continue
			}
			r, err := ParseRecord(b, entry)
			if r == nil {
				problems = append(problems, fmt.Errorf("$MFT extension record %d: %w", entry, err))
				continue
			}
			// An extension record of the $MFT names entry 0 as its base:
			// the base reference is (0, record 0's sequence number), where
			// a base record's is all zeros.
			if r.BaseEntry != 0 || r.BaseSeq != rec.Seq {
				problems = append(problems, fmt.Errorf("$MFT's $ATTRIBUTE_LIST names record %d, whose base is entry %d-%d", entry, r.BaseEntry, r.BaseSeq))
				continue
			}
			ext, _, _, err := DataExtents(b)
			if err != nil {
				problems = append(problems, fmt.Errorf("$MFT extension record %d: %w", entry, err))
			}
			found = append(found, ext...)
		}
		m.add(found)
	}
	for _, entry := range slices.Sorted(maps.Keys(pending)) {
		problems = append(problems, fmt.Errorf("$MFT extension record %d lies where no extent of the $MFT read so far maps it", entry))
	}
	return m, m.check(problems)
}

// add places the runs of extents ext in the stream. A run that overlaps
// one placed before it (a list naming an extent twice, damage) is left
// out: the first word on a cluster of the $MFT is record 0's.
func (m *mftMap) add(ext []Extent) {
	for _, e := range ext {
		vcn := int64(e.First)
		for _, r := range e.Runs {
			if vcn < 0 || r.Length > (1<<62)/m.cluster-vcn {
				break // past any volume: the rest of the extent too
			}
			m.runs = append(m.runs, vrun{vcn: vcn, lcn: r.LCN, n: r.Length})
			vcn += r.Length
		}
	}
	// Stable: of two runs at one VCN the one placed first stays.
	slices.SortStableFunc(m.runs, func(a, b vrun) int { return cmp.Compare(a.vcn, b.vcn) })
	kept := m.runs[:0]
	var end int64
	for _, r := range m.runs {
		if len(kept) > 0 && r.vcn < end {
			continue
		}
		kept = append(kept, r)
		end = r.vcn + r.n
	}
	m.runs = kept
}

// check says what of the stream no run maps, joined to problems.
func (m *mftMap) check(problems []error) error {
	var at int64
	for _, r := range m.runs {
		if r.vcn > at {
			problems = append(problems, fmt.Errorf("$MFT bytes %d to %d are mapped by no extent", at*m.cluster, r.vcn*m.cluster))
		}
		at = max(at, r.vcn+r.n)
	}
	if at*m.cluster < m.size {
		problems = append(problems, fmt.Errorf("$MFT bytes %d to %d (of %d) are mapped by no extent", at*m.cluster, m.size, m.size))
	}
	return errors.Join(problems...)
}

// find returns the index of the run holding stream byte off, or -1.
func (m *mftMap) find(off int64) int {
	vcn := off / m.cluster
	i := sort.Search(len(m.runs), func(i int) bool { return m.runs[i].vcn+m.runs[i].n > vcn })
	if i < len(m.runs) && m.runs[i].vcn <= vcn {
		return i
	}
	return -1
}

// mapped says whether bytes off to off+n of the stream are all mapped.
func (m *mftMap) mapped(off, n int64) bool {
	for n > 0 {
		i := m.find(off)
		if i < 0 {
			return false
		}
		end := (m.runs[i].vcn + m.runs[i].n) * m.cluster
		n -= end - off
		off = end
	}
	return true
}

// errUnmapped: a part of the $MFT that no extent read maps.
var errUnmapped = errors.New("mapped by no extent of the $MFT's run lists")

// ReadAt reads the stream: past its initialized size as zeros, in a sparse
// run as zeros, in an unmapped part as an error.
func (m *mftMap) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("$MFT: negative offset %d", off)
	}
	if off >= m.size {
		return 0, io.EOF
	}
	var eof error
	if int64(len(p)) > m.size-off {
		p, eof = p[:m.size-off], io.EOF
	}
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if at >= m.init {
			clear(p[n:])
			return len(p), eof
		}
		i := m.find(at)
		if i < 0 {
			return n, fmt.Errorf("$MFT byte %d: %w", at, errUnmapped)
		}
		r := m.runs[i]
		end := min((r.vcn+r.n)*m.cluster, m.init, at+int64(len(p)-n))
		chunk := p[n : n+int(end-at)]
		if r.lcn < 0 {
			clear(chunk)
		} else {
			got, err := m.vol.ReadAt(chunk, r.lcn*m.cluster+at-r.vcn*m.cluster)
			if got < len(chunk) {
				if err == nil || errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return n + got, fmt.Errorf("$MFT byte %d (volume byte %d): %w", at, r.lcn*m.cluster+at-r.vcn*m.cluster, err)
			}
		}
		n += len(chunk)
	}
	return n, eof
}
