package disk

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

// TestBareFAT: a USB stick's image, a bare FAT32 volume made by
// mkfs.vfat and filled by mtools, opens as a disk; its files (the live
// one and the deleted one) reach the walk under "raw: > fat:<path>", with
// times read in the zone given.
func TestBareFAT(t *testing.T) {
	oracle.Tool(t, "mkfs.vfat", "dosfstools")
	oracle.Tool(t, "mcopy", "mtools")
	dir := t.TempDir()
	img := filepath.Join(dir, "usb.img")
	src := filepath.Join(dir, "tally.csv")
	if err := os.WriteFile(src, []byte("district,votes\n7,1234\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{
		{"mkfs.vfat", "-C", "-F", "32", "-s", "1", img, "40000"},
		{"mcopy", "-i", img, src, "::/tally.csv"},
		{"mcopy", "-i", img, src, "::/old tally.csv"},
		{"mdel", "-i", img, "::/old tally.csv"},
	} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Env = append(os.Environ(), "TZ=Asia/Jakarta", "MTOOLS_SKIP_CHECK=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	jkt, err := time.LoadLocation("Asia/Jakarta")
	if err != nil {
		t.Skip(err)
	}
	r := walk(t, img, Options{FS: jfs.Options{Zone: jkt}})
	for _, p := range r.probs {
		t.Errorf("problem: %v", p)
	}
	got := map[string]fstest.Item{}
	for _, it := range r.items {
		got[fmt.Sprint(it.Chain)] = it
	}
	live, ok := got["[raw: fat:tally.csv]"]
	if !ok || live.Deleted || live.Read != 22 || live.ZoneAssumed != "Asia/Jakarta" {
		t.Errorf("live file: %+v (items %v)", live, got)
	}
	// fls reads the same local times in the same zone.
	oracle.Tool(t, "fls", "sleuthkit")
	body := string(oracle.Output(t, "fls", "-r", "-m", "/", "-z", "Asia/Jakarta", img))
	if want := fmt.Sprintf("|%d|", live.Times.Modified.Unix()); !strings.Contains(body, "/tally.csv|") || !strings.Contains(body, want) {
		t.Errorf("fls body has no mtime %s for tally.csv:\n%s", want, body)
	}
	if old, ok := got["[raw: fat:old tally.csv]"]; !ok || !old.Deleted {
		t.Errorf("deleted file: %+v", old)
	}
}

// TestFATLookalikes: files that carry a FAT signature but not a FAT
// geometry are not disks, so a bare FAT volume's support does not make
// every small file with 0x55AA at byte 510 a disk image.
func TestFATLookalikes(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, patch func(b []byte)) string {
		b := make([]byte, 64<<10)
		b[0], b[1], b[2] = 0xEB, 0x3C, 0x90
		copy(b[3:], "MSWIN4.1")
		b[11], b[12] = 0x00, 0x02 // 512 bytes per sector
		b[13] = 1                 // sectors per cluster
		b[14] = 1                 // reserved
		b[16] = 2                 // FATs
		b[17] = 0x00
		b[18] = 0x02 // 512 root entries
		b[19] = 128  // 128 sectors
		b[21] = 0xF8
		b[22] = 1 // FAT size
		copy(b[54:], "FAT12   ")
		b[510], b[511] = 0x55, 0xAA
		patch(b)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, patch := range map[string]func([]byte){
		"zero-sector-size": func(b []byte) { b[11], b[12] = 0, 0 },
		"no-jump":          func(b []byte) { b[0] = 0 },
		"odd-cluster":      func(b []byte) { b[13] = 3 },
		"no-fats":          func(b []byte) { b[16] = 0 },
		"bad-media":        func(b []byte) { b[21] = 0x12 },
		"fat-too-small":    func(b []byte) { b[19], b[20] = 0xFF, 0xFF; b[22] = 1 },
		"no-signature":     func(b []byte) { b[510] = 0 },
	} {
		p := mk(name, patch)
		if w, ok, err := Open(context.Background(), p, Options{}); ok || w != nil || err != nil {
			t.Errorf("%s: taken for a disk (disk=%v err=%v)", name, ok, err)
		}
	}
	// The same sector unpatched is a (tiny, empty) FAT12 volume.
	if _, ok, err := Open(context.Background(), mk("valid", func([]byte) {}), Options{}); !ok || err != nil {
		t.Errorf("a valid FAT12 boot sector not taken for a volume: disk=%v err=%v", ok, err)
	}
}
