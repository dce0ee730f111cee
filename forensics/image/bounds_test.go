package image

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		name      string
		n         int
		off, size int64
		want      int
		eof       bool
	}{
		{"inside", 4, 0, 10, 4, false},
		{"to the end", 4, 6, 10, 4, false},
		{"across the end", 4, 8, 10, 2, true},
		{"at the end", 4, 10, 10, 0, true},
		{"past the end", 4, 20, 10, 0, true},
		{"empty inside", 0, 3, 10, 0, false},
		{"empty at the end", 0, 10, 10, 0, true},
		{"empty medium", 4, 0, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := make([]byte, tc.n)
			q, err := clip(p, tc.off, tc.size)
			if len(q) != tc.want || (err == io.EOF) != tc.eof || (err != nil && err != io.EOF) {
				t.Errorf("clip(%d bytes, %d, %d) = %d bytes, %v; want %d bytes, eof %v", tc.n, tc.off, tc.size, len(q), err, tc.want, tc.eof)
			}
			if len(q) > 0 && &q[0] != &p[0] {
				t.Error("clip copied p instead of slicing it")
			}
		})
	}
}

// TestReadPieces reads a 100-byte medium through pieces of at most 7 bytes
// (a piece ends at the next multiple of 7, as a block does) and checks the
// bytes, the count and the error of io.ReaderAt's contract.
func TestReadPieces(t *testing.T) {
	media := make([]byte, 100)
	for i := range media {
		media[i] = byte(i)
	}
	boom := errors.New("unreadable piece")
	piece := func(p []byte, off int64) (int, error) {
		if off >= 70 && off < 77 {
			return 0, boom
		}
		end := min(off/7*7+7, int64(len(media)))
		return copy(p, media[off:end]), nil
	}
	for _, tc := range []struct {
		name string
		n    int
		off  int64
		want int
		err  error
	}{
		{"one piece", 5, 0, 5, nil},
		{"across pieces", 30, 3, 30, nil},
		{"to the end", 20, 80, 20, nil},
		{"across the end", 30, 90, 10, io.EOF},
		{"past the end", 4, 100, 0, io.EOF},
		{"up to a bad piece", 20, 60, 10, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := make([]byte, tc.n)
			n, err := readPieces("test", p, tc.off, int64(len(media)), piece)
			if n != tc.want || err != tc.err {
				t.Fatalf("readPieces(%d bytes at %d) = %d, %v; want %d, %v", tc.n, tc.off, n, err, tc.want, tc.err)
			}
			if !bytes.Equal(p[:n], media[tc.off:tc.off+int64(n)]) {
				t.Errorf("bytes %v, want %v", p[:n], media[tc.off:tc.off+int64(n)])
			}
		})
	}
	if _, err := readPieces("test", make([]byte, 1), -1, 100, piece); err == nil || err.Error() != "test: negative offset -1" {
		t.Errorf("negative offset: %v", err)
	}
}
