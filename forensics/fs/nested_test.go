package fs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
)

// TestNested builds archives inside archives inside a folder from the real
// corpus files and checks every layer of every chain and the bytes at the
// bottom.
func TestNested(t *testing.T) {
	syslog := readCorpus(t, "logs/syslog/syslog_copy")
	wtmp := readCorpus(t, "logs/linux/wtmp.1")
	tgz := readCorpus(t, "archives/syslog.tgz")
	szip := readCorpus(t, "archives/syslog.zip")
	sgz := readCorpus(t, "archives/syslog.gz")
	sxz := readCorpus(t, "archives/syslog.xz")
	tgzName, _ := gzipHeader(tgz)
	gzName, _ := gzipHeader(sgz)

	ev := filepath.Join(t.TempDir(), "evidence")
	write(t, filepath.Join(ev, "a", "syslog.tgz"), tgz)
	write(t, filepath.Join(ev, "inner.zip"), makeZip(t,
		member{name: "logs/syslog.tgz", data: tgz},
		member{name: "stored/syslog.zip", data: szip, store: true},
		member{name: "deep/syslog.gz", data: sgz},
	))
	write(t, filepath.Join(ev, "outer.tar.gz"), makeGzip(t, "", makeTar(t,
		member{name: "folder/syslog.zip", data: szip},
		member{name: "folder/plain/syslog_copy", data: syslog},
		member{name: "folder/syslog.xz", data: sxz},
	)))
	write(t, filepath.Join(ev, "plain", "auth.log"), syslog)

	tmp := filepath.Join(t.TempDir(), "casetmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	items, probs := fstest.Contract(t, open(t, ev, jfs.Options{TempDir: tmp}))
	items = members(items)
	dumpProblems(t, probs)
	if len(probs) != 0 {
		t.Errorf("%d problems", len(probs))
	}
	s, w := sum(syslog), sum(wtmp)
	want := []struct {
		chain []string
		sha   string
		path  string
	}{
		{[]string{"dir:a/syslog.tgz", "gzip:" + tgzName, "tar:syslog"}, s, "syslog"},
		{[]string{"dir:inner.zip", "zip:logs/syslog.tgz", "gzip:" + tgzName, "tar:syslog"}, s, "syslog"},
		{[]string{"dir:inner.zip", "zip:stored/syslog.zip", "zip:syslog"}, s, "syslog"},
		{[]string{"dir:inner.zip", "zip:stored/syslog.zip", "zip:wtmp.1"}, w, "wtmp.1"},
		{[]string{"dir:inner.zip", "zip:deep/syslog.gz", "gzip:" + gzName}, s, gzName},
		{[]string{"dir:outer.tar.gz", "gzip:", "tar:folder/syslog.zip", "zip:syslog"}, s, "syslog"},
		{[]string{"dir:outer.tar.gz", "gzip:", "tar:folder/syslog.zip", "zip:wtmp.1"}, w, "wtmp.1"},
		{[]string{"dir:outer.tar.gz", "gzip:", "tar:folder/plain/syslog_copy"}, s, "folder/plain/syslog_copy"},
		{[]string{"dir:outer.tar.gz", "gzip:", "tar:folder/syslog.xz", "xz:"}, s, "syslog"},
		{[]string{"dir:plain/auth.log"}, s, "plain/auth.log"},
	}
	if len(items) != len(want) {
		t.Fatalf("got %d entries %q, want %d", len(items), keys(items), len(want))
	}
	for i, wt := range want {
		it := items[i]
		if !slices.Equal(it.Chain, wt.chain) || it.SHA256 != wt.sha || it.Path != wt.path {
			t.Errorf("entry %d: chain %q path %q sha %.12s, want %q %q %.12s", i, it.Chain, it.Path, it.SHA256, wt.chain, wt.path, wt.sha)
		}
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("temp dir not cleaned: %v", ents)
	}
}

// TestDebianTools walks archives made by GNU tar and Info-ZIP from a real
// folder: "./"-prefixed names must not count as unsafe.
func TestDebianTools(t *testing.T) {
	for _, tool := range []string{"tar", "zip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian packages tar, zip)", tool)
		}
	}
	syslog := readCorpus(t, "logs/syslog/syslog_copy")
	wtmp := readCorpus(t, "logs/linux/wtmp.1")
	src := t.TempDir()
	write(t, filepath.Join(src, "var/log/syslog"), syslog)
	write(t, filepath.Join(src, "var/log/wtmp.1"), wtmp)
	ev := t.TempDir()
	run := func(dir string, args ...string) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%q: %v\n%s", args, err, out)
		}
	}
	run(src, "tar", "-czf", filepath.Join(ev, "logs.tgz"), ".")
	run(src, "tar", "-cJf", filepath.Join(ev, "logs.txz"), "var")
	run(src, "tar", "-cjf", filepath.Join(ev, "logs.tbz"), "--format=v7", "var")
	run(src, "zip", "-qr", filepath.Join(ev, "logs.zip"), "var")
	all, probs := fstest.Contract(t, open(t, ev, jfs.Options{}))
	dumpProblems(t, probs)
	if len(probs) != 0 {
		t.Errorf("%d problems", len(probs))
	}
	checkContainers(t, ev, all, [][]string{
		{"dir:logs.tbz"}, {"dir:logs.tbz", "bzip2:"},
		{"dir:logs.tgz"}, {"dir:logs.tgz", "gzip:"},
		{"dir:logs.txz"}, {"dir:logs.txz", "xz:"},
		{"dir:logs.zip"},
	})
	items := members(all)
	got := byChain(items)
	for _, c := range [][]string{
		{"dir:logs.tbz", "bzip2:", "tar:var/log/syslog"},
		{"dir:logs.tgz", "gzip:", "tar:var/log/syslog"},
		{"dir:logs.txz", "xz:", "tar:var/log/syslog"},
		{"dir:logs.zip", "zip:var/log/syslog"},
	} {
		it, ok := got[key(c...)]
		if !ok {
			t.Errorf("missing %q in %q", c, keys(items))
			continue
		}
		if it.SHA256 != sum(syslog) {
			t.Errorf("%q: content differs", c)
		}
		if it.Size != int64(len(syslog)) {
			t.Errorf("%q: size %d", c, it.Size)
		}
	}
	if n := len(items); n != 8 {
		t.Errorf("%d entries, want 8 (2 files x 4 archives): %q", n, keys(items))
	}
}

