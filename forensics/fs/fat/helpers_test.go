package fat

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

func TestMain(m *testing.M) { oracle.Main(m) }

// body is one bodyfile line (fls -m), or the same facts from our walk.
type body struct {
	path                       string // without " (deleted)"
	inode                      string
	deleted                    bool
	metaType                   byte // 'r', 'd'
	size                       int64
	atime, mtime, ctime, crtim int64
}

func (b body) key() string { return b.path + "|" + b.inode }

func (b body) String() string {
	return fmt.Sprintf("%s inode %s deleted=%v type=%c size=%d a=%d m=%d c=%d b=%d",
		b.path, b.inode, b.deleted, b.metaType, b.size, b.atime, b.mtime, b.ctime, b.crtim)
}

// fls runs The Sleuth Kit on the file system at sector offset, reading
// local times in zone, and keeps the entries of directories (not TSK's
// virtual $MBR, $FAT1, $OrphanFiles, nor exFAT's metadata pseudo-files).
func fls(t testing.TB, image string, sector int64, zone string) map[string]body {
	t.Helper()
	oracle.Tool(t, "fls", "sleuthkit")
	args := []string{"-r", "-m", "/", "-o", strconv.FormatInt(sector, 10)}
	if zone != "" {
		args = append(args, "-z", zone)
	}
	out := string(oracle.Output(t, "fls", append(args, image)...))
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
		if len(f[3]) < 3 || f[3][2] == 'V' || f[3][2] == 'v' || f[3][2] == '-' {
			continue
		}
		if strings.HasPrefix(b.path, "/$OrphanFiles/") {
			continue // TSK's orphan search: not done by this walker
		}
		switch b.path {
		case "/$ALLOC_BITMAP", "/$UPCASE_TABLE", "/$TexFAT":
			continue
		}
		if strings.HasSuffix(b.path, "(Volume Label Entry)") && f[0] == "0" && f[7] == "0" && f[8] == "0" && f[10] == "0" && strings.HasPrefix(f[3], "r/r--x") {
			continue // exFAT's label: a pseudo-file with no times
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

func tskType(m fs.FileMode) byte {
	if m.IsDir() {
		return 'd'
	}
	return 'r'
}

func secs(tm time.Time) int64 {
	if tm.IsZero() {
		return 0
	}
	return tm.Unix()
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

// walkBodies walks w and returns its entries as bodies, the entries, and
// the problems.
func walkBodies(t testing.TB, w jfs.Walker) (map[string]body, map[string]*jfs.Entry, []*jfs.Problem) {
	t.Helper()
	got := map[string]body{}
	entries := map[string]*jfs.Entry{}
	var probs []*jfs.Problem
	err := w.Walk(context.Background(), func(_ context.Context, e *jfs.Entry) error {
		if !jfs.IsSafePath(e.Path) {
			t.Errorf("unsafe path %q", e.Path)
		}
		b := body{path: "/" + tskName(e.Path), inode: e.Inode, deleted: e.Deleted, size: e.Size, metaType: tskType(e.Mode)}
		b.atime, b.mtime, b.ctime, b.crtim = secs(e.Times.Accessed), secs(e.Times.Modified), secs(e.Times.Changed), secs(e.Times.Born)
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

// run runs a tool of the test's image build, failing the test when it
// fails. TZ is set so that the times mtools writes are known local times.
func run(t testing.TB, tz string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "TZ="+tz, "MTOOLS_SKIP_CHECK=1", "MTOOLS_NO_VFAT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
