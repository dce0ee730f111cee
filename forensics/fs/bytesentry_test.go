package fs_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// TestBytesEntryReadsAsNewEntry: an entry of bytes in memory
// (NewBytesEntry, an NTFS resident stream) reads, before and during the
// WalkFunc call and through every method, what NewEntry over a
// bytes.Reader of the same bytes reads: Open up to the size, ReaderAt the
// bytes, ReadAt at any offset with the same count and end of file.
func TestBytesEntryReadsAsNewEntry(t *testing.T) {
	content := []byte("Feb 14 08:00:00 host sshd[1]: Accepted password for root\n")
	for _, size := range []int64{int64(len(content)), 10, 0} {
		mem := jfs.NewBytesEntry("f", []string{"ntfs:f"}, size, content)
		ref := jfs.NewEntry("f", []string{"ntfs:f"}, size,
			func() (io.ReadCloser, error) {
				return io.NopCloser(io.NewSectionReader(bytes.NewReader(content), 0, size)), nil
			},
			func() (io.ReaderAt, error) { return bytes.NewReader(content), nil })
		read := func(e *jfs.Entry) (string, []string) {
			rc, err := e.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			if err != nil || rc.Close() != nil {
				t.Fatal(err)
			}
			ra, ok, err := e.ReaderAt()
			if !ok || err != nil {
				t.Fatalf("ReaderAt: %v %v", ok, err)
			}
			var at []string
			for _, off := range []int64{0, 1, 10, int64(len(content)) - 1, int64(len(content)), int64(len(content)) + 5} {
				for _, n := range []int{0, 1, 7, len(content) + 3} {
					p := make([]byte, n)
					got, err := ra.ReadAt(p, off)
					at = append(at, string(p[:got])+"|"+errString(err))
				}
			}
			return string(b), at
		}
		wantOpen, wantAt := read(ref)
		check := func(when string, e *jfs.Entry) {
			gotOpen, gotAt := read(e)
			if gotOpen != wantOpen {
				t.Errorf("size %d, %s: Open reads %q, want %q", size, when, gotOpen, wantOpen)
			}
			for i := range wantAt {
				if gotAt[i] != wantAt[i] {
					t.Errorf("size %d, %s: ReadAt #%d %q, want %q", size, when, i, gotAt[i], wantAt[i])
				}
			}
		}
		check("before the walk", mem)
		calls := 0
		x := jfs.NewExpander(context.Background(), jfs.Options{}, func(_ context.Context, got *jfs.Entry) error {
			calls++
			check("during the call", got)
			return nil
		}, nil)
		if err := x.Entry(mem); err != nil {
			t.Fatal(err)
		}
		if calls != 1 {
			t.Fatalf("%d calls", calls)
		}
		check("after the call", mem)
	}
}

// TestBytesEntryExpanded: a container held in memory (a zip in a
// resident stream) is expanded as one read through NewEntry is.
func TestBytesEntryExpanded(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("inner.log")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("a line\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	content := buf.Bytes()
	walk := func(e *jfs.Entry) []string {
		var got []string
		x := jfs.NewExpander(context.Background(), jfs.Options{MaxDepth: 4, MaxExpanded: 1 << 20}, func(_ context.Context, e *jfs.Entry) error {
			s := e.Path
			if !e.Container {
				rc, err := e.Open()
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				s += "=" + string(b)
			}
			got = append(got, s)
			return nil
		}, nil)
		if err := x.Entry(e); err != nil {
			t.Fatal(err)
		}
		return got
	}
	size := int64(len(content))
	want := walk(jfs.NewEntry("a.zip", []string{"ntfs:a.zip"}, size,
		func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil },
		func() (io.ReaderAt, error) { return bytes.NewReader(content), nil }))
	got := walk(jfs.NewBytesEntry("a.zip", []string{"ntfs:a.zip"}, size, content))
	if len(want) != 2 || len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("walked %q, want %q", got, want)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	if err == io.EOF {
		return "EOF"
	}
	return "error"
}