// TestSpool forces a zip found in a tar.gz through a temporary file, checks
// that the file lives in Options.TempDir only while needed, and that
// without a TempDir the zip is reported, not written elsewhere.
func TestSpool(t *testing.T) {
	szip := readCorpus(t, "archives/syslog.zip")
	ev := filepath.Join(t.TempDir(), "ev.tgz")
	write(t, ev, makeGzip(t, "", makeTar(t, member{name: "in.zip", data: szip})))
	sysTmp := t.TempDir()
	t.Setenv("TMPDIR", sysTmp)

	tmp := t.TempDir()
	seen := 0
	w := open(t, ev, jfs.Options{TempDir: tmp, SpoolMemory: 100})
	err := w.Walk(context.Background(), func(ctx context.Context, e *jfs.Entry) error {
		if ents, _ := os.ReadDir(tmp); len(ents) == 1 {
			seen++
		}
		return nil
	}, func(p *jfs.Problem) { t.Errorf("problem: %v", p) })
	if err != nil {
		t.Fatal(err)
	}
	if seen != 2 {
		t.Errorf("spool file present during %d of 2 members", seen)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("spool left behind: %v", ents)
	}

	items, probs, err := fstest.Collect(context.Background(), open(t, ev, jfs.Options{SpoolMemory: 100}))
	items = members(items)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 0 || findProblem(probs, jfs.ErrNoSpool, "gzip:", "tar:in.zip") == nil {
		t.Errorf("without TempDir: items %q, problems %v", keys(items), probs)
	}
	if ents, _ := os.ReadDir(sysTmp); len(ents) != 0 {
		t.Errorf("wrote to the system temp dir: %v", ents)
	}
}

