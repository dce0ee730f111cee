package casework_test

import (
	"bytes"
	"context"
	"fmt"
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

// TestVerifyEvidence: each item gets one check, in registry order, after
// the files it reports: an intact E01 verifies with its media checked, an
// E01 whose chunk data changed after registration still matches its
// registered hash (it was registered damaged) but fails on its media, and
// a folder with a file changed and one added fails on both, each reported.
func TestVerifyEvidence(t *testing.T) {
	ctx := context.Background()
	src, err := os.ReadFile(parsertest.Corpus(t, "images/image.E01"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	good, bad, dir := filepath.Join(root, "good", "image.E01"), filepath.Join(root, "bad", "image.E01"), filepath.Join(root, "dir")
	broken := bytes.Clone(src)
	for i := len(broken) / 2; i < len(broken)/2+16; i++ {
		broken[i] ^= 0xff
	}
	for p, b := range map[string][]byte{good: src, bad: broken, filepath.Join(dir, "a.txt"): []byte("a\n")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := casework.Init(ctx, filepath.Join(root, "case"), casework.Options{Examiner: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var ids []string
	for _, p := range []string{good, bad, dir} {
		it, err := c.AddEvidence(ctx, p, casework.AddOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, it.ID)
	}
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("changed\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("added\n"), 0o644)

	var order []string // "file ID NAME" and "item ID" as the callbacks came
	checks, err := c.VerifyEvidence(ctx, casework.VerifyEvidenceOptions{
		File: func(it *evidence.Item, file string, err error) {
			if err != nil {
				order = append(order, "file "+it.ID+" "+filepath.Base(file))
			}
		},
		Item: func(ic casework.ItemCheck) { order = append(order, "item "+ic.Item.ID) },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"item " + ids[0], "item " + ids[1], "file " + ids[2] + " a.txt", "file " + ids[2] + " b.txt", "item " + ids[2]}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("callbacks %q, want %q", order, want)
	}
	if len(checks) != 3 {
		t.Fatalf("%d checks, want 3", len(checks))
	}
	if ic := checks[0]; ic.Failure() != nil || ic.Media == nil || ic.Media.Computed.MD5 != ic.Media.Stored.MD5 {
		t.Errorf("intact E01: failure %v, media %+v", ic.Failure(), ic.Media)
	}
	if ic := checks[1]; ic.Err != nil || ic.Failure() == nil {
		t.Errorf("damaged E01: hash error %v (want none: registered as it is), failure %v (want its media)", ic.Err, ic.Failure())
	}
	if ic := checks[2]; ic.Err == nil || ic.Failure() != ic.Err || ic.Media != nil {
		t.Errorf("changed folder: error %v, failure %v, media %+v", ic.Err, ic.Failure(), ic.Media)
	}
}
