package ext4

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

const fixedUUID = "6a1f2c3d-4b5e-4f60-8a7b-9c0d1e2f3a4b"

// variant is one way of making a file system with mke2fs.
type variant struct {
	name string
	args []string // mke2fs arguments before the image
	size string
	ext4 bool // TSK reads extra time fields only for what it calls Ext4
}

var variants = []variant{
	{"ext4-4k", []string{"-t", "ext4", "-b", "4096"}, "32M", true},
	{"ext4-1k-inline", []string{"-t", "ext4", "-b", "1024", "-O", "inline_data"}, "32M", true},
	{"ext4-metabg-32bit", []string{"-t", "ext4", "-b", "1024", "-O", "meta_bg,^resize_inode,^64bit", "-N", "8192"}, "300M", true},
	{"ext3", []string{"-t", "ext3", "-b", "1024"}, "32M", false},
	{"ext2-128", []string{"-t", "ext2", "-b", "1024", "-I", "128"}, "32M", false},
}

// srcTree writes the files the built images hold and returns their
// SHA-256 by path.
func srcTree(t testing.TB, dir string) map[string][32]byte {
	t.Helper()
	sums := map[string][32]byte{}
	put := func(p string, b []byte) {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
		sums[p] = sha256.Sum256(b)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	blob := make([]byte, 3<<20+123)
	for i := range blob {
		blob[i] = byte(rng.Uint32())
	}
	put("big/blob.bin", blob)
	put("docs/report.txt", []byte(strings.Repeat("tabulation server audit log line\n", 150)))
	put("docs/nano.txt", []byte("times with nanoseconds\n"))
	put("tiny", []byte("hi\n"))
	put("ctl\tname.txt", []byte("a name with a tab\n"))
	for i := range 300 {
		put(fmt.Sprintf("many/file-with-a-long-name-%03d.log", i), []byte(fmt.Sprintf("line %d\n", i)))
	}
	put("del/keep.txt", []byte("kept\n"))
	put("del/gone.txt", []byte(strings.Repeat("deleted but recoverable\n", 100)))
	put("deldir/x.txt", []byte("in a deleted folder\n"))
	// A sparse file: a hole, 4 KiB of data at 1 MiB, a hole to 2 MiB.
	sp := make([]byte, 2<<20)
	copy(sp[1<<20:], strings.Repeat("data", 1024))
	f, err := os.Create(filepath.Join(dir, "sparse.bin"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(sp[1<<20:1<<20+4096], 1<<20)
	f.Truncate(2 << 20)
	f.Close()
	sums["sparse.bin"] = sha256.Sum256(sp)
	// Special files: a fast link (target in the inode), a slow one (target
	// in a block), a FIFO, a socket and, where this process may make one,
	// a character device.
	if err := os.Symlink("docs/report.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(longLinkTarget, filepath.Join(dir, "link-long")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if err := syscall.Mknod(filepath.Join(dir, "null"), syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Logf("no character device in the image: %v", err)
	}
	return sums
}

// longLinkTarget does not fit in an inode's 60 bytes.
var longLinkTarget = "/var/lib/tabulasi/" + strings.Repeat("rekap-kecamatan/", 6) + "hasil.csv"

// build makes the image of v from a fresh source tree, then with debugfs
// sets nanosecond times, deletes two files and a folder, and with e2fsck -D
// turns the big folder into an htree.
func build(t testing.TB, v variant) (string, map[string][32]byte) {
	t.Helper()
	oracle.Tool(t, "mke2fs", "e2fsprogs")
	oracle.Tool(t, "debugfs", "e2fsprogs")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	sums := srcTree(t, src)
	img := filepath.Join(dir, v.name+".img")
	// A fixed UUID and directory hash seed make the image the same on every
	// run: with random ones e2fsck -D lays the htree out differently each
	// time, and so leaves different bytes in directory slack, where fls
	// reads deleted names.
	args := append([]string{"-q", "-F", "-U", fixedUUID, "-E", "lazy_itable_init=0,hash_seed=" + fixedUUID, "-d", src}, v.args...)
	args = append(args, img, v.size)
	cmd := exec.Command("mke2fs", args...)
	cmd.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME=1600000000")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mke2fs %v: %v\n%s", args, err, out)
	}
	fsck := exec.Command("e2fsck", "-fyD", img)
	fsck.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME=1600000000")
	if out, err := fsck.CombinedOutput(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() > 1 {
			t.Fatalf("e2fsck -fyD: %v\n%s", err, out)
		}
	}
	cmds := []string{
		// ns<<2 with the epoch bits clear, and one time past 2038 (epoch bit 1).
		"sif docs/nano.txt mtime_extra " + strconv.Itoa(123456789<<2),
		"sif docs/nano.txt atime_extra " + strconv.Itoa(999999999<<2),
		"sif docs/nano.txt ctime_extra " + strconv.Itoa(1<<2),
		"sif docs/nano.txt crtime_extra " + strconv.Itoa(500000000<<2),
		"sif tiny mtime_extra " + strconv.Itoa(42<<2|1),
		"rm del/gone.txt",
		"rm deldir/x.txt",
		"rmdir deldir",
	}
	cf := filepath.Join(dir, "cmds")
	os.WriteFile(cf, []byte(strings.Join(cmds, "\n")+"\n"), 0o644)
	cmd = exec.Command("debugfs", "-w", "-f", cf, img)
	cmd.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME=1700000000")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("debugfs: %v\n%s", err, out)
	}
	return img, sums
}

