package usnjrnl_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	gontfs "www.velocidex.com/golang/go-ntfs/parser"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/parsers/usnjrnl"
)

func TestContract(t *testing.T) {
	parsertest.Contract(t, usnjrnl.New(), parsertest.Corpus(t, "ntfs/UsnJrnl.raw"))
}

// oracle lists the records of a $J as go-ntfs's own USN reader walks them
// (an independent implementation): name, USN, reasons, file and parent.
func oracle(t *testing.T, data []byte) []string {
	vol := gontfs.GetNTFSContextFromRawMFT(bytes.NewReader(nil), 4096, 1024)
	var out []string
	r := bytes.NewReader(data)
	for rec := gontfs.NewUSN_RECORD(vol, r, 0); rec != nil; rec = rec.Next(int64(len(data))) {
		out = append(out, fmt.Sprintf("%s|%d|%d-%d|%d-%d|%s", rec.Filename(), rec.Usn(),
			rec.FileReferenceNumberID(), rec.FileReferenceNumberSequence(),
			rec.ParentFileReferenceNumberID(), rec.ParentFileReferenceNumberSequence(),
			rec.TimeStamp().Time.Format(time.RFC3339Nano)))
	}
	return out
}

// TestPlasoSample parses plaso's UsnJrnl.raw: no warning, and every record
// go-ntfs's reader finds, with the same name, USN, references and time.
// The manifest gives no record count for this file; go-ntfs is the oracle.
func TestPlasoSample(t *testing.T) {
	path := parsertest.Corpus(t, "ntfs/UsnJrnl.raw")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res := parsertest.ParseFile(t, usnjrnl.New(), path, nil)
	if res.Err != nil || len(res.Warnings) > 0 {
		t.Fatalf("err %v, warnings %v", res.Err, res.Warnings)
	}
	want := oracle(t, data)
	var got []string
	for _, ev := range res.Events {
		d := ev.Jejak.Data
		got = append(got, fmt.Sprintf("%s|%s|%s|%s|%s", ev.File.Name, d["usn"], d["file_reference"], d["parent_reference"], ev.Timestamp.Format(time.RFC3339Nano)))
		if ev.TimestampDesc != "Metadata Modification Time" || d["reasons"] == "" {
			t.Errorf("%s: desc %q reasons %q", ev.Message, ev.TimestampDesc, d["reasons"])
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records differ from go-ntfs:\n got %q\nwant %q", got, want)
	}
	first := res.Events[0]
	if first.File.Name != "Nieuw - Tekstdocument.txt" || first.Jejak.Data["reasons"] != "FILE_CREATE" ||
		first.Jejak.Data["file_reference"] != "30-1" || first.Jejak.Data["parent_reference"] != "5-5" {
		t.Errorf("first record: %s %v", first.Message, first.Jejak.Data)
	}
	t.Logf("%d records; first %s at %s", len(got), first.Message, first.Timestamp)
}

// TestSparseAndDamage puts the sample after a megabyte of zeros (a trimmed
// journal) and breaks one record: the zeros cost nothing, the broken
// record is one warning with its offset, the others are all there.
func TestSparseAndDamage(t *testing.T) {
	data, err := os.ReadFile(parsertest.Corpus(t, "ntfs/UsnJrnl.raw"))
	if err != nil {
		t.Fatal(err)
	}
	good := parsertest.Parse(context.Background(), usnjrnl.New(), parsertest.BytesEntry("UsnJrnl.raw", data, time.Time{}), time.UTC)
	pad := 1 << 20
	b := append(make([]byte, pad), data...)
	second := pad + 0x70
	b[second+4] = 9 // version 9: no such record
	res := parsertest.Parse(context.Background(), usnjrnl.New(), parsertest.BytesEntry("$UsnJrnl:$J", b, time.Time{}), time.UTC)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].Offset != int64(second) {
		t.Fatalf("warnings %v, want one at offset %d", res.Warnings, second)
	}
	if len(res.Events) != len(good.Events)-1 {
		t.Errorf("%d events, want %d", len(res.Events), len(good.Events)-1)
	}
	if res.Events[0].Jejak.Provenance.Offset != int64(pad) {
		t.Errorf("first record at %d, want %d", res.Events[0].Jejak.Provenance.Offset, pad)
	}
}

// TestReadError cuts the sample inside its second record with a failing
// read (a bad sector under the journal): Parse returns the read error
// rather than reporting the record as cut short by the end of the file.
func TestReadError(t *testing.T) {
	data, err := os.ReadFile(parsertest.Corpus(t, "ntfs/UsnJrnl.raw"))
	if err != nil {
		t.Fatal(err)
	}
	errDisk := errors.New("read error under the journal")
	cut := 0x70 + 16
	e := jfs.NewEntry("$UsnJrnl:$J", []string{"file:$J"}, int64(len(data)),
		func() (io.ReadCloser, error) {
			return io.NopCloser(io.MultiReader(bytes.NewReader(data[:cut]), iotest.ErrReader(errDisk))), nil
		}, nil)
	res := parsertest.Parse(context.Background(), usnjrnl.New(), e, time.UTC)
	if !errors.Is(res.Err, errDisk) {
		t.Fatalf("err %v, want the read error", res.Err)
	}
	if len(res.Events) != 1 || len(res.Warnings) != 0 {
		t.Errorf("%d events, warnings %v; want the first record and no warning", len(res.Events), res.Warnings)
	}
	// The same bytes ending cleanly are a cut record: one warning, no error.
	res = parsertest.Parse(context.Background(), usnjrnl.New(), parsertest.BytesEntry("$UsnJrnl:$J", data[:cut], time.Time{}), time.UTC)
	if res.Err != nil || len(res.Warnings) != 1 || res.Warnings[0].Offset != 0x70 {
		t.Errorf("cut at EOF: err %v, warnings %v; want one warning at 0x70", res.Err, res.Warnings)
	}
}

func TestReasons(t *testing.T) {
	for _, tc := range []struct {
		r    uint32
		want string
	}{
		{0x80000100, "FILE_CREATE|CLOSE"},
		{0x00000002, "DATA_EXTEND"},
		{0x00003000, "RENAME_OLD_NAME|RENAME_NEW_NAME"},
		{0x00000008, "0x00000008"},
	} {
		if got := usnjrnl.Reasons(tc.r); got != tc.want {
			t.Errorf("Reasons(%#x) = %q, want %q", tc.r, got, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	data, err := os.ReadFile(parsertest.Corpus(f, "ntfs/UsnJrnl.raw"))
	if err == nil {
		f.Add(data)
		f.Add(append(make([]byte, 4096), data[:300]...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res := parsertest.Parse(context.Background(), usnjrnl.New(), parsertest.BytesEntry("$J", b, time.Time{}), time.UTC)
		for _, ev := range res.Events {
			if o := ev.Jejak.Provenance.Offset; o < 0 || o >= int64(len(b)) {
				t.Fatalf("offset %d outside %d bytes", o, len(b))
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(parsertest.Corpus(b, "ntfs/UsnJrnl.raw"))
	if err != nil {
		b.Fatal(err)
	}
	// A journal of realistic size: the sample repeated, behind zeros.
	big := make([]byte, 1<<20)
	for len(big) < 16<<20 {
		big = append(big, data...)
	}
	b.SetBytes(int64(len(big)))
	b.ResetTimer()
	var n int
	for i := 0; i < b.N; i++ {
		res := parsertest.Parse(context.Background(), usnjrnl.New(), parsertest.BytesEntry("$J", big, time.Time{}), time.UTC)
		n = len(res.Events)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
