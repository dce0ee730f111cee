package fstest

// The Sleuth Kit as the oracle of the file-system walkers: fls's bodyfile
// and a walk reduced to the same facts, compared line by line. The ext4
// and FAT tests each had their own copy of this; what differs between
// file systems is only which of TSK's pseudo-files are left out (FlsSkip).

import (
	"bufio"
	"context"
	"fmt"
	iofs "io/fs"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

// Body is one bodyfile line (fls -m), or the same facts from a walk.
type Body struct {
	Path    string // "/" and the path, without " (deleted)"
	Inode   string
	Deleted bool
	Type    byte   // TSK's meta type letter: 'r', 'd', 'l', 'c', 'b', 'p', 'h'
	Link    string // a symbolic link's target
	Size    int64
	// Times in Unix seconds, 0 for none: accessed, modified, changed, born.
	Atime, Mtime, Ctime, Crtime int64
}

// Key identifies a body in Fls's and WalkBodies's maps: path and inode.
func (b Body) Key() string { return b.Path + "|" + b.Inode }

func (b Body) String() string {
	s := fmt.Sprintf("%s inode %s deleted=%v type=%c size=%d a=%d m=%d c=%d b=%d",
		b.Path, b.Inode, b.Deleted, b.Type, b.Size, b.Atime, b.Mtime, b.Ctime, b.Crtime)
	if b.Type == 'l' || b.Link != "" {
		s += fmt.Sprintf(" link=%q", b.Link)
	}
	return s
}

// FlsSkip reports whether a line of fls, parsed into b from its eleven
// fields f, is one of TSK's pseudo-files of a file system that the walker
// does not deliver (nil: none).
type FlsSkip func(b Body, f []string) bool

// Fls runs fls -r -m on the file system at sector offset of image, reading
// local times in zone ("" leaves fls's default, UTC), and returns its lines
// by Key. Left out are names whose inode TSK cannot type ('-'), TSK's
// virtual $OrphanFiles folder ('V'), and what skip reports.
func Fls(t testing.TB, image string, sector int64, zone string, skip FlsSkip) map[string]Body {
	t.Helper()
	oracle.Tool(t, "fls", "sleuthkit")
	args := []string{"-r", "-m", "/", "-o", strconv.FormatInt(sector, 10)}
	if zone != "" {
		args = append(args, "-z", zone)
	}
	out := string(oracle.Output(t, "fls", append(args, image)...))
	m := map[string]Body{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		if len(f) != 11 {
			t.Fatalf("fls line %q", sc.Text())
		}
		if len(f[3]) < 3 || f[3][2] == 'V' || f[3][2] == '-' {
			continue
		}
		b := Body{Path: f[1], Inode: f[2], Type: f[3][2]}
		if i := strings.Index(b.Path, " (deleted"); i >= 0 {
			b.Path, b.Deleted = b.Path[:i], true
		}
		if b.Type == 'l' {
			// fls prints a link as "name -> target".
			if i := strings.LastIndex(b.Path, " -> "); i >= 0 {
				b.Path, b.Link = b.Path[:i], b.Path[i+4:]
			}
		}
		if skip != nil && skip(b, f) {
			continue
		}
		b.Size, _ = strconv.ParseInt(f[6], 10, 64)
		b.Atime, _ = strconv.ParseInt(f[7], 10, 64)
		b.Mtime, _ = strconv.ParseInt(f[8], 10, 64)
		b.Ctime, _ = strconv.ParseInt(f[9], 10, 64)
		b.Crtime, _ = strconv.ParseInt(f[10], 10, 64)
		m[b.Key()] = b
	}
	return m
}

// FlsTime is how long one fls -r -m / over image takes, for benchmarks to
// report beside their own rate; 0 when fls is not installed or fails (the
// benchmark then reports no comparison rather than skip).
func FlsTime(image string) time.Duration {
	if _, err := exec.LookPath("fls"); err != nil {
		return 0
	}
	start := time.Now()
	if err := exec.Command("fls", "-r", "-m", "/", image).Run(); err != nil {
		return 0
	}
	return time.Since(start)
}

// FATPseudoFiles is FlsSkip for FAT and exFAT: TSK's virtual files ('v':
// $MBR, $FAT1, $FAT2), its orphan search under $OrphanFiles (not done by
// the walker), exFAT's metadata files, and exFAT's volume label, which TSK
// lists as a file with no times.
func FATPseudoFiles(b Body, f []string) bool {
	switch {
	case b.Type == 'v':
		return true
	case strings.HasPrefix(b.Path, "/$OrphanFiles/"):
		return true
	case b.Path == "/$ALLOC_BITMAP", b.Path == "/$UPCASE_TABLE", b.Path == "/$TexFAT":
		return true
	}
	return strings.HasSuffix(b.Path, "(Volume Label Entry)") && f[0] == "0" && f[7] == "0" && f[8] == "0" && f[10] == "0" && strings.HasPrefix(f[3], "r/r--x")
}

// WalkBodies walks w and returns its entries as bodies and as entries,
// both by Key, and the problems. An unsafe path or an entry delivered
// twice fails the test.
func WalkBodies(t testing.TB, w jfs.Walker) (map[string]Body, map[string]*jfs.Entry, []*jfs.Problem) {
	t.Helper()
	got := map[string]Body{}
	entries := map[string]*jfs.Entry{}
	var probs []*jfs.Problem
	err := w.Walk(context.Background(), func(_ context.Context, e *jfs.Entry) error {
		if !jfs.IsSafePath(e.Path) {
			t.Errorf("unsafe path %q", e.Path)
		}
		b := Body{Path: "/" + tskName(e.Path), Inode: e.Inode, Deleted: e.Deleted, Size: e.Size, Type: tskType(e.Mode), Link: e.Link}
		b.Atime, b.Mtime, b.Ctime, b.Crtime = secs(e.Times.Accessed), secs(e.Times.Modified), secs(e.Times.Changed), secs(e.Times.Born)
		if _, dup := got[b.Key()]; dup {
			t.Errorf("entry yielded twice: %s", b)
		}
		got[b.Key()] = b
		c := *e
		entries[b.Key()] = &c
		return nil
	}, func(p *jfs.Problem) { probs = append(probs, p) })
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	return got, entries, probs
}

// DiffBodies compares a walk with fls and returns the differences, sorted.
func DiffBodies(want, got map[string]Body) []string {
	var diffs []string
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			diffs = append(diffs, "missing: "+w.String())
		case g != w:
			diffs = append(diffs, "fls:  "+w.String()+"\n  ours: "+g.String())
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, "extra: "+g.String())
		}
	}
	sort.Strings(diffs)
	return diffs
}

// OpenFile opens an image for the test's duration and returns its size.
func OpenFile(t testing.TB, path string) (*os.File, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return f, st.Size()
}

// tskType is the letter TSK gives a meta type.
func tskType(m iofs.FileMode) byte {
	switch {
	case m.IsDir():
		return 'd'
	case m&iofs.ModeSymlink != 0:
		return 'l'
	case m&iofs.ModeCharDevice != 0:
		return 'c'
	case m&iofs.ModeDevice != 0:
		return 'b'
	case m&iofs.ModeNamedPipe != 0:
		return 'p'
	case m&iofs.ModeSocket != 0:
		return 'h'
	}
	return 'r'
}

// tskName is how fls prints a name: control characters as '^'.
func tskName(p string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '^'
		}
		return r
	}, p)
}

// secs is a time as the bodyfile holds it: Unix seconds, 0 for none.
func secs(tm time.Time) int64 {
	if tm.IsZero() {
		return 0
	}
	return tm.Unix()
}
