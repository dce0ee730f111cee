package disk_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/casework/casetest"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestIngestAttributeListNames: through the whole ingest pipeline (as
// 'jejak analyze' reads an image), the MFT timeline of a file whose
// $ATTRIBUTE_LIST ntfs-3g made non-resident (150 hard links) holds every
// one of its 151 names, and the parser needs no fallback: the $MFT reader
// the walk hands it reaches the volume (sharedReaderAt.Unwrap). Without
// it, the parser read the $MFT alone and warned per extension record.
func TestIngestAttributeListNames(t *testing.T) {
	img, entries := ntfstest.AttrListVolume(t)
	st, sum := casetest.BuildDisk(t, img)
	if s := sum.Parsers["mft"]; s == nil || s.Events == 0 {
		t.Fatalf("no mft events: %+v", sum.Parsers)
	} else if s.Warnings != 0 {
		t.Errorf("mft parser warnings: %d, want none (the volume reached the parser)", s.Warnings)
	}
	inode := fmt.Sprint(entries["links/target"])
	names := map[string]bool{}
	err := st.Search(context.Background(), timeline.Query{}, func(ev *timeline.Event) error {
		if ev.Jejak.Provenance.Parser == "mft" && ev.File != nil && (ev.File.Inode == inode || strings.HasPrefix(ev.File.Inode, inode+"-")) {
			names[filepath.Base(ev.File.Path)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !names["target"] || len(names) != 151 {
		t.Errorf("entry %s has %d names on the MFT timeline, want target and its 150 links", inode, len(names))
	}
}
