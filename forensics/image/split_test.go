package image

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

func TestRaw(t *testing.T) {
	path := parsertest.Corpus(t, "images/tsk_volume_system.raw")
	img, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	st, _ := os.Stat(path)
	if img.Info().Format != "raw" || img.Size() != st.Size() || sha256Image(t, img) != sha256File(t, path) {
		t.Fatalf("raw: format %q size %d", img.Info().Format, img.Size())
	}
}

// TestSplitRaw cuts real corpus bytes with coreutils split, in both naming
// styles, and opens the set from any segment.
func TestSplitRaw(t *testing.T) {
	oracle.Tool(t, "split", "coreutils")
	src := corpusRaw(t)
	want := sha256File(t, src)
	for _, tc := range []struct {
		name  string
		args  []string
		first string
		open  string
		gap   string
	}{
		{"numeric", []string{"-b", "1000000", "-d", "-a", "3", "--numeric-suffixes=1"}, "img.001", "img.004", "img.003"},
		{"numeric-from-0", []string{"-b", "1000000", "-d", "-a", "3"}, "img.000", "img.000", "img.002"},
		{"letters", []string{"-b", "999999"}, "img.aa", "img.ac", "img.ab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append(append([]string{}, tc.args...), src, filepath.Join(dir, "img."))
			oracle.Run(t, "split", args...)
			img, err := Open(filepath.Join(dir, tc.open))
			if err != nil {
				t.Fatal(err)
			}
			info := img.Info()
			if info.Format != "split-raw" || filepath.Base(info.Segments[0]) != tc.first || len(info.Segments) < 8 {
				t.Fatalf("format %q segments %v", info.Format, info.Segments)
			}
			if got := sha256Image(t, img); got != want {
				t.Fatalf("read back %s, source %s", got, want)
			}
			img.Close()
			os.Remove(filepath.Join(dir, tc.gap))
			_, err = Open(filepath.Join(dir, tc.first))
			var miss *MissingSegmentError
			if !errors.As(err, &miss) || len(miss.Missing) != 1 || filepath.Base(miss.Missing[0]) != tc.gap {
				t.Fatalf("with %s removed: err %v", tc.gap, err)
			}
		})
	}
	// A lone numbered file is a raw image.
	dir := t.TempDir()
	lone := filepath.Join(dir, "disk.001")
	os.WriteFile(lone, []byte("not a set"), 0o644)
	img, err := Open(lone)
	if err != nil || img.Info().Format != "raw" {
		t.Fatalf("lone .001: %v", err)
	}
	img.Close()
}
