package fat

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// buildFAT makes a FAT image of the given type with mkfs.vfat and fills it
// with mtools, in zone tz (mtools writes local times): short and long
// names, a name in lower case (stored with the case flags), a non-ASCII
// long name, nested directories, a multi-cluster file, and then deletes a
// file with a long name, a file with a short name and a whole directory.
// It returns the image and the files left live, by path.
func buildFAT(t *testing.T, fatType, tz string, mkfsArgs ...string) (string, map[string][]byte) {
	t.Helper()
	oracle.Tool(t, "mkfs.vfat", "dosfstools")
	oracle.Tool(t, "mcopy", "mtools")
	dir := t.TempDir()
	img := filepath.Join(dir, "fat"+fatType+".img")
	kib := map[string]string{"12": "2048", "16": "20480", "32": "40000"}[fatType]
	if len(mkfsArgs) == 0 {
		mkfsArgs = []string{"-s", "1"}
	}
	run(t, tz, "mkfs.vfat", append(append([]string{"-C", "-F", fatType, "-n", "EVIDENCE"}, mkfsArgs...), img, kib)...)
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("tabulation result row 0123456789\n"), 200) // 6600 bytes: 13 clusters
	files := map[string][]byte{
		"README.TXT":                      []byte("short name, upper case\n"),
		"results-district-7.csv":          big,
		"dir1/lower.txt":                  []byte("lower-case short name\n"),
		"dir1/sub/Audit Log 2024.log":     []byte("long name with spaces\n"),
		"dir1/sub/Übertragung.txt":        []byte("non-ASCII long name\n"),
		"dir1/deleted long name.txt":      []byte("this file is deleted\n"),
		"dir1/GONE.TXT":                   []byte("short name, deleted\n"),
		"olddir/inside.txt":               []byte("in a deleted directory\n"),
		"olddir/ALSO.DAT":                 []byte("also in it\n"),
		"dir1/sub/deeper/final state.txt": []byte("deep\n"),
	}
	run(t, tz, "mmd", "-i", img, "::/dir1", "::/dir1/sub", "::/dir1/sub/deeper", "::/olddir")
	for name, data := range files {
		p := writeFile(t, src, strings.ReplaceAll(name, "/", "_"), data)
		run(t, tz, "mcopy", "-i", img, p, "::/"+name)
	}
	run(t, tz, "mdel", "-i", img, "::/dir1/deleted long name.txt", "::/dir1/GONE.TXT")
	run(t, tz, "mdeltree", "-i", img, "::/olddir")
	for _, gone := range []string{"dir1/deleted long name.txt", "dir1/GONE.TXT", "olddir/inside.txt", "olddir/ALSO.DAT"} {
		delete(files, gone)
	}
	return img, files
}

// TestBuiltAgainstFls builds FAT12, FAT16 and FAT32 images with real tools
// and compares the walk with fls: the same names, live and deleted (with
// their first character lost, or recovered from the long name), the same
// TSK inode numbers, sizes and times, read in the same zone. Live files'
// content is compared with what was copied in, and a deleted file's
// contiguous content with what it held.
func TestBuiltAgainstFls(t *testing.T) {
	for _, ft := range []string{"12", "16", "32"} {
		for _, tz := range []string{"UTC", "Asia/Jakarta", "America/New_York"} {
			t.Run("FAT"+ft+"/"+tz, func(t *testing.T) {
				loc, err := time.LoadLocation(tz)
				if err != nil {
					t.Skip(err)
				}
				img, files := buildFAT(t, ft, tz)
				want := fls(t, img, 0, tz)
				f, size := fstest.OpenFile(t, img)
				w, err := NewWalker(f, size, []string{"file:" + filepath.Base(img)}, Options{Zone: loc})
				if err != nil {
					t.Fatal(err)
				}
				if k := w.Info().Kind; k != "fat"+ft {
					t.Errorf("kind %s, want fat%s", k, ft)
				}
				got, entries, probs := fstest.WalkBodies(t, w)
				for _, p := range probs {
					t.Errorf("problem: %v", p)
				}
				if d := fstest.DiffBodies(want, got); len(d) > 0 {
					t.Errorf("%d differences from fls:\n%s", len(d), strings.Join(d, "\n"))
				}
				// The deleted names fls recovers must be there: a long one
				// whole, a short one with '_' for its lost first byte.
				for _, p := range []string{"/dir1/deleted long name.txt", "/dir1/_ONE.TXT", "/_lddir", "/_lddir/_nside.txt"} {
					found := false
					for _, b := range got {
						found = found || b.Path == p && b.Deleted
					}
					if !found {
						t.Errorf("deleted entry %s not found", p)
					}
				}
				for _, e := range entries {
					if e.ZoneAssumed != tz && !e.Mode.IsDir() {
						t.Errorf("%s: ZoneAssumed %q, want %q", e.Path, e.ZoneAssumed, tz)
					}
					if e.Path == "dir1/deleted long name.txt" {
						checkContent(t, e.Path, e.Open, []byte("this file is deleted\n"))
						if !strings.HasSuffix(e.Identity, " recovered") {
							t.Errorf("deleted file's identity %q does not say its content is recovered (a guess)", e.Identity)
						}
					}
					if e.Deleted && e.Mode.IsRegular() {
						// icat reads a deleted file the same way: from its
						// first cluster on, for its size.
						checkContent(t, e.Path, e.Open, oracle.Output(t, "icat", img, e.Inode))
					}
					if data, ok := files[e.Path]; ok {
						checkContent(t, e.Path, e.Open, data)
						delete(files, e.Path)
					}
				}
				for p := range files {
					t.Errorf("live file %s not walked", p)
				}
				_, cprobs := fstest.Contract(t, w)
				if len(cprobs) != len(probs) {
					t.Errorf("contract walk: %d problems, first walk %d", len(cprobs), len(probs))
				}
			})
		}
	}
}