// TestSpoolLimit: a zip in a stream larger than Options.SpoolLimit is
// reported and skipped, its spool file gone, and a member after it in the
// same tar still delivered; one exactly at the limit is read.
func TestSpoolLimit(t *testing.T) {
	szip := readCorpus(t, "archives/syslog.zip")
	syslog := readCorpus(t, "logs/syslog/syslog_copy")
	ev := filepath.Join(t.TempDir(), "ev.tgz")
	write(t, ev, makeGzip(t, "", makeTar(t, member{name: "in.zip", data: szip}, member{name: "after.log", data: syslog})))
	for _, tc := range []struct {
		limit   int64
		skipped bool
	}{{int64(len(szip)) - 1, true}, {int64(len(szip)), false}, {0, false}} {
		tmp := t.TempDir()
		items, probs, err := fstest.Collect(context.Background(), open(t, ev, jfs.Options{TempDir: tmp, SpoolMemory: 100, SpoolLimit: tc.limit}))
		if err != nil {
			t.Fatal(err)
		}
		zipped := 0
		after := false
		for _, it := range members(items) {
			if len(it.Chain) == 3 && it.Chain[1] == "tar:in.zip" {
				zipped++
			}
			after = after || (it.Path == "after.log" && it.SHA256 == sum(syslog))
		}
		p := findProblem(probs, jfs.ErrNoSpool, "gzip:", "tar:in.zip")
		if tc.skipped && (p == nil || zipped != 0) || !tc.skipped && (p != nil || zipped != 2) || !after {
			t.Errorf("limit %d (zip of %d bytes): %d zip members, after.log %v, problem %v", tc.limit, len(szip), zipped, after, p)
		}
		if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
			t.Errorf("limit %d: spool left behind: %v", tc.limit, ents)
		}
	}
}

// TestDepth nests gzip ten deep around a real log.
func TestDepth(t *testing.T) {
	syslog := readCorpus(t, "logs/syslog/syslog_copy")
	b := syslog
	for range 10 {
		b = makeGzip(t, "", b)
	}
	ev := filepath.Join(t.TempDir(), "deep.gz")
	write(t, ev, b)

	items, probs := fstest.Contract(t, open(t, ev, jfs.Options{}))
	items = members(items)
	if len(items) != 1 || len(items[0].Chain) != jfs.DefaultMaxDepth {
		t.Fatalf("items %q", keys(items))
	}
	if items[0].SHA256 == sum(syslog) {
		t.Error("expanded beyond MaxDepth")
	}
	p := findProblem(probs, jfs.ErrTooDeep, items[0].Chain...)
	if p == nil {
		t.Errorf("no depth problem for %q: %v", items[0].Chain, probs)
	}

	items, probs = fstest.Contract(t, open(t, ev, jfs.Options{MaxDepth: 12}))
	items = members(items)
	if len(probs) != 0 || len(items) != 1 || items[0].SHA256 != sum(syslog) || len(items[0].Chain) != 10 {
		t.Errorf("MaxDepth 12: items %q problems %v", keys(items), probs)
	}
}

// TestExpansionLimit: a deflated run of zeros stands in for a zip bomb.
func TestExpansionLimit(t *testing.T) {
	syslog := readCorpus(t, "logs/syslog/syslog_copy")
	zeros := make([]byte, 8<<20)
	ev := filepath.Join(t.TempDir(), "bomb.zip")
	write(t, ev, makeZip(t,
		member{name: "zeros", data: zeros},
		member{name: "after.log", data: syslog, store: true},
	))
	for _, opts := range []jfs.Options{{MaxExpanded: 1 << 20}, {MaxRatio: 100}} {
		items, probs := fstest.Contract(t, open(t, ev, opts))
		p := findProblem(probs, jfs.ErrExpansionLimit, "zip:zeros")
		if p == nil {
			t.Errorf("%+v: no expansion problem: %v", opts, probs)
		}
		got := byChain(items)
		if got[key("zip:after.log")].SHA256 != sum(syslog) {
			t.Errorf("%+v: the member after the bomb was not delivered: %q", opts, keys(items))
		}
		if z := got[key("zip:zeros")]; z.Read >= int64(len(zeros)) {
			t.Errorf("%+v: bomb fully expanded (%d bytes)", opts, z.Read)
		}
	}
	_, probs, _ := fstest.Collect(context.Background(), open(t, ev, jfs.Options{}))
	for _, p := range probs {
		if errors.Is(p.Err, jfs.ErrExpansionLimit) {
			t.Errorf("default limits stopped an 8 MiB member: %v", p)
		}
	}
}

