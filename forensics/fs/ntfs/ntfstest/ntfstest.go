// Package ntfstest gives the NTFS tests their oracle: The Sleuth Kit's fls
// bodyfile of an NTFS volume, and the NTFS partitions of a disk image (the
// images themselves come from internal/oracle.Sample); and their volumes:
// fresh ones made with mkntfs and written through ntfs-3g (volume.go).
//
// It is for tests only: it takes a testing.TB and calls Skip and Fatal.
package ntfstest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/volume"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

// NTFSPartitions opens the image and returns its NTFS partitions, found by
// forensics/volume.
func NTFSPartitions(t testing.TB, img string) (*os.File, []volume.Partition) {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	sys, err := volume.Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	var out []volume.Partition
	for _, p := range sys.Partitions {
		if volume.Detect(p.Reader) == "ntfs" {
			out = append(out, p)
		}
	}
	return f, out
}

// BodyLine is one line of a TSK bodyfile (fls -m).
type BodyLine struct {
	Name       string // path without the leading "/" and without markers
	FN         bool   // a " ($FILE_NAME)" line
	Deleted    bool
	Entry      uint64
	Meta       string // "entry-type-id"
	Dir        bool
	Size       int64
	A, M, C, B int64
}

// FLS runs The Sleuth Kit's fls -r -m / -o sector on img.
func FLS(t testing.TB, img string, sector int64) []BodyLine {
	t.Helper()
	oracle.Tool(t, "fls", "sleuthkit")
	return ParseBody(t, string(oracle.Output(t, "fls", "-r", "-m", "/", "-o", strconv.FormatInt(sector, 10), img)))
}

// ParseBody reads a bodyfile.
func ParseBody(t testing.TB, s string) []BodyLine {
	var lines []BodyLine
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		if len(f) != 11 {
			t.Fatalf("bodyfile line %q", sc.Text())
		}
		var l BodyLine
		name := strings.TrimPrefix(f[1], "/")
		if strings.HasSuffix(name, " (deleted)") {
			l.Deleted, name = true, strings.TrimSuffix(name, " (deleted)")
		}
		if strings.HasSuffix(name, " ($FILE_NAME)") {
			l.FN, name = true, strings.TrimSuffix(name, " ($FILE_NAME)")
		}
		l.Name = name
		l.Meta = f[2]
		e, _, _ := strings.Cut(f[2], "-")
		l.Entry, _ = strconv.ParseUint(e, 10, 64)
		l.Dir = strings.HasPrefix(f[3], "d/d") || strings.HasPrefix(f[3], "-/d")
		l.Size, _ = strconv.ParseInt(f[6], 10, 64)
		l.A, _ = strconv.ParseInt(f[7], 10, 64)
		l.M, _ = strconv.ParseInt(f[8], 10, 64)
		l.C, _ = strconv.ParseInt(f[9], 10, 64)
		l.B, _ = strconv.ParseInt(f[10], 10, 64)
		lines = append(lines, l)
	}
	return lines
}

