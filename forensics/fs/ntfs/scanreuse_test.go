package ntfs_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
)

// TestScanRecordReused: a scan decodes every record into one Record of its
// table. Each record it delivers must be the record a decoding of its own
// gives (Table.Read), with nothing left over from the record before it:
// names, streams, $STANDARD_INFORMATION, list, flags. The ntfs-3g volume
// has entries with one name and with two (8.3 aliases), with and without
// resident data, directories, deleted ones and a hard link.
func TestScanRecordReused(t *testing.T) {
	img := ntfs3gVolume(t)
	mft, ra := volumeMFT(t, img)
	scan, alone := ntfs.NewTable(ra, mft.Size, 1024), ntfs.NewTable(ra, mft.Size, 1024)
	var n, two, without int
	var last *ntfs.Record
	err := scan.Scan(context.Background(), func(r *ntfs.Record, _ int64) error {
		if last != nil && last != r {
			t.Fatalf("entry %d delivered in a Record of its own: the scan's is not reused", r.Entry)
		}
		last = r
		if r.List != nil || r.ListNonResident {
			return nil // the scan merged its extension records in
		}
		want, err := alone.Read(r.Entry)
		if err != nil {
			t.Fatalf("entry %d: %v", r.Entry, err)
		}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("entry %d scanned as\n%+v\nread alone as\n%+v", r.Entry, *r, *want)
		}
		n++
		if len(r.Names) > 1 {
			two++
		}
		if len(r.Names) == 0 || r.Data() == nil {
			without++
		}
		return nil
	}, func(e uint64, _ int64, err error) { t.Errorf("entry %d: %v", e, err) })
	if err != nil {
		t.Fatal(err)
	}
	if n < 200 || two == 0 || without == 0 {
		t.Fatalf("%d entries compared, %d with two names, %d without a name or data: not the mix the test needs", n, two, without)
	}
}
