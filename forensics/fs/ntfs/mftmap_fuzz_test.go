package ntfs_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
)

// chainVolume is a volume of 1 KiB clusters and 1 KiB records whose $MFT
// (clusters 0 to 7, with the records in place) is mapped in three extents,
// each by a record the extent before it maps: record 0 maps VCN 0-1 and
// its $ATTRIBUTE_LIST (resident) names record 1 for VCN 2-3 and record
// ext for VCN 4-7. With ext 3 the chain resolves; with ext 5 the record
// lies in the part it maps itself. Records 2 to 7 other than ext are base
// records carrying their number at byte 1000, to check the map reads each
// from its own cluster.
func chainVolume(ext uint64) []byte {
	const rs = 1024
	le := binary.LittleEndian
	vol := make([]byte, 8*rs)
	record := func(n uint64, base bool, attrs ...[]byte) {
		r := vol[n*rs : (n+1)*rs]
		copy(r, "FILE")
		le.PutUint16(r[4:], 48) // update sequence at 48, 3 entries
		le.PutUint16(r[6:], 3)
		le.PutUint16(r[16:], 1) // sequence
		le.PutUint16(r[20:], 56)
		le.PutUint16(r[22:], ntfs.FlagInUse)
		le.PutUint32(r[28:], rs)
		if !base {
			le.PutUint64(r[32:], 1<<48) // base: entry 0, sequence 1
		}
		le.PutUint32(r[44:], uint32(n))
		off := 56
		for _, a := range attrs {
			copy(r[off:], a)
			off += len(a)
		}
		le.PutUint32(r[off:], 0xFFFFFFFF)
		le.PutUint32(r[24:], uint32(off+8))
		le.PutUint64(r[1000:], n)
		// Fixups: the check value at each sector's end, the bytes it
		// replaces (zeros) in the update sequence.
		le.PutUint16(r[48:], 7)
		le.PutUint16(r[510:], 7)
		le.PutUint16(r[1022:], 7)
	}
	data := func(first, last uint64, lcn byte) []byte {
		a := make([]byte, 72)
		le.PutUint32(a, ntfs.AttrData)
		le.PutUint32(a[4:], 72)
		a[8] = 1
		le.PutUint64(a[16:], first)
		le.PutUint64(a[24:], last)
		le.PutUint16(a[32:], 64)
		if first == 0 {
			le.PutUint64(a[40:], 8*rs)
			le.PutUint64(a[48:], 8*rs)
			le.PutUint64(a[56:], 8*rs)
		}
		copy(a[64:], []byte{0x11, byte(last - first + 1), lcn, 0})
		return a
	}
	row := func(vcn, entry uint64) []byte {
		b := make([]byte, 32)
		le.PutUint32(b, ntfs.AttrData)
		le.PutUint16(b[4:], 32)
		b[7] = 26
		le.PutUint64(b[8:], vcn)
		le.PutUint64(b[16:], entry|1<<48)
		return b
	}
	rows := bytes.Join([][]byte{row(0, 0), row(2, 1), row(4, ext)}, nil)
	list := make([]byte, 24+len(rows))
	le.PutUint32(list, ntfs.AttrAttributeList)
	le.PutUint32(list[4:], uint32(len(list)))
	le.PutUint32(list[16:], uint32(len(rows)))
	le.PutUint16(list[20:], 24)
	copy(list[24:], rows)
	for n := uint64(2); n < 8; n++ {
		record(n, true)
	}
	record(0, true, list, data(0, 1, 0))
	record(1, false, data(2, 3, 2))
	record(ext, false, data(4, 7, 4))
	return vol
}

// TestMFTMapChain maps chainVolume's $MFT: through the chain, every
// record read from its own cluster; with the last extension record where
// only it could map itself, the part it maps reported and unreadable.
func TestMFTMapChain(t *testing.T) {
	for _, c := range []struct {
		name   string
		ext    uint64
		err    string
		mapped int // records readable
	}{
		{"chain", 3, "", 8},
		{"self-mapped", 5, "extension record 5 lies where no extent", 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			vol := chainVolume(c.ext)
			ra, size, err := ntfs.MFTMap(bytes.NewReader(vol), 1024, 0, 1024)
			if ra == nil || size != 8*1024 {
				t.Fatalf("map %v size %d: %v", ra, size, err)
			}
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Errorf("error %v, want %q", err, c.err)
			}
			for n := range 8 {
				b := make([]byte, 1024)
				got, err := ra.ReadAt(b, int64(n)*1024)
				if n < c.mapped {
					if err != nil && !errors.Is(err, io.EOF) || got != 1024 || !bytes.Equal(b, vol[n*1024:(n+1)*1024]) {
						t.Errorf("record %d: %d bytes, %v, or not the bytes of cluster %d", n, got, err, n)
					}
				} else if err == nil || errors.Is(err, io.EOF) {
					t.Errorf("record %d (unmapped) read without an error", n)
				}
			}
		})
	}
}

// FuzzMFTMap maps a fuzzed volume's $MFT from record 0 at its start: no
// panic, and reads of the stream return no more than asked, the whole of
// it when they return no error.
func FuzzMFTMap(f *testing.F) {
	f.Add(chainVolume(3))
	f.Add(chainVolume(5))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 1024 || len(b) > 64<<10 {
			return
		}
		ra, size, _ := ntfs.MFTMap(bytes.NewReader(b), 1024, 0, 1024)
		if ra == nil {
			return
		}
		p := make([]byte, 4096)
		for off := int64(0); off < min(size, 1<<20); off += int64(len(p)) {
			n, err := ra.ReadAt(p, off)
			if n > len(p) || err == nil && n != len(p) {
				t.Fatalf("read at %d: %d bytes, %v", off, n, err)
			}
		}
		if _, _, _, err := ntfs.DataExtents(bytes.Clone(b[:1024])); err != nil && !errors.Is(err, ntfs.ErrBadRecord) {
			t.Fatalf("DataExtents: %v", err)
		}
	})
}