func checkContent(t *testing.T, path string, open func() (io.ReadCloser, error), want []byte) {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Errorf("%s: open: %v", path, err)
		return
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s: content %q (%v), want %q", path, got, err, want)
	}
}

// TestNoZone: without the evidence's zone, FAT times are read as UTC, the
// entries say so, and the walk reports it once.
func TestNoZone(t *testing.T) {
	img, _ := buildFAT(t, "12", "UTC")
	f, size := fstest.OpenFile(t, img)
	w, err := NewWalker(f, size, []string{"file:x"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, entries, probs := fstest.WalkBodies(t, w)
	if d := fstest.DiffBodies(fls(t, img, 0, "UTC"), got); len(d) > 0 {
		t.Errorf("differences from fls:\n%s", strings.Join(d, "\n"))
	}
	if len(probs) != 1 || !strings.Contains(probs[0].Err.Error(), "read as UTC") {
		t.Errorf("problems %v, want one saying UTC was assumed", probs)
	}
	for _, e := range entries {
		if !e.Mode.IsDir() && e.ZoneAssumed != "UTC" {
			t.Errorf("%s: ZoneAssumed %q", e.Path, e.ZoneAssumed)
		}
	}
}

// TestFatVerySmall walks Velociraptor's small FAT12 test image (AGPL: read
// from the shared corpus, never copied) and compares with fls and with the
// manifest's facts.
func TestFatVerySmall(t *testing.T) {
	path := parsertest.Corpus(t, "agpl/fat/fat_very_small.dd")
	oracle.Tool(t, "fls", "sleuthkit")
	got, entries := walkMatchesFls(t, path)
	e := entries["/a/b/hello.txt|646"]
	if e == nil {
		t.Fatalf("a/b/hello.txt (inode 646) not walked: %v", got)
	}
	oracle.Tool(t, "icat", "sleuthkit")
	checkContent(t, e.Path, e.Open, oracle.Output(t, "icat", path, "646"))
}

// TestForensicsSamplesExFAT walks the exFAT partition of Debian's
// four-partition sample disk and compares it with fls, and each file's
// content with icat's.
func TestForensicsSamplesExFAT(t *testing.T) {
	path := oracle.Sample(t, "multiple")
	const sector = 309248
	want := fls(t, path, sector, "UTC")
	f, _ := fstest.OpenFile(t, path)
	sr := io.NewSectionReader(f, sector*512, 81920*512)
	w, err := NewWalker(sr, sr.Size(), []string{"raw:", "partition:3@158334976"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Info().Kind != "exfat" {
		t.Fatalf("kind %s", w.Info().Kind)
	}
	got, entries, probs := fstest.WalkBodies(t, w)
	for _, p := range probs {
		// The partition table gives it 81920 sectors; the boot sector
		// claims 202752: the walk says the rest cannot be read.
		if !strings.Contains(p.Error(), "volume ends at") {
			t.Errorf("problem: %v", p)
		}
	}
	if d := fstest.DiffBodies(want, got); len(d) > 0 {
		t.Errorf("%d differences from fls:\n%s", len(d), strings.Join(d, "\n"))
	}
	if len(got) < 2 {
		t.Fatalf("%d entries", len(got))
	}
	oracle.Tool(t, "icat", "sleuthkit")
	for k, e := range entries {
		if e.Mode.IsRegular() {
			checkContent(t, e.Path, e.Open, oracle.Output(t, "icat", "-o", fmt.Sprint(sector), path, got[k].Inode))
		}
		if e.ZoneAssumed != "" {
			t.Errorf("%s: its times carry UTC offsets, yet ZoneAssumed is %q", e.Path, e.ZoneAssumed)
		}
		// Both files' entries hold 10 ms increments of 10 (0x0a at bytes
		// 20 and 21, see xxd): 100 ms past fls's whole second.
		if ns := e.Times.Born.Nanosecond(); e.Mode.IsRegular() && ns != 100_000_000 {
			t.Errorf("%s: creation time %v, want 100 ms past the second", e.Path, e.Times.Born)
		}
	}
}

// TestOverwritten: a deleted file whose first cluster another file took
// (a directory made after the deletion) is still listed with its name,
// size and times (as fls lists it), but no content is given: those bytes
// are the other file's. Its identity says so.
func TestOverwritten(t *testing.T) {
	oracle.Tool(t, "mkfs.vfat", "dosfstools")
	oracle.Tool(t, "mcopy", "mtools")
	dir := t.TempDir()
	img := filepath.Join(dir, "r.img")
	a := writeFile(t, dir, "A.TXT", bytes.Repeat([]byte("first file, deleted\n"), 80))
	c := writeFile(t, dir, "C.TXT", []byte("kept\n"))
	b := writeFile(t, dir, "B.TXT", []byte("takes A's first cluster\n"))
	run(t, "UTC", "mkfs.vfat", "-C", "-F", "12", "-s", "1", img, "1024")
	run(t, "UTC", "mmd", "-i", img, "::/NEWDIR")
	run(t, "UTC", "mcopy", "-i", img, a, c, "::/")
	run(t, "UTC", "mdel", "-i", img, "::/A.TXT")
	run(t, "UTC", "mcopy", "-i", img, b, "::/NEWDIR/")
	got, entries := walkMatchesFls(t, img)
	var gone *jfs.Entry
	for _, e := range entries {
		if e.Path == "_.TXT" && e.Deleted {
			gone = e
		}
	}
	if gone == nil {
		t.Fatalf("deleted A.TXT (as _.TXT) not walked: %v", got)
	}
	if gone.Size != 1600 || !strings.HasSuffix(gone.Identity, " overwritten") {
		t.Errorf("size %d identity %q", gone.Size, gone.Identity)
	}
	checkContent(t, gone.Path, gone.Open, nil)
}

// TestSectorAndClusterSizes: volumes with 1024- and 2048-byte sectors and
// multi-sector clusters (mkfs.vfat -S, -s) compare with fls like the
// 512-byte ones.
func TestSectorAndClusterSizes(t *testing.T) {
	for _, c := range []struct {
		fat  string
		args []string
	}{
		{"16", []string{"-S", "1024"}},
		{"16", []string{"-S", "2048", "-s", "2"}},
		{"12", []string{"-S", "1024"}},
		{"12", []string{"-s", "8"}},
	} {
		t.Run("FAT"+c.fat+strings.Join(c.args, ""), func(t *testing.T) {
			img, files := buildFAT(t, c.fat, "UTC", c.args...)
			_, entries := walkMatchesFls(t, img)
			for _, e := range entries {
				if data, ok := files[e.Path]; ok {
					checkContent(t, e.Path, e.Open, data)
				}
			}
		})
	}
}

// TestLongNameChecksum: a long name whose checksum does not match the
// live short entry after it (the slots of an older name left in front of
// a newer short entry) is not given to that entry: the short name is used
// and the mismatch reported with the slots' offset. (fls uses such a name
// without checking.)
func TestLongNameChecksum(t *testing.T) {
	img, _ := buildFAT(t, "12", "UTC")
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	v, err := openVolume(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The root's "results-district-7.csv": its long-name slots precede it.
	var lfnAt int64 = -1
	for off := v.rootOff; off < v.rootOff+v.rootBytes; off += 32 {
		e := b[off : off+32]
		if e[11] == attrLFN && e[0] != slotDeleted && e[1] == 'r' && e[3] == 'e' {
			lfnAt = off
			break
		}
	}
	if lfnAt < 0 {
		t.Fatal("no long-name slot for results-district-7.csv in the root")
	}
	for _, c := range []struct {
		name  string
		patch func(b []byte)
		at    int64 // where the problem must point
	}{
		// The slot next to the short entry carries another checksum.
		{"checksum", func(b []byte) { b[lfnAt+13] ^= 0xFF }, lfnAt},
		// The first slot (flagged last-in-sequence) is damaged: what is
		// left is the name's first 13 characters, with the right
		// checksum, but not a whole name.
		{"sequence", func(b []byte) { b[lfnAt-32+13] ^= 0xFF }, lfnAt},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(b)
			c.patch(b)
			w, err := NewWalker(bytes.NewReader(b), int64(len(b)), []string{"file:x"}, Options{Zone: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			got, _, probs := fstest.WalkBodies(t, w)
			if len(probs) != 1 || probs[0].Offset != c.at || !strings.Contains(probs[0].Error(), "do not belong") {
				t.Errorf("problems %v, want one at offset %d", probs, c.at)
			}
			for _, g := range got {
				if strings.HasPrefix(g.Path, "/results-distr") {
					t.Errorf("the long name was used: %s", g)
				}
			}
		})
	}
}
