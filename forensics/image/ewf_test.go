package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

func TestCorpusE01MatchesEwfexport(t *testing.T) {
	path := parsertest.Corpus(t, "images/image.E01")
	raw := ewfexport(t, path)
	img, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	info := img.Info()
	if info.Format != "ewf" {
		t.Fatalf("format %q, want ewf (recognised by content)", info.Format)
	}
	st, _ := os.Stat(raw)
	if img.Size() != st.Size() {
		t.Fatalf("size %d, ewfexport wrote %d bytes", img.Size(), st.Size())
	}
	if got, want := sha256Image(t, img), sha256File(t, raw); got != want {
		t.Fatalf("media SHA-256 %s, ewfexport's %s", got, want)
	}
	computed, stored, err := Verify(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	vComputed, vStored := ewfverifyMD5(t, path)
	if stored.MD5 != vStored || computed.MD5 != vComputed || computed.MD5 != stored.MD5 {
		t.Fatalf("md5 computed %s stored %s; ewfverify computed %s stored %s", computed.MD5, stored.MD5, vComputed, vStored)
	}
	if computed.SHA256 != sha256File(t, raw) {
		t.Fatal("Verify's SHA-256 differs from the exported raw's")
	}
	if len(computed.Mismatches(stored)) != 0 {
		t.Fatalf("mismatches %v", computed.Mismatches(stored))
	}
	// ewfinfo is the oracle for the acquirer's case fields.
	out := string(oracle.Run(t, "ewfinfo", path))
	if !strings.Contains(out, "Case number:\t\t"+info.Metadata["case_number"]+"\n") || info.Metadata["case_number"] == "" {
		t.Fatalf("case number %q not what ewfinfo says:\n%s", info.Metadata["case_number"], out)
	}
	if !strings.Contains(out, fmt.Sprintf("Number of sectors:\t%d\n", info.SectorCount)) {
		t.Fatalf("sector count %d not what ewfinfo says:\n%s", info.SectorCount, out)
	}
}

func TestSplitE02WithoutE01NamesTheMissingSegment(t *testing.T) {
	// The corpus holds only the second segment of plaso's image-split set.
	path := parsertest.Corpus(t, "more/disk/e01/image-split.E02")
	_, err := Open(path)
	var miss *MissingSegmentError
	if !errors.As(err, &miss) || len(miss.Missing) != 1 || filepath.Base(miss.Missing[0]) != "image-split.E01" {
		t.Fatalf("err = %v, want a missing image-split.E01", err)
	}
	if !strings.Contains(err.Error(), "image-split.E01") {
		t.Fatalf("error does not name the file: %v", err)
	}
	// Its sections still parse: segment 2 of 2 ends with done.
	e := &EWF{cache: newChunkCache(1)}
	f, _ := os.Open(path)
	defer f.Close()
	st, _ := f.Stat()
	var vol *volumeInfo
	last, err := e.loadSegment(2, &ewfSegment{name: path, r: f, size: st.Size()}, &vol)
	if err != nil || last != "done" || e.chunks == 0 {
		t.Fatalf("segment 2: last %q, %d chunks, err %v", last, e.chunks, err)
	}
}

// TestAcquiredE01 writes EWF sets with ewfacquire in several formats and
// settings and reads them back against the source and ewfexport.
func TestAcquiredE01(t *testing.T) {
	src := corpusRaw(t)
	want := sha256File(t, src)
	cases := []struct {
		name     string
		args     []string
		segments int // minimum
	}{
		{"encase6-best", []string{"-c", "deflate:best", "-S", "1MiB", "-d", "sha1"}, 1},
		{"encase6-none", []string{"-c", "none"}, 1},
		{"encase6-none-multiseg", []string{"-c", "none", "-S", "1MiB"}, 8},
		{"encase5-fast", []string{"-f", "encase5", "-c", "fast"}, 1},
		{"encase4-empty-block", []string{"-f", "encase4", "-c", "empty-block"}, 1},
		{"encase2", []string{"-f", "encase2", "-c", "best"}, 1},
		{"ftk", []string{"-f", "ftk", "-c", "best", "-S", "1MiB"}, 1},
		{"smart", []string{"-f", "smart", "-c", "best"}, 1},
		{"linen6", []string{"-f", "linen6", "-c", "fast", "-d", "sha1"}, 1},
		{"ewfx", []string{"-f", "ewfx", "-c", "best"}, 1},
		{"chunk-128-sectors", []string{"-b", "128", "-c", "best"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e01 := ewfacquire(t, src, tc.args...)
			img, err := Open(e01)
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			info := img.Info()
			t.Logf("%d segments", len(info.Segments))
			if len(info.Segments) < tc.segments {
				t.Fatalf("%d segments, want >= %d", len(info.Segments), tc.segments)
			}
			if len(info.Warnings) > 0 {
				t.Errorf("warnings: %v", info.Warnings)
			}
			got := sha256Image(t, img)
			if got != want {
				t.Fatalf("read back %s, source %s", got, want)
			}
			if exp := sha256File(t, ewfexport(t, e01)); got != exp {
				t.Fatalf("read back %s, ewfexport %s", got, exp)
			}
			computed, stored, err := Verify(context.Background(), img)
			if err != nil {
				t.Fatal(err)
			}
			if stored.MD5 == "" || computed.MD5 != stored.MD5 {
				t.Fatalf("md5 computed %s, stored %q", computed.MD5, stored.MD5)
			}
			if strings.Contains(strings.Join(tc.args, " "), "sha1") && computed.SHA1 != stored.SHA1 {
				t.Fatalf("sha1 computed %s, stored %q", computed.SHA1, stored.SHA1)
			}
			if len(info.Segments) > 1 {
				// Any segment opens the whole set.
				other, err := Open(info.Segments[len(info.Segments)-1])
				if err != nil {
					t.Fatal(err)
				}
				defer other.Close()
				if other.Size() != img.Size() || len(other.Info().Segments) != len(info.Segments) {
					t.Fatalf("opened from the last segment: size %d, %d segments", other.Size(), len(other.Info().Segments))
				}
			}
		})
	}
}

// corruptOneChunk flips a byte in the middle of the stored data of a chunk
// of the set's first segment (compressed or not, as asked) and returns the
// chunk number and its file offset.
func corruptOneChunk(t *testing.T, e01 string, compressed bool) (int64, int64) {
	t.Helper()
	img, err := OpenEWF(e01)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	for _, g := range img.groups {
		if g.seg != 0 {
			continue
		}
		for i := 1; i+1 < len(g.entries); i++ {
			if (g.entries[i]&0x80000000 != 0) != compressed {
				continue
			}
			off := g.base + int64(g.entries[i]&0x7fffffff)
			next := g.base + int64(g.entries[i+1]&0x7fffffff)
			f, err := os.OpenFile(e01, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			var b [1]byte
			f.ReadAt(b[:], off+(next-off)/2)
			b[0] ^= 0x5a
			f.WriteAt(b[:], off+(next-off)/2)
			f.Close()
			return g.first + int64(i), off
		}
	}
	t.Fatalf("no chunk (compressed=%v) in the first segment", compressed)
	return 0, 0
}

func TestCorruptChunk(t *testing.T) {
	src := corpusRaw(t)
	orig, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		compressed bool
		cause      string
	}{
		{"zlib", []string{"-c", "deflate:best", "-S", "1MiB"}, true, "zlib"},
		{"adler32", []string{"-c", "none"}, false, "Adler-32 mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e01 := ewfacquire(t, src, tc.args...)
			bad, off := corruptOneChunk(t, e01, tc.compressed)
			img, err := OpenEWF(e01)
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			cs := img.chunkSize
			buf := make([]byte, cs)
			for c := int64(0); c*cs < img.Size(); c++ {
				n, err := img.ReadAt(buf, c*cs)
				if c == bad {
					var ce *ChunkError
					if !errors.As(err, &ce) || ce.Chunk != bad || ce.Offset != off {
						t.Fatalf("chunk %d: err %v, want a ChunkError for chunk %d at offset %d", c, err, bad, off)
					}
					msg := err.Error()
					if !strings.Contains(msg, fmt.Sprintf("chunk %d ", bad)) || !strings.Contains(msg, fmt.Sprint(off)) || !strings.Contains(msg, tc.cause) {
						t.Fatalf("error %q should name the chunk, its offset and %q", msg, tc.cause)
					}
					continue
				}
				if err != nil && err != io.EOF {
					t.Fatalf("chunk %d: %v", c, err)
				}
				if !bytes.Equal(buf[:n], orig[c*cs:c*cs+int64(n)]) {
					t.Fatalf("chunk %d differs from the source", c)
				}
			}
			// A range spanning the bad chunk returns the bytes before it.
			n, err := img.ReadAt(make([]byte, 3*cs), (bad-1)*cs+100)
			if err == nil || int64(n) != cs-100 {
				t.Fatalf("read across bad chunk: n=%d err=%v, want n=%d and an error", n, err, cs-100)
			}
			if _, _, err := Verify(context.Background(), img); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("chunk %d ", bad)) {
				t.Fatalf("Verify err %v, want one naming chunk %d", err, bad)
			}
		})
	}
}

