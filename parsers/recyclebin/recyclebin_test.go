package recyclebin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// plaso's recycler test files (Apache-2.0).
const (
	corpusI     = "windows/recycle/$I103S5F.jpg"
	corpusINFO2 = "windows/recycle/INFO2"
)

// rifiuti is one record of rifiuti2's tab-separated report.
type rifiuti struct {
	index, path string
	size        int64
	deleted     time.Time
	gone        string // INFO2 only: "Yes" / "No"
}

// runRifiuti runs rifiuti2's tool (rifiuti-vista for $I files or a
// folder of them, rifiuti2 for INFO2) and reads its records.
func runRifiuti(t *testing.T, tool string, args ...string) []rifiuti {
	t.Helper()
	out := oracle.Output(t, oracle.Tool(t, tool, "rifiuti2"), args...)
	var recs []rifiuti
	header := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) > 0 && f[0] == "Index" {
			header = true
			continue
		}
		if !header || len(f) < 4 {
			continue
		}
		r := rifiuti{index: f[0], path: f[len(f)-1]}
		var err error
		if r.deleted, err = time.Parse("2006-01-02 15:04:05", f[1]); err != nil {
			t.Fatalf("%s time %q: %v", tool, f[1], err)
		}
		if r.size, err = strconv.ParseInt(f[len(f)-2], 10, 64); err != nil {
			t.Fatalf("%s size %q: %v", tool, f[len(f)-2], err)
		}
		if len(f) == 5 {
			r.gone = f[2]
		}
		recs = append(recs, r)
	}
	if len(recs) == 0 {
		t.Fatalf("%s printed no record:\n%s", tool, out)
	}
	return recs
}

// compare checks our events against rifiuti2's records, in order:
// path, size, deletion time (rifiuti2 prints whole seconds), index.
func compare(t *testing.T, evs []*timeline.Event, want []rifiuti) {
	t.Helper()
	if len(evs) != len(want) {
		t.Fatalf("%d events, rifiuti2 lists %d records", len(evs), len(want))
	}
	for i, ev := range evs {
		w := want[i]
		d := ev.Jejak.Data
		if ev.File.Path != w.path || *ev.File.Size != w.size || !ev.Timestamp.Truncate(time.Second).Equal(w.deleted) || d["recyclebin.index"] != w.index {
			t.Errorf("record %d: %q %d %s index %s; rifiuti2 %q %d %s index %s", i+1,
				ev.File.Path, *ev.File.Size, ev.Timestamp, d["recyclebin.index"], w.path, w.size, w.deleted, w.index)
		}
		if w.gone != "" && d["recyclebin.emptied"] != strconv.FormatBool(w.gone == "Yes") {
			t.Errorf("record %d: emptied %s, rifiuti2 gone %s", i+1, d["recyclebin.emptied"], w.gone)
		}
		if ev.TimestampDesc != "Content Deletion Time" || ev.Event.Action != "file-deleted-to-recycle-bin" {
			t.Errorf("record %d: %q %q", i+1, ev.TimestampDesc, ev.Event.Action)
		}
	}
}

func TestIAgainstRifiuti(t *testing.T) {
	p := parsertest.Corpus(t, corpusI)
	res := parsertest.ParseFile(t, New(), p, nil)
	if res.Err != nil || len(res.Warnings) > 0 {
		t.Fatal(res.Err, res.Warnings)
	}
	compare(t, res.Events, runRifiuti(t, "rifiuti-vista", p))
	if r := res.Events[0].Jejak.Data["recyclebin.recycled_name"]; r != "$R103S5F.jpg" {
		t.Errorf("recycled name %q", r)
	}
}

func TestINFO2AgainstRifiuti(t *testing.T) {
	p := parsertest.Corpus(t, corpusINFO2)
	res := parsertest.ParseFile(t, New(), p, nil)
	if res.Err != nil || len(res.Warnings) > 0 {
		t.Fatal(res.Err, res.Warnings)
	}
	compare(t, res.Events, runRifiuti(t, "rifiuti2", p))
}

// iV1 writes a version 1 $I file (Vista to 8.1) with the content of a
// version 2 one: rifiuti-vista reads it independently.
func iV1(v2 []byte) []byte {
	b := make([]byte, iV1Size)
	copy(b, v2[:iHeader])
	b[0] = 1
	n := int(binary.LittleEndian.Uint32(v2[iHeader:]))
	copy(b[iHeader:], v2[iHeader+4:iHeader+4+2*n])
	return b
}

