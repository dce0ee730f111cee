package disk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

func TestMain(m *testing.M) { oracle.Main(m) }

// mmlsStarts returns the byte offsets of the partitions mmls lists.
func mmlsStarts(t testing.TB, path string) []int64 {
	t.Helper()
	oracle.Tool(t, "mmls", "sleuthkit")
	var starts []int64
	re := regexp.MustCompile(`^\d+:\s+\d+:\d+\s+(\d+)\s+`)
	for _, line := range strings.Split(string(oracle.Run(t, "mmls", path)), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			s, _ := strconv.ParseInt(m[1], 10, 64)
			starts = append(starts, s*512)
		}
	}
	return starts
}

// flsKeys lists "path|inode" for the files and folders fls finds.
func flsKeys(t testing.TB, path string, sector int64) []string {
	t.Helper()
	oracle.Tool(t, "fls", "sleuthkit")
	var keys []string
	for _, line := range strings.Split(string(oracle.Run(t, "fls", "-r", "-m", "/", "-o", strconv.FormatInt(sector, 10), path)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 11 || len(f[3]) < 3 || (f[3][2] != 'r' && f[3][2] != 'd') {
			continue
		}
		name, _, _ := strings.Cut(f[1], " (deleted")
		keys = append(keys, strings.TrimPrefix(name, "/")+"|"+f[2])
	}
	sort.Strings(keys)
	return keys
}

type result struct {
	items []fstest.Item
	probs []*jfs.Problem
	// files are the image's own files (each EWF segment), delivered first
	// for their times.
	files []fstest.Item
}

func walk(t testing.TB, path string, opts Options) result {
	t.Helper()
	w, ok, err := Open(context.Background(), path, opts)
	if err != nil || !ok {
		t.Fatalf("Open %s: disk=%v err=%v", path, ok, err)
	}
	items, probs, err := fstest.Collect(context.Background(), w)
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	files, inside := imageFiles(t, items)
	return result{inside, probs, files}
}

// imageFiles splits a disk walk's items into the image files themselves
// (chain ["file:<name>"], containers with the times stat gives) and the
// entries inside.
func imageFiles(t testing.TB, items []fstest.Item) (files, inside []fstest.Item) {
	t.Helper()
	for _, it := range items {
		if !strings.HasPrefix(it.Chain[0], "file:") {
			inside = append(inside, it)
			continue
		}
		if len(it.Chain) != 1 || it.Chain[0] != "file:"+it.Path || !it.Container || it.Inode == "" || it.Times.Modified.IsZero() {
			t.Errorf("image file item %+v", it)
		}
		files = append(files, it)
	}
	return files, inside
}

// keysOf lists "path|inode" for the entries of the file system under
// layer; a file expanded into members (a .docx is a zip) counts once, by
// its own path and inode from the expander's members' chain.
func keysOf(items []fstest.Item, layer string) []string {
	set := map[string]bool{}
	for _, it := range items {
		n := len(strings.Split(layer, " > "))
		if len(it.Chain) <= n || strings.Join(it.Chain[:n], " > ") != layer {
			continue
		}
		if len(it.Chain) == n+1 {
			set[it.Path+"|"+it.Inode] = true
		} else {
			set[strings.TrimPrefix(it.Chain[n], "ext4:")+"|expanded"] = true
		}
	}
	var keys []string
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sameAsFls compares keysOf with fls, letting an expanded file match by path.
func sameAsFls(t *testing.T, got, fls []string) {
	t.Helper()
	have := map[string]bool{}
	for _, k := range got {
		have[k] = true
	}
	for _, k := range fls {
		p, _, _ := strings.Cut(k, "|")
		if !have[k] && !have[p+"|expanded"] {
			t.Errorf("fls has %s, the walk does not", k)
		}
		delete(have, k)
		delete(have, p+"|expanded")
	}
	for k := range have {
		t.Errorf("the walk has %s, fls does not", k)
	}
}

// TestMultiple: the four partitions of Debian's multi-file-system disk at
// mmls's offsets; ext4, exFAT and NTFS walked, ext4 and exFAT equal to fls
// (the NTFS walker has its own fls comparison in forensics/fs/ntfs); btrfs
// reported as unsupported with its offset.
func TestMultiple(t *testing.T) {
	path := oracle.Sample(t, "multiple")
	starts := mmlsStarts(t, path)
	if len(starts) != 4 {
		t.Fatalf("mmls: %v", starts)
	}
	r := walk(t, path, Options{})
	unsupported := map[int64]string{}
	// The ext4 file system is larger than its partition (fsstat: blocks
	// 0-142335 of 1 KiB; mmls: 81920 sectors): said once, at the
	// partition's end. TSK reads on into the next partition instead.
	overrun, exOverrun := false, false
	for _, p := range r.probs {
		switch {
		case errors.Is(p, ErrUnsupported):
			unsupported[p.Offset] = p.Err.Error()
		case errors.Is(p, jfs.ErrTruncated) && p.Offset == starts[2]-starts[1] && strings.Contains(p.Err.Error(), "145752064 bytes"):
			overrun = true
		case errors.Is(p, jfs.ErrTruncated) && p.Offset == starts[3]-starts[2] && strings.Contains(p.Err.Error(), "103809024 bytes"):
			// The exFAT boot sector claims 202752 sectors (fsstat); the
			// partition has 81920.
			exOverrun = true

		default:
			t.Errorf("problem: %v", p)
		}
	}
	if !overrun || !exOverrun {
		t.Errorf("file systems running past their partition not reported: ext4 %v, exFAT %v", overrun, exOverrun)
	}
	want := map[int64]string{
		starts[0]: fmt.Sprintf("unsupported file system: Btrfs in partition 1 at offset %d", starts[0]),
	}
	if fmt.Sprint(unsupported) != fmt.Sprint(want) {
		t.Errorf("unsupported partitions:\n got %v\nwant %v", unsupported, want)
	}
	if ntfsFiles := keysOf(r.items, fmt.Sprintf("raw: > partition:4@%d", starts[3])); len(ntfsFiles) == 0 {
		t.Error("no entries from the NTFS partition")
	}
	layer := fmt.Sprintf("raw: > partition:2@%d", starts[1])
	got := keysOf(r.items, layer)
	sameAsFls(t, got, flsKeys(t, path, starts[1]/512))
	// exFAT: fls's metadata pseudo-files ($ALLOC_BITMAP, $UPCASE_TABLE,
	// the label, $OrphanFiles) are not directory entries of files.
	var exFls []string
	for _, k := range flsKeys(t, path, starts[2]/512) {
		if !strings.HasPrefix(k, "$") {
			exFls = append(exFls, k)
		}
	}
	exLayer := fmt.Sprintf("raw: > partition:3@%d", starts[2])
	exGot := keysOf(r.items, exLayer)
	if len(exFls) == 0 {
		t.Fatal("fls lists no files in the exFAT partition")
	}
	sameAsFls(t, exGot, exFls)
	// The files inside are the originals Debian ships beside the image.
	for _, it := range r.items {
		if it.Mode.IsRegular() {
			orig := "/usr/share/forensics-samples/original-multiple/" + it.Path
			if b, err := os.ReadFile(orig); err == nil && int64(len(b)) != it.Read {
				t.Errorf("%s: %d bytes, original %d", it.Path, it.Read, len(b))
			}
		}
	}
}

// TestE01SameAsRaw acquires the ext4 sample with ewfacquire and walks both:
// the same entries, chains apart from the container layer, and content.
func TestE01SameAsRaw(t *testing.T) {
	raw := oracle.Sample(t, "ext4")
	oracle.Tool(t, "ewfacquire", "ewf-tools")
	target := filepath.Join(t.TempDir(), "acq")
	oracle.Run(t, "ewfacquire", "-u", "-t", target, "-c", "deflate:fast", "-S", "20MiB", raw)
	e01 := target + ".E01"
	if _, err := os.Stat(target + ".E02"); err != nil {
		t.Fatalf("expected a multi-segment set: %v", err)
	}
	a, b := walk(t, raw, Options{}), walk(t, e01, Options{})
	if len(a.probs)+len(b.probs) > 0 {
		t.Errorf("problems: raw %v, e01 %v", a.probs, b.probs)
	}
	sum := func(items []fstest.Item, container string) string {
		var s strings.Builder
		for _, it := range items {
			if it.Chain[0] != container {
				t.Errorf("%s: chain %q does not start with %q", it.Path, it.Chain, container)
			}
			fmt.Fprintf(&s, "%q %s %s %d %s %v\n", it.Chain[1:], it.Path, it.Inode, it.Size, it.SHA256, it.Times)
		}
		return s.String()
	}
	// Every segment of the set is a file with its own times, in order.
	var segs, want []string
	for i, f := range b.files {
		segs = append(segs, f.Path)
		want = append(want, fmt.Sprintf("acq.E%02d", i+1))
	}
	if len(a.files) != 1 || a.files[0].Path != filepath.Base(raw) || len(segs) < 2 || !slices.Equal(segs, want) {
		t.Errorf("image files: raw %+v, E01 segments %q", a.files, segs)
	}
	if x, y := sum(a.items, "raw:"), sum(b.items, "ewf:"); x != y {
		t.Errorf("raw and E01 walks differ:\n%s\n---\n%s", x, y)
	}
	if len(a.items) < 40 {
		t.Errorf("only %d entries", len(a.items))
	}
	sameAsFls(t, keysOf(a.items, "raw: > partition:1@1048576"), flsKeys(t, raw, 2048))
}

// TestBareFileSystem: an ext4 image with no partition table is one volume;
// its walker keeps the shared contract.
func TestBareFileSystem(t *testing.T) {
	path := parsertest.Corpus(t, "more/disk/ext4/hierarchy_32.ext4")
	w, ok, err := Open(context.Background(), path, Options{})
	if err != nil || !ok {
		t.Fatalf("disk=%v err=%v", ok, err)
	}
	all, probs := fstest.Contract(t, w)
	files, items := imageFiles(t, all)
	if len(files) != 1 || files[0].Path != "hierarchy_32.ext4" {
		t.Errorf("image files %+v", files)
	}
	if len(probs) > 0 || len(items) != 16 {
		t.Fatalf("%d items (manifest: 16), problems %v", len(items), probs)
	}
	for _, it := range items {
		if want := []string{"raw:", "ext4:" + it.Path}; fmt.Sprint(it.Chain) != fmt.Sprint(want) {
			t.Errorf("chain %q, want %q", it.Chain, want)
		}
	}
}

// TestNotDisk: logs and archives are not disk images.
func TestNotDisk(t *testing.T) {
	dir := filepath.Dir(parsertest.Corpus(t, "images/image.E01"))
	var files []string
	filepath.WalkDir(filepath.Dir(dir), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.Contains(p, "/images/") && !strings.Contains(p, "/disk/") && !strings.Contains(p, "/e01/") && !strings.Contains(p, "/fat/") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 10 {
		t.Fatalf("corpus has %d files", len(files))
	}
	for _, f := range files {
		w, ok, err := Open(context.Background(), f, Options{})
		if ok || w != nil || err != nil {
			t.Errorf("%s: taken for a disk image (disk=%v err=%v)", f, ok, err)
		}
	}
	if _, ok, _ := Open(context.Background(), dir, Options{}); ok {
		t.Error("a folder taken for a disk image")
	}
}

// TestTruncatedDisk cuts the multi-partition disk inside its second
// partition: the table's overreach is reported with offsets, the ext4
// volume is walked as far as it exists, nothing fails.
func TestTruncatedDisk(t *testing.T) {
	full := oracle.Sample(t, "multiple")
	starts := mmlsStarts(t, full)
	cut := starts[1] + 400<<10
	// A copy of the first cut bytes: the sample is shared by the binary's
	// tests, so it is neither truncated nor hard-linked.
	path := filepath.Join(t.TempDir(), "cut.dd")
	copyPrefix(t, full, path, cut)
	r := walk(t, path, Options{})
	var past, trunc int
	for _, p := range r.probs {
		switch {
		case strings.Contains(p.Err.Error(), "past the end of the image"):
			past++
		case errors.Is(p, jfs.ErrTruncated):
			trunc++
		}
		if p.Offset < 0 {
			t.Errorf("problem without an offset: %v", p)
		}
	}
	if past < 3 {
		t.Errorf("want partitions 2-4 reported as running/starting past the end, got %d: %v", past, r.probs)
	}
	if trunc == 0 {
		t.Errorf("no truncated-read problem from the ext4 walk: %v", r.probs)
	}
	t.Logf("%d entries, %d problems", len(r.items), len(r.probs))
}

// copyPrefix writes the first n bytes of src to a new file dst.
func copyPrefix(t testing.TB, src, dst string, n int64) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(out, in, n); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
