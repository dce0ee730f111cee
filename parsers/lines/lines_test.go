package lines

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

type got struct {
	line     string
	off, num int64
	err      error
}

func readAll(t testing.TB, r io.Reader) []got {
	t.Helper()
	lr := NewReader(r)
	var out []got
	for {
		line, off, num, err := lr.Next()
		if err == io.EOF {
			return out
		}
		out = append(out, got{string(line), off, num, err})
		if err != nil && !errors.Is(err, ErrTooLong) {
			return out
		}
	}
}

// TestCorpus checks the reader against bytes.SplitAfter on real logs: one
// with LF ends, one with CRLF ends and no newline after its last line.
func TestCorpus(t *testing.T) {
	for _, rel := range []string{"more/linux/auth/elastic_examples_auth.log", "logs/loghub/Linux_2k.log"} {
		t.Run(rel, func(t *testing.T) {
			data, err := os.ReadFile(parsertest.Corpus(t, rel))
			if err != nil {
				t.Fatal(err)
			}
			want := bytes.SplitAfter(data, []byte("\n"))
			if len(want[len(want)-1]) == 0 {
				want = want[:len(want)-1]
			}
			// A one-byte reader makes every line cross the buffer's edge
			// as often as it can.
			for name, r := range map[string]io.Reader{"whole": bytes.NewReader(data), "onebyte": iotest.OneByteReader(bytes.NewReader(data))} {
				res := readAll(t, r)
				if len(res) != len(want) {
					t.Fatalf("%s: %d lines, bytes.SplitAfter finds %d", name, len(res), len(want))
				}
				var off int64
				for i, g := range res {
					w := strings.TrimSuffix(strings.TrimSuffix(string(want[i]), "\n"), "\r")
					if g.err != nil || g.line != w || g.off != off || g.num != int64(i+1) {
						t.Fatalf("%s: line %d = %q at %d (#%d, %v), want %q at %d", name, i+1, g.line, g.off, g.num, g.err, w, off)
					}
					off += int64(len(want[i]))
				}
			}
		})
	}
}

func TestEdges(t *testing.T) {
	long := strings.Repeat("x", Max) // with its "\n", one byte over Max
	fits := strings.Repeat("y", Max-2)
	readErr := errors.New("disk gone")
	tests := []struct {
		name string
		r    io.Reader
		want []got
	}{
		{"empty", strings.NewReader(""), nil},
		{"blank lines count", strings.NewReader("\n\r\na\n"), []got{{"", 0, 1, nil}, {"", 1, 2, nil}, {"a", 3, 3, nil}}},
		{"only one CR is an end", strings.NewReader("a\r\r\nb\rc"), []got{{"a\r", 0, 1, nil}, {"b\rc", 4, 2, nil}}},
		{"over-long line is skipped and counted", strings.NewReader("a\n" + long + "\nb\n"),
			[]got{{"a", 0, 1, nil}, {"", 2, 2, ErrTooLong}, {"b", int64(2 + len(long) + 1), 3, nil}}},
		{"over-long last line without newline", strings.NewReader("a\n" + long + "x"),
			[]got{{"a", 0, 1, nil}, {"", 2, 2, ErrTooLong}}},
		{"line of Max bytes with CRLF fits", strings.NewReader(fits + "\r\nz"),
			[]got{{fits, 0, 1, nil}, {"z", int64(len(fits) + 2), 2, nil}}},
		{"read error names the interrupted line", io.MultiReader(strings.NewReader("a\nbc"), iotest.ErrReader(readErr)),
			[]got{{"a", 0, 1, nil}, {"", 2, 1, readErr}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := readAll(t, tc.r)
			if len(res) != len(tc.want) {
				t.Fatalf("%d results, want %d", len(res), len(tc.want))
			}
			for i, w := range tc.want {
				g := res[i]
				if g.line != w.line || g.off != w.off || g.num != w.num || !errors.Is(g.err, w.err) {
					t.Errorf("result %d: %.20q at %d #%d %v; want %.20q at %d #%d %v", i, g.line, g.off, g.num, g.err, w.line, w.off, w.num, w.err)
				}
			}
		})
	}
}

func BenchmarkNext(b *testing.B) {
	data, err := os.ReadFile(parsertest.Corpus(b, "more/linux/auth/elastic_examples_auth.log"))
	if err != nil {
		b.Fatal(err)
	}
	input := bytes.Repeat(data, max(1, (8<<20)/len(data)))
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	for b.Loop() {
		lr := NewReader(bytes.NewReader(input))
		for {
			if _, _, _, err := lr.Next(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
}

// FuzzNext checks any input against bytes.SplitAfter, read through a
// one-byte reader so that lines cross the buffer's edge.
func FuzzNext(f *testing.F) {
	for _, s := range []string{"", "\n", "a\r\nb", "a\r\r\n\nb\n", "\r"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want := bytes.SplitAfter(data, []byte("\n"))
		if len(want[len(want)-1]) == 0 {
			want = want[:len(want)-1]
		}
		res := readAll(t, iotest.OneByteReader(bytes.NewReader(data)))
		if len(res) != len(want) {
			t.Fatalf("%d lines, want %d", len(res), len(want))
		}
		var off int64
		for i, g := range res {
			w := bytes.TrimSuffix(bytes.TrimSuffix(want[i], []byte("\n")), []byte("\r"))
			if g.err != nil || g.line != string(w) || g.off != off || g.num != int64(i+1) {
				t.Fatalf("line %d = %q at %d (#%d, %v), want %q at %d", i+1, g.line, g.off, g.num, g.err, w, off)
			}
			off += int64(len(want[i]))
		}
	})
}
