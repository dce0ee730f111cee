package fs_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
)

var fuzzSeeds = []string{
	"archives/syslog.tar", "archives/syslog.tgz", "archives/syslog.zip",
	"archives/syslog.gz", "archives/syslog.bz2", "archives/syslog.xz",
	"logs/syslog/syslog_copy",
}

// seedInputs are the fuzz targets' seeds: the corpus's archives and a
// log, whole and cut in half, and archives made with traps in their names.
func seedInputs(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, s := range fuzzSeeds {
		b := readCorpus(f, s)
		seeds = append(seeds, b, b[:len(b)/2])
	}
	seeds = append(seeds, makeZip(f, member{name: "../a/../../x", data: []byte("x")}, member{name: "in.zip", data: readCorpus(f, "archives/syslog.zip")}))
	// Two records under one name: identities must tell them apart.
	dup := []member{{name: "var/log/auth.log", data: []byte("a\n")}, {name: "./var/log/auth.log", data: []byte("b\n"), store: true}, {name: "var//log/auth.log", data: []byte("c\n")}}
	seeds = append(seeds, makeZip(f, dup...))
	return append(seeds, append(makeTar(f, dup...), makeTar(f, dup[0])...))
}

func addSeeds(f *testing.F) {
	for _, b := range seedInputs(f) {
		f.Add(b)
	}
}

func FuzzSniff(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		k := jfs.Sniff(b)
		if len(b) > jfs.SniffSize && jfs.Sniff(b[:jfs.SniffSize]) != k {
			t.Errorf("Sniff looks past SniffSize")
		}
	})
}

// FuzzExpand walks the seeds, cut and patched (fstest.PatchedSeedBytes),
// as a file, once with random access and once as a stream member: it must
// not panic, and what it delivers and reports must keep the contract. The
// input is (seed, length, patch offset, patch), not the archive: Go's
// minimiser spent the fuzzer's whole time on archives of 1-10 KiB (26
// executions in 10 s).
func FuzzExpand(f *testing.F) {
	seeds := seedInputs(f)
	for i, s := range seeds {
		f.Add(uint8(i), uint32(len(s)), uint32(0), []byte(nil))
	}
	f.Fuzz(func(t *testing.T, which uint8, size, off uint32, patch []byte) {
		b := fstest.PatchedSeedBytes(seeds, which, size, off, patch)
		for _, random := range []bool{true, false} {
			var ra func() (io.ReaderAt, error)
			if random {
				ra = func() (io.ReaderAt, error) { return bytes.NewReader(b), nil }
			}
			e := jfs.NewEntry("fuzz.bin", []string{"file:fuzz.bin"}, int64(len(b)),
				func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, ra)
			opts := jfs.Options{MaxExpanded: 1 << 20, SpoolMemory: 1 << 20}
			seen := map[string]bool{}
			x := jfs.NewExpander(context.Background(), opts, func(ctx context.Context, e *jfs.Entry) error {
				if len(e.Chain) == 0 || !jfs.IsSafePath(e.Path) {
					t.Errorf("entry chain %q path %q", e.Chain, e.Path)
				}
				// Chain, path and identity are what an event ID hashes.
				k := strings.Join(e.Chain, "\x00") + "\x01" + e.Path + "\x01" + e.Identity
				if seen[k] {
					t.Errorf("two entries share chain %q path %q identity %q", e.Chain, e.Path, e.Identity)
				}
				seen[k] = true
				if e.Container {
					return nil // times only; its members follow
				}
				rc, err := e.Open()
				if err != nil {
					t.Errorf("%q: open: %v", e.Chain, err)
					return nil
				}
				defer rc.Close()
				if _, err := io.Copy(io.Discard, rc); err != nil {
					t.Errorf("%q: read error escaped the walker: %v", e.Chain, err)
				}
				return nil
			}, func(p *jfs.Problem) {
				if len(p.Chain) == 0 || p.Path == "" || p.Err == nil {
					t.Errorf("problem without chain/path/cause: %+v", p)
				}
			})
			if err := x.Entry(e); err != nil {
				t.Errorf("walk failed: %v", err)
			}
		}
	})
}
