package fat

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

// exSetChecksum is the exFAT entry set checksum as the specification
// (section 6.3.3) writes it, kept apart from the walker's own.
func exSetChecksum(set []byte) uint16 {
	var c uint32
	for i, x := range set {
		if i == 2 || i == 3 {
			continue
		}
		c = ((c&1)<<15 | (c >> 1) + uint32(x)) & 0xFFFF
	}
	return uint16(c)
}

// TestExFATDeletedAndOffset edits a copy of the sample's exFAT partition
// the way a driver would: test.txt is deleted (the in-use bits of its
// three entries cleared, its cluster freed in the allocation bitmap), and
// debian_logo.jpg's modification time is given a UTC offset of +07:00
// (its set checksum rewritten). fls must then list test.txt as deleted,
// and, since fls applies no offset, jejak's modification time of
// debian_logo.jpg must be fls's minus seven hours; everything else equal.
func TestExFATDeletedAndOffset(t *testing.T) {
	sample := oracle.Sample(t, "multiple")
	const sector, sectors = 309248, 81920
	f, _ := fstest.OpenFile(t, sample)
	part := make([]byte, sectors*512)
	if _, err := f.ReadAt(part, sector*512); err != nil {
		t.Fatal(err)
	}
	const root = 352 * 512 // fsstat: root directory at sectors 352-359
	logo, txt := part[root+0x60:root+0xC0], part[root+0xC0:root+0x120]
	if logo[0] != 0x85 || txt[0] != 0x85 || string([]byte{txt[0x42], txt[0x44], txt[0x46], txt[0x48]}) != "test" {
		t.Fatalf("the sample's root directory is not as expected: % x", part[root+0x60:root+0x120])
	}
	for i := 0; i < 3; i++ {
		txt[i*32] &^= 0x80
	}
	clus := le.Uint32(txt[32+20:]) - 2
	heap := int64(328 * 512) // the bitmap is cluster 2, the heap's first
	part[heap+int64(clus/8)] &^= 1 << (clus % 8)
	logo[23] = 0x80 | 28 // +7h in 15-minute steps
	le.PutUint16(logo[2:], exSetChecksum(logo[:96]))
	img := filepath.Join(t.TempDir(), "exfat.img")
	if err := os.WriteFile(img, part, 0o644); err != nil {
		t.Fatal(err)
	}

	want := fls(t, img, 0, "UTC")
	w, err := NewWalker(mustOpen(t, img), int64(len(part)), []string{"file:exfat.img"}, Options{Zone: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	got, entries, probs := fstest.WalkBodies(t, w)
	for _, p := range probs {
		if !strings.Contains(p.Error(), "volume ends at") {
			t.Errorf("problem: %v", p)
		}
	}
	k := "/debian_logo.jpg|390"
	if b, ok := want[k]; ok {
		b.Mtime -= 7 * 3600
		want[k] = b
	} else {
		t.Fatalf("fls lost debian_logo.jpg: %v", want)
	}
	if b := want["/test.txt|393"]; !b.Deleted {
		t.Fatalf("fls does not see test.txt deleted: %v", b)
	}
	if d := fstest.DiffBodies(want, got); len(d) > 0 {
		t.Errorf("%d differences from fls:\n%s", len(d), strings.Join(d, "\n"))
	}
	e := entries["/test.txt|393"]
	if e == nil || !e.Deleted {
		t.Fatalf("test.txt: %+v", e)
	}
	orig, err := os.ReadFile("/usr/share/forensics-samples/original-multiple/test.txt")
	if err == nil {
		checkContent(t, e.Path, e.Open, orig)
	}
	if z := entries[k].ZoneAssumed; z != "" {
		t.Errorf("debian_logo.jpg: every time carries an offset, yet ZoneAssumed %q", z)
	}
}

func mustOpen(t *testing.T, p string) io.ReaderAt {
	f, _ := fstest.OpenFile(t, p)
	return f
}
