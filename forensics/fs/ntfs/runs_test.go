package ntfs_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
)

// TestDecodeRuns decodes mapping pairs as the NTFS documentation (and
// TSK's istat, which prints the clusters) reads them.
func TestDecodeRuns(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []byte
		want []ntfs.Run
		err  string
	}{
		{"one run", []byte{0x21, 0x02, 0x00, 0x32, 0x00}, []ntfs.Run{{LCN: 0x3200, Length: 2}}, ""},
		{"backwards delta", []byte{0x11, 0x04, 0x40, 0x11, 0x01, 0xf0, 0x00}, []ntfs.Run{{LCN: 0x40, Length: 4}, {LCN: 0x30, Length: 1}}, ""},
		{"sparse", []byte{0x11, 0x04, 0x40, 0x01, 0x08, 0x11, 0x02, 0x10, 0x00}, []ntfs.Run{{LCN: 0x40, Length: 4}, {LCN: -1, Length: 8}, {LCN: 0x50, Length: 2}}, ""},
		{"three-byte length", []byte{0x13, 0x00, 0x00, 0x01, 0x05, 0x00}, []ntfs.Run{{LCN: 5, Length: 0x10000}}, ""},
		{"unterminated", []byte{0x11, 0x04, 0x40}, []ntfs.Run{{LCN: 0x40, Length: 4}}, "not terminated"},
		{"past the list", []byte{0x21, 0x02, 0x00}, nil, "past the list"},
		{"before cluster 0", []byte{0x11, 0x01, 0xff, 0x00}, nil, "cluster -1"},
		{"zero length", []byte{0x11, 0x00, 0x10, 0x00}, nil, "length 0"},
		{"header with no length", []byte{0x10, 0x05, 0x00}, nil, "run header"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ntfs.DecodeRuns(c.in)
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("error %v, want %q", err, c.err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("runs %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestParseList decodes $ATTRIBUTE_LIST rows and reports a damaged one
// with the rows before it.
func TestParseList(t *testing.T) {
	row := func(typ uint32, n int, entry uint64, seq uint16, id uint16) []byte {
		b := make([]byte, n)
		binary.LittleEndian.PutUint32(b, typ)
		binary.LittleEndian.PutUint16(b[4:], uint16(n))
		binary.LittleEndian.PutUint64(b[16:], entry|uint64(seq)<<48)
		binary.LittleEndian.PutUint16(b[24:], id)
		return b
	}
	good := append(row(0x10, 32, 65, 1, 0), row(0x30, 40, 70, 2, 3)...)
	want := []ntfs.ListEntry{{Type: 0x10, Entry: 65, Seq: 1}, {Type: 0x30, Entry: 70, Seq: 2, ID: 3}}
	for _, c := range []struct {
		name string
		in   []byte
		rows int
		err  string
	}{
		{"two rows", good, 2, ""},
		{"row past the end", append(bytes.Clone(good), row(0x80, 48, 71, 1, 4)[:40]...), 2, "row at 72 has length 48"},
		{"short tail", append(bytes.Clone(good), 0, 0, 0), 2, "3 bytes left"},
		{"zero length row", append(row(0x10, 32, 65, 1, 0), make([]byte, 32)...), 1, "has length 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ntfs.ParseList(c.in)
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("error %v, want %q", err, c.err)
			}
			if !reflect.DeepEqual(got, want[:c.rows]) {
				t.Errorf("rows %+v, want %d", got, c.rows)
			}
		})
	}
}

func FuzzDecodeRuns(f *testing.F) {
	f.Add([]byte{0x21, 0x02, 0x00, 0x32, 0x00})
	f.Add([]byte{0x11, 0x04, 0x40, 0x01, 0x08, 0x11, 0x02, 0x10, 0x00})
	f.Add([]byte{0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x01, 0, 0, 0, 0, 0, 0, 0x80, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		runs, err := ntfs.DecodeRuns(b)
		if len(runs) > len(b)/2 {
			t.Fatalf("%d runs from %d bytes", len(runs), len(b))
		}
		for _, r := range runs {
			if r.Length <= 0 || r.LCN < -1 {
				t.Fatalf("run %+v (err %v)", r, err)
			}
		}
	})
}

func FuzzParseList(f *testing.F) {
	f.Add(make([]byte, 32))
	f.Add([]byte{0x10, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x41, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := ntfs.ParseList(b)
		if len(rows) > len(b)/26 {
			t.Fatalf("%d rows from %d bytes", len(rows), len(b))
		}
		if err == nil && len(b) > 0 && len(rows) == 0 {
			t.Fatal("bytes without rows and no error")
		}
	})
}

// FuzzAttributeListTable scans a fuzzed two-record $MFT whose volume is
// the same bytes, so that non-resident lists, extension records and their
// bases point anywhere: no panic, every record delivered is a base entry
// of the table or the base an extension record names, and each of its
// attributes from elsewhere names a record of the table.
func FuzzAttributeListTable(f *testing.F) {
	if vol, err := os.ReadFile("testdata/attrlist-records.bin"); err == nil {
		f.Add(vol)
	}
	f.Add(make([]byte, 2048))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 1024 || len(b) > 128<<10 {
			return
		}
		b = b[:len(b)/1024*1024]
		tab := ntfs.NewTable(bytes.NewReader(bytes.Clone(b)), int64(len(b)), 1024)
		tab.SetVolume(bytes.NewReader(b), 512)
		err := tab.Scan(context.Background(), func(r *ntfs.Record, off int64) error {
			if off != int64(r.Entry)*1024 {
				t.Fatalf("entry %d at offset %d", r.Entry, off)
			}
			for _, n := range r.Names {
				if n.Ext >= tab.Count() {
					t.Fatalf("name from record %d of %d", n.Ext, tab.Count())
				}
				tab.Path(r, &n)
			}
			return nil
		}, func(uint64, int64, error) {})
		if err != nil {
			t.Fatal(err)
		}
	})
}
