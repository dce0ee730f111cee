package image

// VHDX log replay ([MS-VHDX] 2.3), in memory: the writes of the active log
// sequence are laid over the file as 4 KiB pages, and the region table,
// metadata and BAT are read through that overlay. The file itself is never
// written: evidence stays as it was handed over.

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

const (
	vhdxLogPage      = 4 << 10
	vhdxMaxLog       = 64 << 20 // logs are 1 MiB by default
	vhdxMaxZeroPages = 1 << 18  // 1 GiB of zero descriptors
)

// vhdxOverlay is the file as it is once the log is replayed.
type vhdxOverlay struct {
	r     io.ReaderAt
	size  int64            // file size after replay
	pages map[int64][]byte // 4 KiB-aligned file offset -> page (nil: zeros)
}

func (o *vhdxOverlay) ReadAt(p []byte, off int64) (int, error) {
	p, eof := clip(p, off, o.size)
	if len(p) == 0 {
		return 0, eof
	}
	n, err := o.r.ReadAt(p, off)
	if n < len(p) {
		if err != nil && err != io.EOF {
			return n, err
		}
		// Past the file's end but within LastFileOffset: the replay
		// would have extended the file with zeros.
		clear(p[n:])
	}
	for pg := off &^ (vhdxLogPage - 1); pg < off+int64(len(p)); pg += vhdxLogPage {
		d, ok := o.pages[pg]
		if !ok {
			continue
		}
		lo, hi := max(pg, off), min(pg+vhdxLogPage, off+int64(len(p)))
		if d == nil {
			clear(p[lo-off : hi-off])
		} else {
			copy(p[lo-off:hi-off], d[lo-pg:hi-pg])
		}
	}
	return len(p), eof
}

// vhdxEntry is a valid log entry.
type vhdxEntry struct {
	off, length, tail int64
	seq               uint64
	flushed, last     int64
	writes            []vhdxLogWrite
}

type vhdxLogWrite struct {
	off  int64
	data []byte // nil: zeros
	n    int64  // bytes (zero descriptors may span many pages)
}