// AttrListVolume formats a volume with mkntfs and fills it through ntfs-3g
// (FUSE) with entries whose attributes overflow their MFT record into
// extension records through a non-resident $ATTRIBUTE_LIST: "links/target"
// with 150 hard links beside it (ntfs-3g moves the list out of the record
// at about 20), "streams.txt" with 200 named streams, and "frag.bin", a
// file written into the holes of a volume of freed small files, so that
// its run list fills extension records. It returns the image and the
// entry of each of the three (by name). The test skips when FUSE is not
// allowed.
func AttrListVolume(t testing.TB) (img string, entries map[string]uint64) {
	t.Helper()
	img = filepath.Join(t.TempDir(), "attrlist.img")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	Format(t, img, 32<<20, "-c", "4096")
	mnt, unmount := Mount(t, img, "streams_interface=xattr")
	must(os.Mkdir(filepath.Join(mnt, "links"), 0o755))
	target := filepath.Join(mnt, "links", "target")
	must(os.WriteFile(target, []byte("linked content\n"), 0o644))
	for i := range 150 {
		must(os.Link(target, filepath.Join(mnt, "links", fmt.Sprintf("link-%03d", i))))
	}
	streams := filepath.Join(mnt, "streams.txt")
	must(os.WriteFile(streams, []byte("main stream\n"), 0o644))
	for i := range 200 {
		must(syscall.Setxattr(streams, fmt.Sprintf("user.stream-%03d", i), []byte(fmt.Sprintf("content of stream %d\n", i)), 0))
	}
	// Fragmentation: 4 KiB files fill the volume's free space, every other
	// one is removed, and frag.bin fills the holes.
	must(os.Mkdir(filepath.Join(mnt, "fill"), 0o755))
	var fill []string
	block := bytes.Repeat([]byte{'f'}, 4096)
	for i := 0; ; i++ {
		p := filepath.Join(mnt, "fill", fmt.Sprintf("f%05d", i))
		if err := os.WriteFile(p, block, 0o644); err != nil || i >= 20000 {
			os.Remove(p)
			break
		}
		fill = append(fill, p)
	}
	for i := 0; i < len(fill); i += 2 {
		must(os.Remove(fill[i]))
	}
	frag := make([]byte, 4096*(len(fill)/2-16))
	for i := range frag {
		frag[i] = byte(i*7 + i/4096)
	}
	must(os.WriteFile(filepath.Join(mnt, "frag.bin"), frag, 0o644))
	entries = map[string]uint64{}
	for _, name := range []string{"links/target", "streams.txt", "frag.bin"} {
		st, err := os.Stat(filepath.Join(mnt, name))
		must(err)
		entries[name] = st.Sys().(*syscall.Stat_t).Ino
	}
	unmount()
	// NTFSTEST_KEEP=FILE keeps a copy of the volume, to look at it with
	// istat or run mftbench on it.
	if keep := os.Getenv("NTFSTEST_KEEP"); keep != "" {
		b, err := os.ReadFile(img)
		must(err)
		must(os.WriteFile(keep, b, 0o644))
	}
	return img, entries
}

// FragmentedMFTVolume formats a small volume (1 KiB clusters, 1 KiB
// records) and fills it through ntfs-3g until the $MFT outgrows record 0:
// 1 KiB files fill the volume, every other one is removed, and empty files
// are created until no space is left, so that the $MFT grows into the
// one-cluster holes, one run each, until record 0 carries an
// $ATTRIBUTE_LIST and the last extents of its $DATA (and its $FILE_NAME)
// lie in extension records. The many/ folder holds the empty files, one
// in a hundred of them deleted (free records all along the $MFT); fill/
// the files left. It takes about five
// seconds; the test skips when FUSE is not allowed.
func FragmentedMFTVolume(t testing.TB) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "fragmented-mft.img")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	Format(t, img, 8<<20, "-c", "1024")
	mnt, unmount := Mount(t, img)
	must(os.Mkdir(filepath.Join(mnt, "fill"), 0o755))
	block := bytes.Repeat([]byte{'f'}, 1024)
	var fill []string
	for i := 0; i < 100000; i++ {
		p := filepath.Join(mnt, "fill", fmt.Sprintf("f%05d", i))
		if err := os.WriteFile(p, block, 0o644); err != nil {
			os.Remove(p)
			break
		}
		fill = append(fill, p)
	}
	for i := 0; i < len(fill); i += 2 {
		must(os.Remove(fill[i]))
	}
	must(os.Mkdir(filepath.Join(mnt, "many"), 0o755))
	var many []string
	for i := 0; i < 100000; i++ {
		p := filepath.Join(mnt, "many", fmt.Sprintf("e%05d", i))
		f, err := os.Create(p)
		if err != nil {
			break
		}
		f.Close()
		many = append(many, p)
	}
	for i := 50; i < len(many); i += 100 {
		must(os.Remove(many[i]))
	}
	unmount()
	if keep := os.Getenv("NTFSTEST_KEEP"); keep != "" {
		b, err := os.ReadFile(img)
		must(err)
		must(os.WriteFile(keep, b, 0o644))
	}
	return img
}
