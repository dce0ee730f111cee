package image

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

func TestMain(m *testing.M) { oracle.Main(m) }

// corpusRaw writes a raw "disk" made of real corpus bytes (every corpus file
// of 64 KiB or more, in path order, until 8 MiB), zero-padded to whole
// sectors, and returns its path. JPEGs and gzip files in it do not compress,
// so EWF writers store some chunks uncompressed even with compression on.
func corpusRaw(t testing.TB) string {
	t.Helper()
	dir := filepath.Dir(parsertest.Corpus(t, "images/image.E01"))
	root := filepath.Dir(dir)
	var files []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if st, err := d.Info(); err == nil && st.Size() >= 64<<10 {
				files = append(files, p)
			}
		}
		return nil
	})
	sort.Strings(files)
	var buf bytes.Buffer
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		if buf.Len() >= 8<<20 {
			break
		}
	}
	if r := buf.Len() % 512; r != 0 {
		buf.Write(make([]byte, 512-r))
	}
	out := filepath.Join(t.TempDir(), "corpus.raw")
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

func sha256File(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sha256Image(t testing.TB, img Image) string {
	t.Helper()
	h := sha256.New()
	// An odd buffer size makes reads straddle chunk boundaries.
	buf := make([]byte, 40000)
	if _, err := io.CopyBuffer(h, io.NewSectionReader(img, 0, img.Size()), buf); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ewfexport is the oracle: libewf's own export of the media to raw.
func ewfexport(t testing.TB, e01 string) string {
	t.Helper()
	oracle.Tool(t, "ewfexport", "ewf-tools")
	target := filepath.Join(t.TempDir(), "export")
	oracle.Run(t, "ewfexport", "-q", "-u", "-f", "raw", "-t", target, e01)
	return target + ".raw"
}

// ewfacquire makes an EWF set of src and returns the first segment's path.
func ewfacquire(t testing.TB, src string, args ...string) string {
	t.Helper()
	oracle.Tool(t, "ewfacquire", "ewf-tools")
	target := filepath.Join(t.TempDir(), "acq")
	oracle.Run(t, "ewfacquire", append(append([]string{"-u", "-q", "-t", target}, args...), src)...)
	m, _ := filepath.Glob(target + ".*01")
	if len(m) != 1 {
		t.Fatalf("ewfacquire %v wrote %v", args, m)
	}
	return m[0]
}

// ewfverifyMD5 returns the MD5 ewfverify computes over the media.
func ewfverifyMD5(t testing.TB, e01 string) (computed, stored string) {
	t.Helper()
	oracle.Tool(t, "ewfverify", "ewf-tools")
	out := string(oracle.Run(t, "ewfverify", "-q", e01))
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		switch {
		case strings.HasPrefix(l, "MD5 hash stored in file:"):
			stored = f[len(f)-1]
		case strings.HasPrefix(l, "MD5 hash calculated over data:"):
			computed = f[len(f)-1]
		}
	}
	if computed == "" {
		t.Fatalf("no MD5 in ewfverify output:\n%s", out)
	}
	return computed, stored
}
