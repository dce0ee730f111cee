package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// A gzipped raw disk (dfir_ntfs's ntfs_index.raw.gz, GPL: read from
// ../shared) is read through a temporary copy in the case's tmp folder: the
// summary has a container note with the copy's SHA-256, which equals
// gzip -dc's output, 'jejak warnings' lists it as kind note, the copy is
// gone afterwards, and a note alone does not make the exit status 3.
func TestCompressedImageNote(t *testing.T) {
	gz := parsertest.Corpus(t, "more/disk/ntfs/ntfs_index.raw.gz")
	raw, err := exec.Command("gzip", "-dc", gz).Output()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	want := hex.EncodeToString(sum[:])
	dir := filepath.Join(t.TempDir(), "case")
	_, errs, code := jejak(t, "analyze", gz, "--out", dir)
	if code != exitOK || !strings.Contains(errs, "container notes  1") {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	w := mustRun(t, exitOK, "warnings", dir)
	if !strings.Contains(w, "[note]") || !strings.Contains(w, "sha256 "+want) {
		t.Errorf("warnings do not hold the note with the media's SHA-256 %s:\n%s", want, w)
	}
	left, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	if len(left) != 0 {
		t.Errorf("temporary files left in the case: %v", left)
	}
}
