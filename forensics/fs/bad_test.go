package fs_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
)

// contents hashes every regular file under root. It reads, so it moves
// atimes: take it before setting them and after checking them.
func contents(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		m[p] = sum(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type fileTimes struct{ mtime, atime time.Time }

// times stats the given paths (stat only: no reads, no listing).
func times(t *testing.T, paths []string) map[string]fileTimes {
	t.Helper()
	m := map[string]fileTimes{}
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		ft := fileTimes{mtime: fi.ModTime()}
		ft.atime = atime(fi)
		m[p] = ft
	}
	return m
}

// TestBadInput walks a folder of damaged and hostile files: each is
// reported with its chain (and offset where the damage is), everything
// readable is still delivered, and neither the evidence nor anything
// outside the given temp dir changes.
func TestBadInput(t *testing.T) {
	syslog := readCorpus(t, "logs/syslog/syslog_copy")
	wtmp := readCorpus(t, "logs/linux/wtmp.1")
	sgz := readCorpus(t, "archives/syslog.gz")
	star := readCorpus(t, "archives/syslog.tar")
	sbz := readCorpus(t, "archives/syslog.bz2")
	sxz := readCorpus(t, "archives/syslog.xz")
	szip := readCorpus(t, "archives/syslog.zip")
	gzName, _ := gzipHeader(sgz)

	ev := filepath.Join(t.TempDir(), "evidence")
	write(t, filepath.Join(ev, "trunc/syslog.gz"), sgz[:len(sgz)/2])
	write(t, filepath.Join(ev, "trunc/syslog.tar"), star[:512+600])
	write(t, filepath.Join(ev, "trunc/syslog.bz2"), sbz[:len(sbz)/2])
	write(t, filepath.Join(ev, "trunc/syslog.xz"), sxz[:len(sxz)/2])
	write(t, filepath.Join(ev, "trunc/syslog.zip"), szip[:700]) // cut inside wtmp.1, before the central directory
	write(t, filepath.Join(ev, "evil.zip"), makeZip(t,
		member{name: "../evil", data: syslog},
		member{name: "/etc/cron.d/x", data: syslog},
		member{name: "good.txt", data: syslog},
	))
	write(t, filepath.Join(ev, "x.log"), wtmp) // binary under a log's name
	write(t, filepath.Join(ev, "empty.log"), nil)
	write(t, filepath.Join(ev, "ok/syslog_copy"), syslog)
	link := os.Symlink("/etc/passwd", filepath.Join(ev, "link")) == nil // needs a privilege on Windows
	fifo := mkfifo(filepath.Join(ev, "fifo"))
	sysTmp := t.TempDir()
	t.Setenv("TMPDIR", sysTmp)
	caseTmp := t.TempDir()
	hashes := contents(t, ev)
	// Old atimes, older than the mtimes: any plain read or listing would
	// move them, even under relatime.
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	paths := []string{ev}
	filepath.WalkDir(ev, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != ev && d.Type()&fs.ModeSymlink == 0 {
			paths = append(paths, p)
		}
		return nil
	})
	for i := len(paths) - 1; i >= 0; i-- {
		os.Chtimes(paths[i], old, old.Add(time.Hour))
	}
	before := times(t, paths)

	items, probs := fstest.Contract(t, open(t, ev, jfs.Options{TempDir: caseTmp}))
	dumpProblems(t, probs)
	got := byChain(items)

	// Truncated compressed streams: a problem at the layer that broke, with
	// the offset reached, and the content read before it delivered.
	for _, tc := range []struct {
		chain []string
		size  int
	}{
		{[]string{"dir:trunc/syslog.gz", "gzip:" + gzName}, len(sgz) / 2},
		{[]string{"dir:trunc/syslog.bz2", "bzip2:"}, len(sbz) / 2},
		{[]string{"dir:trunc/syslog.xz", "xz:"}, len(sxz) / 2},
		{[]string{"dir:trunc/syslog.tar", "tar:syslog"}, 512 + 600},
	} {
		p := findProblem(probs, jfs.ErrTruncated, tc.chain...)
		if p == nil {
			t.Errorf("%q: no truncation problem", tc.chain)
			continue
		}
		if p.Offset <= 0 || p.Offset > int64(tc.size) || p.Path == "" {
			t.Errorf("%q: offset %d (file has %d bytes), path %q", tc.chain, p.Offset, tc.size, p.Path)
		}
		it, ok := got[key(tc.chain...)]
		if !ok {
			t.Errorf("%q: partial content not delivered", tc.chain)
			continue
		}
		b := partial(t, ev, it)
		if !bytes.HasPrefix(syslog, b) {
			t.Errorf("%q: delivered bytes are not a prefix of the original", tc.chain)
		}
		t.Logf("%q: %d bytes recovered, problem: %v", tc.chain, it.Read, p)
	}
	// gzip and tar keep their data in order; at least the first lines survive.
	for _, c := range [][]string{{"dir:trunc/syslog.gz", "gzip:" + gzName}, {"dir:trunc/syslog.tar", "tar:syslog"}} {
		if got[key(c...)].Read < 500 {
			t.Errorf("%q: only %d bytes recovered", c, got[key(c...)].Read)
		}
	}

	// A zip cut before its central directory: its first member recovered
	// from the local headers, the cut one reported.
	if findProblem(probs, jfs.ErrCorrupt, "dir:trunc/syslog.zip") == nil {
		t.Error("zip without central directory not reported")
	}
	if got[key("dir:trunc/syslog.zip", "zip:syslog")].SHA256 != sum(syslog) {
		t.Error("first member of the truncated zip not recovered")
	}
	if p := findProblem(probs, jfs.ErrTruncated, "dir:trunc/syslog.zip", "zip:wtmp.1"); p == nil || p.Offset < 577 || p.Offset > 700 {
		t.Errorf("cut zip member: problem %v", p)
	}

	// Unsafe member names: reported naming archive and member, walked
	// under a clean name.
	for _, tc := range []struct{ raw, clean string }{{"../evil", "evil"}, {"/etc/cron.d/x", "etc/cron.d/x"}} {
		p := findProblem(probs, jfs.ErrUnsafePath, "dir:evil.zip", "zip:"+tc.clean)
		if p == nil || p.Path != tc.raw {
			t.Errorf("%s: no unsafe-path problem (got %v)", tc.raw, p)
		}
		if got[key("dir:evil.zip", "zip:"+tc.clean)].SHA256 != sum(syslog) {
			t.Errorf("%s: content not walked", tc.raw)
		}
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(ev), "evil")); err == nil {
		t.Error("something extracted next to the evidence")
	}

	for k, want := range map[string]string{
		key("dir:x.log"):                    sum(wtmp),
		key("dir:empty.log"):                sum(nil),
		key("dir:ok/syslog_copy"):           sum(syslog),
		key("dir:evil.zip", "zip:good.txt"): sum(syslog),
	} {
		if got[k].SHA256 != want {
			t.Errorf("%s: not delivered intact (%q)", k, keys(items))
		}
	}
	if e := got[key("dir:empty.log")]; e.Size != 0 {
		t.Errorf("empty file: size %d", e.Size)
	}
	// A link and a FIFO are on the timeline for their own times (the link
	// with its target), never followed or opened.
	if e, ok := got[key("dir:link")]; link && (!ok || e.Mode&fs.ModeSymlink == 0 || e.Link != "/etc/passwd" || e.Read != 0 || e.SHA256 != "") {
		t.Errorf("symlink: delivered %v as %+v, want times only with its target", ok, e)
	}
	if e, ok := got[key("dir:fifo")]; fifo && (!ok || e.Mode&fs.ModeNamedPipe == 0 || e.Times.Modified.IsZero() || e.Read != 0) {
		t.Errorf("fifo: delivered %v as %+v, want times only", ok, e)
	}
	for _, p := range probs {
		if slices.Equal(p.Chain, []string{"dir:link"}) || slices.Equal(p.Chain, []string{"dir:fifo"}) {
			t.Errorf("link or fifo reported as a problem: %v", p)
		}
	}

	// Symlinks are left out: reading a link's target (worth reporting: a
	// log replaced by a link to /dev/null) touches its atime on Linux, and
	// no open flag avoids that.
	after := times(t, paths)
	for p, b := range before {
		if a := after[p]; !a.mtime.Equal(b.mtime) || !a.atime.Equal(b.atime) {
			t.Errorf("%s: times changed by the walk: %+v -> %+v", p, b, a)
		}
	}
	if h := contents(t, ev); !maps.Equal(h, hashes) {
		t.Errorf("evidence content changed: %v -> %v", hashes, h)
	}
	for _, d := range []string{sysTmp, caseTmp} {
		if ents, _ := os.ReadDir(d); len(ents) != 0 {
			t.Errorf("%s holds %v after the walk", d, ents)
		}
	}
}

// partial re-reads a damaged entry's delivered bytes (Collect kept only a
// hash) by walking again.
func partial(t *testing.T, ev string, want fstest.Item) []byte {
	t.Helper()
	var out []byte
	open(t, ev, jfs.Options{}).Walk(context.Background(), func(ctx context.Context, e *jfs.Entry) error {
		if key(e.Chain...) != want.Key() {
			return nil
		}
		rc, err := e.Open()
		if err != nil {
			return err
		}
		defer rc.Close()
		var buf bytes.Buffer
		_, err = buf.ReadFrom(rc)
		out = buf.Bytes()
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("%s: reader returned %v; damage must end in EOF plus a Problem", want.Key(), err)
		}
		return nil
	}, func(*jfs.Problem) {})
	return out
}
