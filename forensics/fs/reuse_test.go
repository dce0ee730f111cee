package fs_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// countingAt is a file's random access that counts how often it is opened
// and closed.
type countingAt struct {
	*bytes.Reader
	closed *int
}

func (c countingAt) Close() error { *c.closed++; return nil }

// TestSniffedReaderServesTheCall: a file-system entry (NewEntry with
// random access) is opened once to be sniffed, and the entry the WalkFunc
// gets reads through that reader, Open and ReaderAt alike, the same bytes,
// as often as it asks; the reader is closed once, after the call, and not
// by the WalkFunc closing what it was given.
func TestSniffedReaderServesTheCall(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content []byte
		size    int64
	}{
		{"text", []byte("Feb 14 08:00:00 host sshd[1]: Accepted password for root\n"), -2},
		{"empty", nil, -2},
		{"unknown size", []byte("some bytes of a file whose size is not known\n"), -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size := tc.size
			if size == -2 {
				size = int64(len(tc.content))
			}
			opens, ats, closed := 0, 0, 0
			e := jfs.NewEntry("f", []string{"ntfs:f"}, size,
				func() (io.ReadCloser, error) {
					opens++
					return io.NopCloser(bytes.NewReader(tc.content)), nil
				},
				func() (io.ReaderAt, error) {
					ats++
					return countingAt{bytes.NewReader(tc.content), &closed}, nil
				})
			calls := 0
			x := jfs.NewExpander(context.Background(), jfs.Options{}, func(_ context.Context, got *jfs.Entry) error {
				calls++
				for range 2 {
					rc, err := got.Open()
					if err != nil {
						t.Fatal(err)
					}
					b, err := io.ReadAll(rc)
					if err != nil || !bytes.Equal(b, tc.content) {
						t.Fatalf("Open reads %q, %v; want %q", b, err, tc.content)
					}
					rc.Close()
					ra, ok, err := got.ReaderAt()
					if !ok || err != nil {
						t.Fatalf("ReaderAt: %v, %v", ok, err)
					}
					if _, isCloser := ra.(io.Closer); isCloser {
						t.Fatal("the shared reader can be closed by the WalkFunc")
					}
					b = make([]byte, len(tc.content))
					if n, _ := ra.ReadAt(b, 0); n != len(b) || !bytes.Equal(b, tc.content) {
						t.Fatalf("ReadAt reads %q", b[:n])
					}
				}
				if closed != 0 {
					t.Fatal("the sniffed reader was closed during the call")
				}
				return nil
			}, nil)
			if err := x.Entry(e); err != nil {
				t.Fatal(err)
			}
			if calls != 1 || ats != 1 || opens != 0 || closed != 1 {
				t.Errorf("%d calls, random access opened %d times, Open %d times, closed %d times; want 1, 1, 0, 1", calls, ats, opens, closed)
			}
		})
	}
}

// TestEntryRestoredAfterTheCall: the entry handed to the WalkFunc is the
// caller's own, its reading rerouted for the call only: once Entry
// returns, the caller's entry opens its content afresh, as before it.
func TestEntryRestoredAfterTheCall(t *testing.T) {
	content := []byte("line one\nline two\n")
	opened, closed := 0, 0
	e := jfs.NewEntry("a.txt", []string{"x:a.txt"}, int64(len(content)), func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(content)), nil
	}, func() (io.ReaderAt, error) {
		opened++
		return countingAt{bytes.NewReader(content), &closed}, nil
	})
	var during *jfs.Entry
	x := jfs.NewExpander(context.Background(), jfs.Options{}, func(_ context.Context, got *jfs.Entry) error {
		during = got
		if _, _, err := got.ReaderAt(); err != nil {
			t.Fatal(err)
		}
		return nil
	}, nil)
	if err := x.Entry(e); err != nil {
		t.Fatal(err)
	}
	if during != e || opened != 1 || closed != 1 {
		t.Fatalf("during the call: same entry %v, opened %d, closed %d; want true, 1, 1", during == e, opened, closed)
	}
	ra, ok, err := e.ReaderAt()
	if err != nil || !ok {
		t.Fatalf("ReaderAt after the call: %v %v", ok, err)
	}
	if _, isOwn := ra.(countingAt); !isOwn || opened != 2 {
		t.Fatalf("after the call the entry reads through %T (opened %d), want its own reader opened afresh", ra, opened)
	}
	rc, err := e.Open()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(b, content) {
		t.Fatalf("Open after the call read %q", b)
	}
}
