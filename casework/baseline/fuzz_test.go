package baseline

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// FuzzHiveFacts: the registry fact reader on damaged hives, plaso's SAM
// test hive (whole and its first 8 KiB) and a bare signature, cut to size
// and with bytes patched in at off: facts or error facts, never a panic.
// The input is the patch, not the hive: Go minimised each new input of a
// whole hive for the fuzzer's whole time (52 executions in 13 s; see
// fstest.MaxPatch).
func FuzzHiveFacts(f *testing.F) {
	var seeds [][]byte
	if dir, err := parsertest.CorpusDir(); err == nil {
		if b, err := os.ReadFile(dir + "/windows/registry/SAM"); err == nil {
			seeds = append(seeds, b, b[:8192])
		}
	}
	seeds = append(seeds, []byte("regf"))
	for i := range seeds {
		f.Add(uint8(i), uint32(len(seeds[i])), uint32(0), []byte{})
	}
	f.Fuzz(func(t *testing.T, which uint8, size, off uint32, patch []byte) {
		b := seeds[int(which)%len(seeds)]
		b = bytes.Clone(b[:min(uint32(len(b)), size)]) // Extract takes the bytes themselves
		if int64(off) < int64(len(b)) {
			copy(b[off:], patch[:min(len(patch), fstest.MaxPatch)])
		}
		for _, p := range []string{"Windows/System32/config/SAM", "Windows/System32/config/SYSTEM", "Windows/System32/config/SOFTWARE"} {
			for _, fact := range Extract(p, b) {
				if fact.Source != p {
					t.Fatalf("fact of %s names %s", p, fact.Source)
				}
			}
		}
	})
}

// FuzzManifest: the manifest reader on any text, seeded with the forms it
// reads: it returns a reference or an error, and every file it returns has
// a hash and a path in key form.
func FuzzManifest(f *testing.F) {
	for _, s := range []string{
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  ./a\n",
		"MD5 (a b) = d41d8cd98f00b204e9800998ecf8427e\n",
		"\"SHA-1\",\"MD5\",\"CRC32\",\"FileName\",\"FileSize\"\n\"DA39A3EE5E6B4B0D3255BFEF95601890AFD80709\",\"D41D8CD98F00B204E9800998ECF8427E\",\"0\",\"x\",\"0\"\n",
		`{"files":[{"path":"C:\\x.exe","sha1":"da39a3ee5e6b4b0d3255bfef95601890afd80709"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ref, _, err := ReadManifest(bytes.NewReader(b), "fuzz")
		if err != nil {
			return
		}
		for _, x := range ref.Files {
			if x.SHA256 == "" && x.SHA1 == "" && x.MD5 == "" {
				t.Fatalf("file %q without a hash", x.Path)
			}
			if strings.HasPrefix(x.Path, "/") {
				t.Fatalf("path %q not in key form", x.Path)
			}
		}
	})
}

// FuzzRead: the baseline reader on damaged baselines: an error naming the
// line, or a baseline with its header and trailer.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"type":"header","format_version":1,"name":"x"}` + "\n" + `{"type":"file","path":"a","kind":"file","size":1}` + "\n" + `{"type":"trailer","files":1}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		bl, err := Read(bytes.NewReader(b))
		if err == nil && (bl.Header.Type != "header" || bl.Trailer == nil) {
			t.Fatal("a baseline without header or trailer accepted")
		}
	})
}

// FuzzExt4Owners: the inode owner reader on damaged ext file systems,
// the first 64 KiB of one mkfs.ext4 made, cut and patched
// (fstest.PatchedSeed; a zeroed 4 KiB where mkfs.ext4 is missing): an
// owner or "", never a panic. The 64 KiB themselves as the input stalled
// the fuzzer in Go's minimiser (2,410 executions in 10 s).
func FuzzExt4Owners(f *testing.F) {
	seeds := [][]byte{make([]byte, 4096)}
	if _, err := exec.LookPath("mkfs.ext4"); err == nil {
		img := filepath.Join(f.TempDir(), "seed.img")
		if exec.Command("mkfs.ext4", "-q", "-F", img, "1M").Run() == nil {
			if b, err := os.ReadFile(img); err == nil {
				seeds = append(seeds, b[:64<<10])
			}
		}
	}
	for i, s := range seeds {
		f.Add(uint8(i), uint32(len(s)), uint32(0), []byte(nil))
	}
	f.Fuzz(func(t *testing.T, which uint8, size, off uint32, patch []byte) {
		r, _ := fstest.PatchedSeed(seeds, which, size, off, patch)
		o := newExt4Owners(r)
		if o == nil {
			return
		}
		for _, n := range []string{"1", "2", "11", "12", "4294967295", "x"} {
			o.owner(n)
		}
	})
}
