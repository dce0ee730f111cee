package ext4

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

func TestMain(m *testing.M) { oracle.Main(m) }

// body is one bodyfile line (fls -m), or the same facts from our walk.
type body struct {
	path                       string // without " (deleted)"
	inode                      string
	deleted                    bool
	metaType                   byte // 'r', 'd', ...
	link                       string
	size                       int64
	atime, mtime, ctime, crtim int64
}

func (b body) key() string { return b.path + "|" + b.inode }

func (b body) String() string {
	return fmt.Sprintf("%s inode %s deleted=%v type=%c size=%d a=%d m=%d c=%d b=%d link=%q",
		b.path, b.inode, b.deleted, b.metaType, b.size, b.atime, b.mtime, b.ctime, b.crtim, b.link)
}

// fls runs The Sleuth Kit on the file system at sector offset and keeps
// the regular files and directories (what the walker yields).
func fls(t testing.TB, image string, sector int64) map[string]body {
	t.Helper()
	oracle.Tool(t, "fls", "sleuthkit")
	out := string(oracle.Run(t, "fls", "-r", "-m", "/", "-o", strconv.FormatInt(sector, 10), image))
	m := map[string]body{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		if len(f) != 11 {
			t.Fatalf("fls line %q", sc.Text())
		}
		b := body{path: f[1], inode: f[2]}
		if i := strings.Index(b.path, " (deleted"); i >= 0 {
			b.path, b.deleted = b.path[:i], true
		}
		if len(f[3]) < 3 || f[3][2] == 'V' || f[3][2] == '-' {
			continue // the virtual $OrphanFiles; names whose inode TSK cannot type
		}
		if f[3][2] == 'l' {
			// fls prints a link as "name -> target".
			if i := strings.LastIndex(b.path, " -> "); i >= 0 {
				b.path, b.link = b.path[:i], b.path[i+4:]
			}
		}
		b.metaType = f[3][2]
		b.size, _ = strconv.ParseInt(f[6], 10, 64)
		b.atime, _ = strconv.ParseInt(f[7], 10, 64)
		b.mtime, _ = strconv.ParseInt(f[8], 10, 64)
		b.ctime, _ = strconv.ParseInt(f[9], 10, 64)
		b.crtim, _ = strconv.ParseInt(f[10], 10, 64)
		m[b.key()] = b
	}
	return m
}

// tskType is the letter TSK gives a meta type.
func tskType(m fs.FileMode) byte {
	switch {
	case m.IsDir():
		return 'd'
	case m&fs.ModeSymlink != 0:
		return 'l'
	case m&fs.ModeCharDevice != 0:
		return 'c'
	case m&fs.ModeDevice != 0:
		return 'b'
	case m&fs.ModeNamedPipe != 0:
		return 'p'
	case m&fs.ModeSocket != 0:
		return 'h'
	}
	return 'r'
}

func secs(e *jfs.Entry) (a, m, c, b int64) {
	u := func(tm interface {
		IsZero() bool
		Unix() int64
	}) int64 {
		if tm.IsZero() {
			return 0
		}
		return tm.Unix()
	}
	return u(e.Times.Accessed), u(e.Times.Modified), u(e.Times.Changed), u(e.Times.Born)
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

// walkBodies walks w and returns its entries as bodies, plus the problems.
func walkBodies(t testing.TB, w jfs.Walker) (map[string]body, map[string]*jfs.Entry, []*jfs.Problem) {
	t.Helper()
	got := map[string]body{}
	entries := map[string]*jfs.Entry{}
	var probs []*jfs.Problem
	err := w.Walk(context.Background(), func(_ context.Context, e *jfs.Entry) error {
		b := body{path: "/" + tskName(e.Path), inode: e.Inode, deleted: e.Deleted, size: e.Size, metaType: tskType(e.Mode), link: e.Link}
		b.atime, b.mtime, b.ctime, b.crtim = secs(e)
		if _, dup := got[b.key()]; dup {
			t.Errorf("entry yielded twice: %s", b)
		}
		got[b.key()] = b
		c := *e
		entries[b.key()] = &c
		return nil
	}, func(p *jfs.Problem) { probs = append(probs, p) })
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	return got, entries, probs
}

// diffBodies compares our walk with fls and returns the differences.
func diffBodies(want, got map[string]body) []string {
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

// istatTimes returns the four times istat prints for an inode, with their
// nanoseconds, as "Accessed:2020-10-27 05:15:44.123456789" lines.
func istatTimes(t testing.TB, image string, sector int64, inode string) map[string]string {
	t.Helper()
	out := string(oracle.Run(t, "istat", "-o", strconv.FormatInt(sector, 10), image, inode))
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		for _, k := range []string{"Accessed", "File Modified", "Inode Modified", "File Created"} {
			if v, ok := strings.CutPrefix(line, k+":"); ok {
				if _, seen := m[k]; !seen { // the first block is the inode's
					m[k] = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "(UTC)"))
				}
			}
		}
	}
	return m
}

func openFile(t testing.TB, path string) (*os.File, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	return f, st.Size()
}