func TestMissingAndTruncatedSegments(t *testing.T) {
	src := corpusRaw(t)
	e01 := ewfacquire(t, src, "-c", "none", "-S", "1MiB")
	img, err := OpenEWF(e01)
	if err != nil {
		t.Fatal(err)
	}
	segs := img.Info().Segments
	img.Close()
	if len(segs) < 4 {
		t.Fatalf("want >= 4 segments, got %d", len(segs))
	}

	t.Run("missing", func(t *testing.T) {
		dir := t.TempDir()
		for i, s := range segs {
			if i == 2 {
				continue
			}
			b, _ := os.ReadFile(s)
			os.WriteFile(filepath.Join(dir, filepath.Base(s)), b, 0o644)
		}
		_, err := Open(filepath.Join(dir, filepath.Base(segs[0])))
		var miss *MissingSegmentError
		if !errors.As(err, &miss) || filepath.Base(miss.Missing[0]) != filepath.Base(segs[2]) {
			t.Fatalf("err = %v, want %s missing", err, filepath.Base(segs[2]))
		}
	})

	t.Run("truncated-last", func(t *testing.T) {
		dir := t.TempDir()
		for _, s := range segs {
			b, _ := os.ReadFile(s)
			os.WriteFile(filepath.Join(dir, filepath.Base(s)), b, 0o644)
		}
		last := filepath.Join(dir, filepath.Base(segs[len(segs)-1]))
		st, _ := os.Stat(last)
		os.Truncate(last, st.Size()/2)
		img, err := Open(filepath.Join(dir, filepath.Base(segs[0])))
		if err != nil {
			t.Fatal(err)
		}
		defer img.Close()
		w := strings.Join(img.Info().Warnings, "\n")
		if !strings.Contains(w, "truncated") || !strings.Contains(w, "offset") {
			t.Fatalf("warnings %q should report the truncation with its offset", w)
		}
		// Everything the earlier segments hold still reads back right.
		orig, _ := os.ReadFile(src)
		buf := make([]byte, 1<<20)
		n, err := img.ReadAt(buf, 0)
		if err != nil || !bytes.Equal(buf[:n], orig[:n]) {
			t.Fatalf("first MiB: n=%d err=%v", n, err)
		}
		if _, err := img.ReadAt(buf, img.Size()-int64(len(buf))); err == nil {
			t.Fatal("reading the lost tail succeeded")
		}
	})
}