// TestBinFolder puts $I files of both versions, with other names and
// paths, in a $Recycle.Bin\<SID> folder, and compares rifiuti-vista's
// report of the version 2 files (it refuses a folder of mixed versions)
// and of the version 1 file with our events of each file.
func TestBinFolder(t *testing.T) {
	v2, err := os.ReadFile(parsertest.Corpus(t, corpusI))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "S-1-5-21-1004336348-1177238915-682003330-1000")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Another v2 file: a longer path with non-ASCII letters.
	long := `D:\Pemilu 2024\Rekapitulasi\hasil_tps_ü_é.xlsx`
	var other []byte
	other = append(other, v2[:iHeader]...)
	binary.LittleEndian.PutUint64(other[8:], 98765)
	u := append(utf16.Encode([]rune(long)), 0)
	other = binary.LittleEndian.AppendUint32(other, uint32(len(u)))
	for _, c := range u {
		other = binary.LittleEndian.AppendUint16(other, c)
	}
	files := map[string][]byte{"$I103S5F.jpg": v2, "$IAAAAAA.jpg": iV1(v2), "$IBBBBBB.xlsx": other}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	byIndex := map[string]rifiuti{}
	for name := range files {
		for _, w := range runRifiuti(t, "rifiuti-vista", filepath.Join(dir, name)) {
			byIndex[w.index] = w
		}
	}
	if len(byIndex) != len(files) {
		t.Fatalf("rifiuti-vista lists %v", byIndex)
	}
	for name := range files {
		e := parsertest.FileEntry(t, filepath.Join(dir, name))
		e.Path = `$Recycle.Bin/` + filepath.Base(dir) + "/" + name
		b := files[name]
		if !New().Match(parsertest.BytesEntry("unnamed", b, time.Time{}), b) {
			t.Errorf("%s not recognised by content", name)
		}
		res := parsertest.Parse(context.Background(), New(), e, time.UTC)
		if res.Err != nil || len(res.Warnings) > 0 {
			t.Fatal(res.Err, res.Warnings)
		}
		compare(t, res.Events, []rifiuti{byIndex[name]})
		if u := res.Events[0].User; u == nil || u.ID != filepath.Base(dir) {
			t.Errorf("%s: user %v", name, u)
		}
	}
}

// TestINFO2Variants writes a version 4 INFO2 (Windows 95/98/ME: 280-byte
// records, no UTF-16 path) and a version 5 one with a record whose file
// was since removed from the bin (its path's first byte zeroed), and
// compares both with rifiuti2.
func TestINFO2Variants(t *testing.T) {
	v5, err := os.ReadFile(parsertest.Corpus(t, corpusINFO2))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	v4 := bytes.Clone(v5[:info2Head])
	binary.LittleEndian.PutUint32(v4, 4)
	binary.LittleEndian.PutUint32(v4[12:], 280)
	for off := info2Head; off+800 <= len(v5); off += 800 {
		v4 = append(v4, v5[off:off+280]...)
	}
	gone := bytes.Clone(v5)
	gone[info2Head+800] = 0 // the second record's "C"
	for name, b := range map[string][]byte{"v4": v4, "gone": gone} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name, "INFO2")
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			res := parsertest.ParseFile(t, New(), p, nil)
			if res.Err != nil || len(res.Warnings) > 0 {
				t.Fatal(res.Err, res.Warnings)
			}
			// Version 4 has only the code page path: rifiuti2 must be
			// told which (the corpus paths are ASCII).
			want := runRifiuti(t, "rifiuti2", "-l", "CP1252", p)
			compare(t, res.Events, want)
			if name == "gone" && want[1].gone != "Yes" {
				t.Errorf("rifiuti2 does not see record 2 as gone: %v", want[1])
			}
		})
	}
}

func TestMatch(t *testing.T) {
	i, err := os.ReadFile(parsertest.Corpus(t, corpusI))
	if err != nil {
		t.Fatal(err)
	}
	info2, err := os.ReadFile(parsertest.Corpus(t, corpusINFO2))
	if err != nil {
		t.Fatal(err)
	}
	noTime := bytes.Clone(i)
	binary.LittleEndian.PutUint64(noTime[16:], 0)
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"x.bin", i, true},
		{"x.bin", i[:len(i)-2], false}, // length disagrees with the count
		{"x.bin", noTime, false},       // no time: structure alone too weak
		{"$IXYZ.doc", noTime, true},    // ... but the name tips it
		{"x.bin", info2, true},         // INFO2 by content
		{"x.bin", info2[:info2Head], false},
		{"INFO2", info2[:info2Head], true}, // an empty INFO2 by name
		// The name that tips a weak structure is the base of a path
		// written with '\\' or '/', INFO2's in any case.
		{`C:\$Recycle.Bin\S-1-5-21\$IXYZ.doc`, noTime, true},
		{"$Recycle.Bin/S-1-5-21/$IXYZ.doc", noTime, true},
		{`$IXYZ\x.doc`, noTime, false},
		{"$IXYZ/x.doc", noTime, false},
		{`RECYCLER\S-1-5-21\info2`, info2[:info2Head], true},
		{"RECYCLER/Info2", info2[:info2Head], true},
		{"INFO2/x", info2[:info2Head], false},
		{"$IXYZ.doc", info2[:info2Head], false},
		{"INFO2", noTime, false},
		{"x.bin", info2[:len(info2)-1], false},
		{"x.bin", []byte("plain text that is long enough to be looked at"), false},
	} {
		e := parsertest.BytesEntry(tc.name, tc.b, time.Time{})
		if got := New().Match(e, tc.b[:min(len(tc.b), parsers.HeadSize)]); got != tc.want {
			t.Errorf("%s (%d bytes): Match = %v", tc.name, len(tc.b), got)
		}
	}
}

