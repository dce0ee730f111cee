package ntfs_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
)

// TestMFTHeld: the walker hands the $MFT out held (jfs.Hold), and no other
// file: a detached copy of it is read on another goroutine after the
// callback returned, with the bytes the callback read, and Walk does not
// return (its caller may then close the volume) before that copy is
// released. The volume is made by mkntfs.
func TestMFTHeld(t *testing.T) {
	img := filepath.Join(t.TempDir(), "ntfs.img")
	ntfstest.Format(t, img, 8<<20)
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	w, err := ntfs.NewWalker(f, fi.Size(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var (
		held     []string
		released atomic.Bool
		readErr  = make(chan error, 1)
	)
	err = w.Walk(context.Background(), func(_ context.Context, e *jfs.Entry) error {
		if !e.Held() {
			return nil
		}
		held = append(held, e.Path)
		want, err := readAll(e)
		if err != nil {
			return err
		}
		d := e.Detach()
		go func() {
			// Read once the walk has gone on past the $MFT.
			time.Sleep(100 * time.Millisecond)
			got, err := readAll(d)
			if err == nil && !bytes.Equal(got, want) {
				err = io.ErrUnexpectedEOF
			}
			released.Store(true)
			d.Release()
			readErr <- err
		}()
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !released.Load() {
		t.Error("Walk returned before the detached $MFT was released")
	}
	if len(held) != 1 || held[0] != "$MFT" {
		t.Fatalf("held entries %q, want the $MFT alone", held)
	}
	if err := <-readErr; err != nil {
		t.Errorf("reading the detached $MFT after its callback: %v", err)
	}
}

// readAll reads e through its random access, as the mft parser does.
func readAll(e *jfs.Entry) ([]byte, error) {
	ra, ok, err := e.ReaderAt()
	if !ok {
		return nil, err
	}
	if c, ok := ra.(io.Closer); ok {
		defer c.Close()
	}
	return io.ReadAll(io.NewSectionReader(ra, 0, e.Size))
}