func TestSegmentNames(t *testing.T) {
	for _, tc := range []struct {
		path string
		n    int
		want string
	}{
		{"a/img.E01", 1, "a/img.E01"},
		{"a/img.E05", 12, "a/img.E12"},
		{"img.E01", 99, "img.E99"},
		{"img.E01", 100, "img.EAA"},
		{"img.E01", 101, "img.EAB"},
		{"img.E01", 126, "img.EBA"},
		{"img.E01", 775, "img.EZZ"},
		{"img.E01", 776, "img.FAA"},
		{"img.e01", 100, "img.eaa"},
		{"img.s01", 2, "img.s02"},
	} {
		if got, ok := ewfSegmentName(tc.path, tc.n); !ok || got != tc.want {
			t.Errorf("ewfSegmentName(%q, %d) = %q, %v; want %q", tc.path, tc.n, got, ok, tc.want)
		}
	}
	if _, ok := ewfSegmentName("img.E01", 100+26*26*22); ok {
		t.Error("segment past .ZZZ got a name")
	}
}

// TestCompressedMultiSegment acquires Debian's NTFS sample disk (photos do
// not compress) with compression on and 1 MiB segments.
func TestCompressedMultiSegment(t *testing.T) {
	src := oracle.Sample(t, "ntfs")
	e01 := ewfacquire(t, src, "-c", "deflate:best", "-S", "1MiB", "-d", "sha1")
	img, err := Open(e01)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if n := len(img.Info().Segments); n < 3 {
		t.Fatalf("%d segments, want several", n)
	}
	got := sha256Image(t, img)
	if want := sha256File(t, src); got != want {
		t.Fatalf("read back %s, source %s", got, want)
	}
	computed, stored, err := Verify(context.Background(), img)
	if err != nil || computed.MD5 != stored.MD5 || computed.SHA1 != stored.SHA1 {
		t.Fatalf("verify: %v computed %+v stored %+v", err, computed, stored)
	}
}