// checkContainers: each archive is delivered once as a container, before
// any of its members, with no content; one on disk has the times stat
// gives, and a compressed stream's member inherits its container's times
// only when its format records none (bzip2, xz), marked so that they are
// not that member's events a second time.
func checkContainers(t *testing.T, dir string, items []fstest.Item, want [][]string) {
	t.Helper()
	var got []string
	seen := map[string]bool{}
	by := byChain(items)
	for _, it := range items {
		k := it.Key()
		for i := 1; i < len(it.Chain); i++ {
			if p := key(it.Chain[:i]...); !seen[p] {
				t.Errorf("%s delivered before its container %s", k, p)
			}
		}
		seen[k] = true
		if !it.Container {
			if it.InheritedTimes && len(it.Chain) > 1 && it.Times != by[key(it.Chain[:len(it.Chain)-1]...)].Times {
				t.Errorf("%s: inherited times differ from its container's", k)
			}
			continue
		}
		got = append(got, k)
		if len(it.Chain) == 1 {
			fi, err := os.Stat(filepath.Join(dir, it.Path))
			if err != nil {
				t.Fatal(err)
			}
			if !it.Times.Modified.Equal(fi.ModTime()) || it.Inode == "" || it.Size != fi.Size() {
				t.Errorf("%s: container times %v inode %q size %d, stat says mtime %v size %d", k, it.Times, it.Inode, it.Size, fi.ModTime(), fi.Size())
			}
		}
		if kind, _, _ := strings.Cut(it.Chain[len(it.Chain)-1], ":"); (kind == "bzip2" || kind == "xz") && !it.InheritedTimes {
			t.Errorf("%s: a %s member records no time of its own, yet its times are not marked inherited", k, kind)
		}
	}
	var w []string
	for _, c := range want {
		w = append(w, key(c...))
	}
	if !slices.Equal(got, w) {
		t.Errorf("containers:\n got %q\nwant %q", got, w)
	}
}

// TestLayeredExpanders: a file system walker that expands what it yields
// (NTFS) feeds a disk walker's Expander. The container it announces passes
// through the second Expander as it is, once, with no problem reported:
// it is not sniffed again (it has no content).
func TestLayeredExpanders(t *testing.T) {
	z := makeZip(t, member{name: "a.log", data: []byte("line\n")})
	var got []string
	var probs []*jfs.Problem
	report := func(p *jfs.Problem) { probs = append(probs, p) }
	outer := jfs.NewExpander(context.Background(), jfs.Options{}, func(_ context.Context, e *jfs.Entry) error {
		got = append(got, fmt.Sprintf("%s container=%v", key(e.Chain...), e.Container))
		return nil
	}, report)
	inner := jfs.NewExpander(context.Background(), jfs.Options{}, func(_ context.Context, e *jfs.Entry) error {
		return outer.Entry(e)
	}, report)
	e := jfs.NewEntry("doc.docx", []string{"ntfs:doc.docx"}, int64(len(z)),
		func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(z)), nil },
		func() (io.ReaderAt, error) { return bytes.NewReader(z), nil })
	if err := inner.Entry(e); err != nil {
		t.Fatal(err)
	}
	want := []string{"ntfs:doc.docx container=true", "ntfs:doc.docx > zip:a.log container=false"}
	if !slices.Equal(got, want) || len(probs) > 0 {
		t.Errorf("got %q, problems %v; want %q", got, probs, want)
	}
}
