// Package ntfstest gives the NTFS tests their real evidence and oracle:
// Debian's forensics-samples images, decompressed once per test binary, and
// The Sleuth Kit's fls bodyfile of them.
package ntfstest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/volume"
)

const samples = "/usr/share/forensics-samples"

// images holds the decompressed forensics-samples images for the whole test
// binary: decompressing 300 MB per test would dominate the run.
var images struct {
	sync.Mutex
	dir string
}

// Main runs a test binary's tests and removes the decompressed images; call
// it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if images.dir != "" {
		os.RemoveAll(images.dir)
	}
	os.Exit(code)
}

// SampleImage returns the decompressed fs.<name> image of Debian's
// forensics-samples-<pkg> package.
func SampleImage(t testing.TB, name, pkg string) string {
	t.Helper()
	src := filepath.Join(samples, "fs."+name+".xz")
	if _, err := os.Stat(src); err != nil {
		t.Skipf("%s missing: install the Debian package %s", src, pkg)
	}
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("xz missing: install the Debian package xz-utils")
	}
	images.Lock()
	defer images.Unlock()
	if images.dir == "" {
		d, err := os.MkdirTemp("", "jejak-ntfs-test-")
		if err != nil {
			t.Fatal(err)
		}
		images.dir = d
	}
	dst := filepath.Join(images.dir, "fs."+name)
	if _, err := os.Stat(dst); err == nil {
		return dst
	}
	out, err := os.Create(dst + ".part")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("xz", "-dc", src)
	cmd.Stdout = out
	if err := cmd.Run(); err != nil {
		t.Fatalf("xz -dc %s: %v", src, err)
	}
	out.Close()
	if err := os.Rename(dst+".part", dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

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
	if _, err := exec.LookPath("fls"); err != nil {
		t.Skip("fls missing: install the Debian package sleuthkit")
	}
	out, err := exec.Command("fls", "-r", "-m", "/", "-o", strconv.FormatInt(sector, 10), img).Output()
	if err != nil {
		t.Fatalf("fls: %v", err)
	}
	return ParseBody(t, string(out))
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