// replayVHDXLog finds the active sequence of the log named by hdr and
// returns the file with it applied; notes say what was replayed.
func replayVHDXLog(r io.ReaderAt, fileSize int64, hdr []byte, path string) (*vhdxOverlay, []string, []string, error) {
	le := binary.LittleEndian
	guid := hdr[48:64]
	logLen, logOff := int64(le.Uint32(hdr[68:])), int64(le.Uint64(hdr[72:]))
	if v := le.Uint16(hdr[64:]); v != 0 {
		return nil, nil, nil, fmt.Errorf("%w: %w", &UnsupportedError{Path: path, Variant: fmt.Sprintf("VHDX log version %d", v)}, ErrVHDXDirtyLog)
	}
	if logLen <= 0 || logLen%(1<<20) != 0 || logLen > vhdxMaxLog || logOff < 1<<20 || logOff+logLen > fileSize {
		return nil, nil, nil, fmt.Errorf("%w: %w", &UnsupportedError{Path: path, Variant: fmt.Sprintf("VHDX log of %d bytes at offset %d", logLen, logOff)}, ErrVHDXDirtyLog)
	}
	ring := make([]byte, logLen)
	if _, err := r.ReadAt(ring, logOff); err != nil {
		return nil, nil, nil, fmt.Errorf("vhdx: %s: log at offset %d: %v: %w", path, logOff, err, ErrVHDXDirtyLog)
	}
	// at copies n bytes of the ring from off, wrapping at its end.
	at := func(off, n int64) []byte {
		b := make([]byte, n)
		for i := int64(0); i < n; {
			o := (off + i) % logLen
			i += int64(copy(b[i:], ring[o:min(logLen, o+n-i)]))
		}
		return b
	}
	entry := func(off int64) *vhdxEntry {
		h := at(off, vhdxLogPage)
		length := int64(le.Uint32(h[8:]))
		if string(h[:4]) != "loge" || length < vhdxLogPage || length%vhdxLogPage != 0 || length > logLen ||
			string(h[32:48]) != string(guid) {
			return nil
		}
		e := &vhdxEntry{off: off, length: length, tail: int64(le.Uint32(h[12:])), seq: le.Uint64(h[16:]),
			flushed: int64(le.Uint64(h[48:])), last: int64(le.Uint64(h[56:]))}
		count := int64(le.Uint32(h[24:]))
		if e.seq == 0 || e.tail%vhdxLogPage != 0 || e.tail >= logLen || count > length/32 {
			return nil
		}
		b := at(off, length)
		sum := le.Uint32(b[4:])
		le.PutUint32(b[4:], 0)
		if crc32.Checksum(b, crc32c) != sum {
			return nil
		}
		descSectors := int64(1)
		if count > 126 {
			descSectors += (count - 126 + 127) / 128
		}
		data := descSectors
		for i := range count {
			var d []byte
			if i < 126 {
				d = b[64+32*i:]
			} else {
				d = b[vhdxLogPage*(1+(i-126)/128)+32*((i-126)%128):]
			}
			fo := int64(le.Uint64(d[16:]))
			if le.Uint64(d[24:]) != e.seq || fo%vhdxLogPage != 0 || fo < 0 {
				return nil
			}
			switch string(d[:4]) {
			case "zero":
				n := int64(le.Uint64(d[8:]))
				if n%vhdxLogPage != 0 || n < 0 || n/vhdxLogPage > vhdxMaxZeroPages {
					return nil
				}
				e.writes = append(e.writes, vhdxLogWrite{off: fo, n: n})
			case "desc":
				if (data+1)*vhdxLogPage > length {
					return nil
				}
				s := b[data*vhdxLogPage : (data+1)*vhdxLogPage]
				data++
				if string(s[:4]) != "data" || uint64(le.Uint32(s[4:]))<<32|uint64(le.Uint32(s[4092:])) != e.seq {
					return nil
				}
				page := make([]byte, vhdxLogPage)
				copy(page, d[8:16]) // leading bytes
				copy(page[8:], s[8:4092])
				copy(page[4092:], d[4:8]) // trailing bytes
				e.writes = append(e.writes, vhdxLogWrite{off: fo, data: page, n: vhdxLogPage})
			default:
				return nil
			}
		}
		return e
	}

	// The active sequence, as [MS-VHDX] 2.3.3 finds it.
	var active []*vhdxEntry
	var activeSeq uint64
	var cur, old int64
	for {
		var seq []*vhdxEntry
		head := cur
		for len(seq) < int(logLen/vhdxLogPage) {
			e := entry(head)
			if e == nil || (len(seq) > 0 && e.seq != seq[len(seq)-1].seq+1) {
				break
			}
			seq = append(seq, e)
			head = (head + e.length) % logLen
		}
		valid := false
		if n := len(seq); n > 0 {
			for i, e := range seq {
				if e.off == seq[n-1].tail {
					valid = true
					if seq[n-1].seq > activeSeq {
						active, activeSeq = seq[i:], seq[n-1].seq
					}
					break
				}
			}
		}
		if !valid {
			cur += vhdxLogPage
			if cur == logLen {
				cur = 0
			}
		} else {
			cur = head
		}
		if cur <= old {
			break // the whole ring scanned
		}
		old = cur
	}
	o := &vhdxOverlay{r: r, size: fileSize, pages: map[int64][]byte{}}
	base := fmt.Sprintf("vhdx: %s: ", path)
	if len(active) == 0 {
		// [MS-VHDX] calls the file corrupt; qemu and libvhdi open it as
		// it is, and so does this reader, saying so.
		return o, nil, []string{base + "the header names a log (LogGuid " + guidString([16]byte(guid), true) + ") but the log holds no valid entry for it: nothing replayed"}, nil
	}
	headEntry := active[len(active)-1]
	var warns []string
	if fileSize < headEntry.flushed {
		warns = append(warns, fmt.Sprintf("%sthe file is %d bytes, shorter than the %d the log recorded as flushed: it was truncated", base, fileSize, headEntry.flushed))
	}
	pages := 0
	for _, e := range active {
		for _, w := range e.writes {
			for p := int64(0); p < w.n; p += vhdxLogPage {
				if w.data == nil {
					o.pages[w.off+p] = nil
				} else {
					o.pages[w.off+p] = w.data
				}
				pages++
			}
			o.size = max(o.size, w.off+w.n)
		}
	}
	o.size = max(o.size, headEntry.last)
	notes := []string{fmt.Sprintf("%sdirty log replayed in memory: %d entries (sequence %d-%d), %d pages of 4 KiB laid over the file, which is not written",
		base, len(active), active[0].seq, headEntry.seq, pages)}
	return o, notes, warns, nil
}