// debugfsTimes asks debugfs for the raw time words of inodes, in one run:
// "atime" -> "0x60406abf:1d6f3454" (seconds:extra, extra absent on
// 128-byte inodes).
func debugfsTimes(t testing.TB, img string, inodes []string) map[string]map[string]string {
	t.Helper()
	var cmds strings.Builder
	for _, n := range inodes {
		fmt.Fprintf(&cmds, "stat <%s>\n", n)
	}
	cf := filepath.Join(t.TempDir(), "stat")
	os.WriteFile(cf, []byte(cmds.String()), 0o644)
	out := string(oracle.Run(t, "debugfs", "-f", cf, img))
	res := map[string]map[string]string{}
	var cur map[string]string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "Inode: "); ok {
			cur = map[string]string{}
			res[strings.Fields(rest)[0]] = cur
			continue
		}
		for _, k := range []string{"atime", "mtime", "ctime", "crtime"} {
			if v, ok := strings.CutPrefix(line, k+": "); ok && cur != nil {
				cur[k] = strings.Fields(v)[0]
			}
		}
	}
	return res
}

// decodeDebugfs turns "0xSSSSSSSS:XXXXXXXX" into the time the kernel means.
func decodeDebugfs(s string) time.Time {
	secHex, extraHex, _ := strings.Cut(s, ":")
	sec, _ := strconv.ParseUint(strings.TrimPrefix(secHex, "0x"), 16, 32)
	var extra uint64
	if extraHex != "" {
		extra, _ = strconv.ParseUint(extraHex, 16, 32)
	}
	return extTime(uint32(sec), uint32(extra))
}

