// Package ntfstest gives the NTFS tests their oracle: The Sleuth Kit's fls
// bodyfile of an NTFS volume, and the NTFS partitions of a disk image (the
// images themselves come from internal/oracle.Sample).
package ntfstest

import (
	"bufio"
	"os"
	"strconv"
	"strings"
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
