package ntfs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

func TestMain(m *testing.M) { oracle.Main(m) }

func walker(t testing.TB, r io.ReaderAt, size, start int64, idx int) jfs.Walker {
	t.Helper()
	w, err := ntfs.NewWalker(r, size, []string{fmt.Sprintf("partition:%d@%d", idx, start)})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestSamplesNTFS walks the NTFS volume of forensics-samples-ntfs under the
// walker contract and checks what an examiner needs of it: every regular
// file fls lists (live and deleted) is delivered with its MFT entry, the
// deleted pic2 photos under pic2/ with the bytes of the originals, the
// archives inside (docx, odt) walked, and $MFT delivered for the mft parser.
func TestSamplesNTFS(t *testing.T) {
	img := oracle.Sample(t, "ntfs")
	_, parts := ntfstest.NTFSPartitions(t, img)
	if len(parts) != 1 || parts[0].Start != 2048*512 {
		t.Fatalf("NTFS partitions %+v, want one at sector 2048 (mmls)", parts)
	}
	p := parts[0]
	items, probs := fstest.Contract(t, walker(t, p.Reader, p.Length, p.Start, p.Index))
	for _, pr := range probs {
		t.Errorf("problem: %v", pr)
	}
	byPath := map[string]fstest.Item{}
	expanded := map[string]bool{} // archives: their members are delivered
	for _, it := range items {
		if len(it.Chain) == 2 {
			byPath[it.Path] = it
		} else {
			expanded[strings.TrimPrefix(it.Chain[1], "ntfs:")] = true
		}
	}
	// Every file (unnamed $DATA) and named data stream fls lists.
	for _, l := range ntfstest.FLS(t, img, p.Start/512) {
		if l.FN || l.Dir || !strings.Contains(l.Meta, "-128-") || l.Name == "$BadClus:$Bad" {
			continue
		}
		it, ok := byPath[l.Name]
		if !ok && expanded[l.Name] {
			continue
		}
		if !ok {
			t.Errorf("fls file %q (%s) not delivered", l.Name, l.Meta)
			continue
		}
		if want := fmt.Sprint(l.Entry); !strings.HasPrefix(it.Inode, want+"-") || it.Size != l.Size {
			t.Errorf("%s: inode %s size %d, fls %s size %d", l.Name, it.Inode, it.Size, l.Meta, l.Size)
		}
		if want := []string{"partition:1@1048576", "ntfs:" + l.Name}; strings.Join(it.Chain, ">") != strings.Join(want, ">") {
			t.Errorf("%s: chain %q", l.Name, it.Chain)
		}
	}
	// The deleted pic2 photos, byte for byte (d-debian.png was regenerated
	// in the package after the image was made, so only the JPEGs).
	orig := filepath.Join("/usr/share/forensics-samples/original-files/pic2")
	jpgs, _ := filepath.Glob(filepath.Join(orig, "*.jpg"))
	if len(jpgs) == 0 {
		t.Skip("original photos missing: install the Debian package forensics-samples-files")
	}
	for _, j := range jpgs {
		b, err := os.ReadFile(j)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		it, ok := byPath["pic2/"+filepath.Base(j)]
		if !ok {
			t.Errorf("deleted pic2/%s not delivered", filepath.Base(j))
			continue
		}
		if it.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("pic2/%s: content differs from the original", filepath.Base(j))
		}
	}
	// Deleted flag and the archives inside.
	var deleted, inDocx int
	w := walker(t, p.Reader, p.Length, p.Start, p.Index)
	w.Walk(context.Background(), func(_ context.Context, e *jfs.Entry) error {
		if strings.HasPrefix(e.Path, "pic2/") && e.Deleted {
			deleted++
		}
		if len(e.Chain) == 3 && e.Chain[1] == "ntfs:text1/a-text.docx" {
			inDocx++
		}
		return nil
	}, nil)
	if deleted != 7 || inDocx == 0 {
		t.Errorf("%d deleted pic2 entries (want 7), %d members of text1/a-text.docx", deleted, inDocx)
	}
	if _, ok := byPath["$MFT"]; !ok {
		t.Error("$MFT not delivered")
	}
}

// TestGoNTFSImage walks go-ntfs's own test image: no problem, and the same
// files as fls lists.
func TestGoNTFSImage(t *testing.T) {
	path := goNTFSImage(t)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	items, probs := fstest.Contract(t, walker(t, f, st.Size(), 0, 1))
	for _, p := range probs {
		t.Errorf("problem: %v", p)
	}
	got := map[string]bool{}
	for _, it := range items {
		got[it.Path] = true
	}
	n := 0
	for _, l := range ntfstest.FLS(t, path, 0) {
		if l.FN || l.Dir || !strings.Contains(l.Meta, "-128-") || l.Name == "$BadClus:$Bad" {
			continue
		}
		n++
		if !got[l.Name] {
			t.Errorf("fls file %q not delivered", l.Name)
		}
	}
	t.Logf("%d entries delivered, %d fls files checked", len(items), n)
}

func goNTFSImage(t testing.TB) string {
	t.Helper()
	out, err := exec("go", "env", "GOMODCACHE")
	if err != nil {
		t.Skipf("go env: %v", err)
	}
	p := filepath.Join(strings.TrimSpace(out), "www.velocidex.com/golang/go-ntfs@v0.2.1/parser/test_data/test.ntfs.dd")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("go-ntfs test image not in the module cache (go mod download www.velocidex.com/golang/go-ntfs): %v", err)
	}
	return p
}

// TestCorruptRecord damages one MFT record in a copy of the volume: the
// walk reports it with its offset in $MFT and delivers everything else.
func TestCorruptRecord(t *testing.T) {
	img := oracle.Sample(t, "ntfs")
	_, parts := ntfstest.NTFSPartitions(t, img)
	p := parts[0]
	vol := make([]byte, p.Length)
	if _, err := p.Reader.ReadAt(vol, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	good, _, err := fstest.Collect(context.Background(), walker(t, bytes.NewReader(vol), p.Length, p.Start, p.Index))
	if err != nil {
		t.Fatal(err)
	}
	// Entry 82 (pic1/IMG_20200827_231612.jpg): break the fixup of its
	// second sector, as a torn write would.
	mftOff := mftOffset(t, vol)
	rec := mftOff + 82*1024
	if string(vol[rec:rec+4]) != "FILE" {
		t.Fatalf("no record at %d", rec)
	}
	vol[rec+1022] ^= 0xff
	items, probs, err := fstest.Collect(context.Background(), walker(t, bytes.NewReader(vol), p.Length, p.Start, p.Index))
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) != 1 || probs[0].Offset != 82*1024 || !errors.Is(probs[0].Err, jfs.ErrCorrupt) || probs[0].Path != "$MFT" {
		t.Fatalf("problems %v, want one at $MFT offset %d", probs, 82*1024)
	}
	t.Logf("reported: %v (offset %d)", probs[0], probs[0].Offset)
	if len(items) != len(good)-1 {
		t.Errorf("%d entries delivered, want %d (all but the damaged one)", len(items), len(good)-1)
	}
	for _, it := range items {
		if it.Path == "pic1/IMG_20200827_231612.jpg" {
			t.Error("damaged entry delivered")
		}
	}
}

func mftOffset(t testing.TB, vol []byte) int64 {
	cluster := int64(vol[11]) | int64(vol[12])<<8
	cluster *= int64(vol[13])
	var lcn int64
	for i := 7; i >= 0; i-- {
		lcn = lcn<<8 | int64(vol[0x30+i])
	}
	return lcn * cluster
}
