package casework_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// TestCheckStoredHashes: an E01's media verifies against the MD5 and SHA-1
// its acquisition stored; the same image with one byte of its last chunk
// changed does not (a failed decompression or a mismatch, never "ok"); an
// item that is no EWF image has no stored hashes to check.
func TestCheckStoredHashes(t *testing.T) {
	ctx := context.Background()
	src := parsertest.Corpus(t, "images/image.E01")
	c, err := casework.Init(ctx, filepath.Join(t.TempDir(), "case"), casework.Options{Examiner: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	it, err := c.AddEvidence(ctx, src, casework.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mc, err := casework.CheckStoredHashes(ctx, it)
	if err != nil || mc == nil {
		t.Fatalf("CheckStoredHashes(%s) = %v, %v", src, mc, err)
	}
	if mc.Stored.MD5 == "" || mc.Computed.MD5 != mc.Stored.MD5 || len(mc.Mismatches) != 0 {
		t.Errorf("intact image: computed %+v, stored %+v, mismatches %v", mc.Computed, mc.Stored, mc.Mismatches)
	}

	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	// A byte in the middle of the chunk data: between the "sectors"
	// section's 76-byte descriptor and the "table" section after it.
	sectors, table := bytes.Index(data, []byte("sectors")), bytes.Index(data, []byte("table"))
	if sectors < 0 || table < sectors+76 {
		t.Fatalf("no sectors section before the table in %s", src)
	}
	data[(sectors+76+table)/2] ^= 0xff
	bad := filepath.Join(t.TempDir(), "bad.E01")
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mc, err = casework.CheckStoredHashes(ctx, &evidence.Item{ID: "bad", Kind: "file", Path: bad})
	if err == nil && (mc == nil || len(mc.Mismatches) == 0) {
		t.Errorf("changed image verified: %+v", mc)
	}

	other := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(other, []byte("not an image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if mc, err := casework.CheckStoredHashes(ctx, &evidence.Item{ID: "txt", Kind: "file", Path: other}); mc != nil || err != nil {
		t.Errorf("a text file: %+v, %v; want nothing to check", mc, err)
	}
}