func TestBuiltImages(t *testing.T) {
	oracle.Tool(t, "fls", "sleuthkit")
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			img, sums := build(t, v)
			f, size := fstest.OpenFile(t, img)
			w, err := NewWalker(f, size, []string{"raw:"})
			if err != nil {
				t.Fatal(err)
			}
			got, entries, probs := fstest.WalkBodies(t, w)
			for _, p := range probs {
				t.Errorf("problem: %v (offset %d)", p, p.Offset)
			}
			if in := w.Info(); strings.Contains(v.name, "metabg") && (!in.MetaBG || in.Is64Bit || in.Groups <= uint32(in.BlockSize/in.DescSize)) {
				t.Fatalf("meta_bg variant does not span two meta-groups: %+v", in)
			}

			// 1. Paths, inodes, deleted flags, sizes and seconds equal fls.
			want := fstest.Fls(t, img, 0, "", nil)
			// Compare times as TSK sees them: it reads the seconds as an
			// unsigned 32-bit count and ignores the two epoch bits of the
			// extra word (tiny's mtime is past 2038 here), and reads crtime
			// only on what it detects as Ext4 (0 on ext2/ext3). We decode
			// both as the kernel does, checked against debugfs below.
			tsk := func(s int64) int64 { return int64(uint32(s)) }
			cmp := map[string]fstest.Body{}
			for k, b := range got {
				b.Atime, b.Mtime, b.Ctime, b.Crtime = tsk(b.Atime), tsk(b.Mtime), tsk(b.Ctime), tsk(b.Crtime)
				if !v.ext4 {
					b.Crtime = 0
				}
				cmp[k] = b
			}
			if tiny := got["/tiny|"+inodeOf(t, got, "/tiny")]; w.Info().InodeSize > 128 && tiny.Mtime < 1<<32 {
				t.Errorf("tiny's mtime %d: the epoch bits were not applied", tiny.Mtime)
			}
			// debugfs "rm" clears the name's inode in a live block: TSK then
			// shows the deleted name with inode 0, which has no inode to
			// yield; drop such names from the oracle.
			for k, b := range want {
				if b.Inode == "0" {
					delete(want, k)
				}
				// fls names the target of a link held in the inode only; a
				// longer one is the link's data, which icat reads.
				if b.Type == 'l' && b.Link == "" {
					b.Link = string(oracle.Output(t, "icat", img, b.Inode))
					want[k] = b
				}
			}
			if d := fstest.DiffBodies(want, cmp); len(d) > 0 {
				t.Errorf("%d differences from fls:\n%s", len(d), strings.Join(d, "\n"))
			}

			// 2. Every time to the nanosecond equals debugfs's raw words.
			var inodes []string
			for _, e := range entries {
				inodes = append(inodes, e.Inode)
			}
			raw := debugfsTimes(t, img, inodes)
			for k, e := range entries {
				r := raw[e.Inode]
				for _, c := range []struct {
					name string
					got  time.Time
				}{{"atime", e.Times.Accessed}, {"mtime", e.Times.Modified}, {"ctime", e.Times.Changed}, {"crtime", e.Times.Born}} {
					want := time.Time{}
					if s, ok := r[c.name]; ok {
						want = decodeDebugfs(s)
					}
					if !c.got.Equal(want) {
						t.Errorf("%s %s: %v, debugfs says %v (%s)", k, c.name, c.got, want, r[c.name])
					}
				}
			}
			nano := entries["/docs/nano.txt|"+inodeOf(t, got, "/docs/nano.txt")]
			if w.Info().InodeSize > 128 && (nano.Times.Modified.Nanosecond() != 123456789 || nano.Times.Born.Nanosecond() != 500000000) {
				t.Errorf("nano.txt mtime %v crtime %v: nanoseconds lost", nano.Times.Modified, nano.Times.Born)
			}
			if v.ext4 {
				// 3. TSK's istat agrees on the nanoseconds.
				it := istatTimes(t, img, 0, nano.Inode)
				if g := nano.Times.Modified.Format("2006-01-02 15:04:05.000000000"); it["File Modified"] != g {
					t.Errorf("istat mtime %q, ours %q", it["File Modified"], g)
				}
				if g := nano.Times.Born.Format("2006-01-02 15:04:05.000000000"); it["File Created"] != g {
					t.Errorf("istat crtime %q, ours %q", it["File Created"], g)
				}
			}

			// 4. Content: every file the walk read equals TSK's icat of the
			// same inode, and the live files equal what was written (mke2fs
			// -d drops the trailing hole of sparse.bin with inline_data, so
			// icat is the oracle there). gone.txt was deleted with its
			// extents left in place: it must read back whole, under its
			// name or as an orphan.
			gone := false
			for k, e := range entries {
				if !e.Mode.IsRegular() || strings.HasPrefix(k, "/many/") && !strings.HasSuffix(k, "7.log|"+e.Inode) {
					continue
				}
				got := readAll(t, e)
				if want := sha256.Sum256(oracle.Output(t, "icat", img, e.Inode)); got != want {
					t.Errorf("%s: content differs from icat", k)
				}
				if got == sums["del/gone.txt"] {
					gone = true
					if !e.Deleted {
						t.Errorf("%s: has gone.txt's content but is not deleted", k)
					}
				}
				p := strings.TrimPrefix(k[:strings.LastIndex(k, "|")], "/")
				if sum, ok := sums[strings.ReplaceAll(p, "^", "\t")]; ok && !e.Deleted && p != "sparse.bin" && got != sum {
					t.Errorf("%s: content differs from the file written", p)
				}
			}
			if !gone {
				t.Errorf("deleted gone.txt not recovered")
			}

			// 5. Special files are yielded (their times are evidence) with
			// no content, and a link with its target (compared with fls's
			// above).
			kinds := map[string]fs.FileMode{"/link": fs.ModeSymlink, "/link-long": fs.ModeSymlink, "/pipe": fs.ModeNamedPipe, "/sock": fs.ModeSocket}
			for k, e := range entries {
				name := k[:strings.LastIndex(k, "|")]
				if want, ok := kinds[name]; ok {
					delete(kinds, name)
					if e.Mode.Type() != want {
						t.Errorf("%s: mode %v, want type %v", name, e.Mode, want)
					}
					if _, err := e.Open(); err == nil {
						t.Errorf("%s: opens as if it had content", name)
					}
				}
			}
			for name := range kinds {
				t.Errorf("%s not yielded", name)
			}
			if l := entries["/link-long|"+inodeOf(t, got, "/link-long")]; l == nil || l.Link != longLinkTarget {
				t.Errorf("long link: %+v, want target %q", l, longLinkTarget)
			}
		})
	}
}

func readAll(t testing.TB, e *jfs.Entry) [32]byte {
	t.Helper()
	rc, err := e.Open()
	if err != nil {
		t.Errorf("%s: open: %v", e.Path, err)
		return [32]byte{}
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		t.Errorf("%s: read: %v", e.Path, err)
	}
	return [32]byte(h.Sum(nil))
}

// inodeOf finds the inode of path in a walk ("" when absent).
func inodeOf(t testing.TB, got map[string]fstest.Body, path string) string {
	for _, b := range got {
		if b.Path == path {
			return b.Inode
		}
	}
	return ""
}