// TestDamaged: a cut INFO2 keeps its whole records and warns of the cut
// one; a cut $I version 2 is an error naming the offset.
func TestDamaged(t *testing.T) {
	info2, _ := os.ReadFile(parsertest.Corpus(t, corpusINFO2))
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("INFO2", info2[:info2Head+2*800+100], time.Time{}), time.UTC)
	if res.Err != nil || len(res.Events) != 2 || len(res.Warnings) != 1 || res.Warnings[0].Offset != info2Head+2*800 {
		t.Errorf("cut INFO2: %v, %d events, warnings %v", res.Err, len(res.Events), res.Warnings)
	}
	i, _ := os.ReadFile(parsertest.Corpus(t, corpusI))
	res = parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("$I1", i[:40], time.Time{}), time.UTC)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "offset") {
		t.Errorf("cut $I: %v", res.Err)
	}
}

func TestContract(t *testing.T) {
	parsertest.Contract(t, New(), parsertest.Corpus(t, corpusI), parsertest.Corpus(t, corpusINFO2))
}

func FuzzParse(f *testing.F) {
	for _, c := range []string{corpusI, corpusINFO2} {
		if b, err := os.ReadFile(parsertest.Corpus(f, c)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("$Ix", b, time.Time{}), time.UTC)
		for _, ev := range res.Events {
			if o := ev.Jejak.Provenance.Offset; o < 0 || o >= int64(len(b)) {
				t.Fatalf("offset %d outside %d bytes", o, len(b))
			}
		}
	})
}

// BenchmarkINFO2 reports records/s on an INFO2 of 4096 records (the
// corpus file's four, repeated).
func BenchmarkINFO2(b *testing.B) {
	raw, err := os.ReadFile(parsertest.Corpus(b, corpusINFO2))
	if err != nil {
		b.Fatal(err)
	}
	big := bytes.Clone(raw[:info2Head])
	for len(big) < info2Head+4096*800 {
		big = append(big, raw[info2Head:]...)
	}
	e := parsertest.BytesEntry("INFO2", big, time.Time{})
	records := 0
	b.SetBytes(int64(len(big)))
	for b.Loop() {
		src := &parsers.Source{Entry: e, R: bytes.NewReader(big), Size: int64(len(big)),
			Warn: func(w *parsers.RecordError) { b.Fatal(w) }}
		if err := New().Parse(context.Background(), src, func(*timeline.Event) error { records++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

// TestPlasoExpectations checks plaso's recycler tests
// (tests/parsers/recycler.py) on the same files, to the millisecond that
// rifiuti2 does not print: the $I deletion time 2016-06-29
// 21:37:45.618000 (222255 bytes, C:\Users\random\Downloads\bunnies.jpg)
// and INFO2's first record, index 1, at 2004-08-25 16:18:25.237000, and
// its second, DC2 from drive C.
func TestPlasoExpectations(t *testing.T) {
	i := parsertest.ParseFile(t, New(), parsertest.Corpus(t, corpusI), nil)
	if len(i.Events) != 1 || !i.Events[0].Timestamp.Equal(time.Date(2016, 6, 29, 21, 37, 45, 618000000, time.UTC)) ||
		*i.Events[0].File.Size != 222255 || i.Events[0].File.Path != `C:\Users\random\Downloads\bunnies.jpg` {
		t.Errorf("$I: %+v", i.Events)
	}
	info2 := parsertest.ParseFile(t, New(), parsertest.Corpus(t, corpusINFO2), nil)
	if len(info2.Events) != 4 {
		t.Fatalf("INFO2: %d events, plaso 4", len(info2.Events))
	}
	first := info2.Events[0]
	if !first.Timestamp.Equal(time.Date(2004, 8, 25, 16, 18, 25, 237000000, time.UTC)) || first.Jejak.Data["recyclebin.index"] != "1" ||
		first.File.Path != `C:\Documents and Settings\Mr. Evil\Desktop\lalsetup250.exe` {
		t.Errorf("INFO2 record 1: %s %s %s", first.Timestamp, first.Jejak.Data["recyclebin.index"], first.File.Path)
	}
	if r := info2.Events[1].Jejak.Data["recyclebin.recycled_name"]; !strings.EqualFold(r, "DC2.exe") {
		t.Errorf("INFO2 record 2 recycled as %q, plaso DC2 (drive C)", r)
	}
}
