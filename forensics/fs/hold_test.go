package fs

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// TestHold: a held entry is Lasting; each Detach of it keeps Hold.Wait
// from returning until that copy is Released (once: a second Release and a
// Release of the entry itself do nothing), and its content stays readable
// through the copy meanwhile. An entry that is not held detaches (or not)
// as before, holding nothing.
func TestHold(t *testing.T) {
	content := []byte("content of a $MFT")
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil }
	readerAt := func() (io.ReaderAt, error) { return bytes.NewReader(content), nil }

	tests := []struct {
		name     string
		detaches int
	}{
		{"never detached", 0},
		{"detached once", 1},
		{"detached three times", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Hold
			e := NewEntry("$MFT", []string{"raw:", "ntfs:$MFT"}, int64(len(content)), open, readerAt)
			if e.Lasting() || e.Held() {
				t.Fatal("a new entry is Lasting or Held before HoldBy")
			}
			e.HoldBy(&h)
			if !e.Lasting() || !e.Held() {
				t.Fatal("HoldBy: the entry is not Lasting and Held")
			}
			var ds []*Entry
			for range tt.detaches {
				d := e.Detach()
				if d == nil {
					t.Fatal("Detach of a held entry returned nil")
				}
				ds = append(ds, d)
			}
			e.Release() // the walker's own entry holds nothing
			waited := make(chan struct{})
			go func() { h.Wait(); close(waited) }()
			for i, d := range ds {
				select {
				case <-waited:
					t.Fatalf("Wait returned with %d of %d detached copies not released", len(ds)-i, len(ds))
				case <-time.After(20 * time.Millisecond):
				}
				rc, err := d.Open()
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, content) {
					t.Fatalf("detached copy %d reads %q, %v; want %q", i, got, err, content)
				}
				d.Release()
				d.Release() // the second time: nothing
			}
			select {
			case <-waited:
			case <-time.After(5 * time.Second):
				t.Fatal("Wait did not return once every detached copy was released")
			}
		})
	}

	t.Run("not held", func(t *testing.T) {
		e := NewEntry("x", []string{"tar:x"}, 1, open, nil)
		if d := e.Detach(); d != nil || e.Held() {
			t.Fatalf("an entry neither Lasting nor held: Detach %v, Held %v", d, e.Held())
		}
		e.Release() // nothing to release
	})
}
