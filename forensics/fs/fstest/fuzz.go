package fstest

import (
	"context"
	"io"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// FuzzWalk walks w as the walkers' fuzz targets do: every path must be
// safe and every problem must carry its cause, and every entry that opens
// is read (up to 4 MiB) so that content decoding runs on the damaged input
// too. The walk's own error is not judged: damaged input may end it.
func FuzzWalk(t *testing.T, w jfs.Walker) {
	t.Helper()
	_ = w.Walk(context.Background(), func(_ context.Context, e *jfs.Entry) error {
		if !jfs.IsSafePath(e.Path) {
			t.Fatalf("unsafe path %q", e.Path)
		}
		if rc, err := e.Open(); err == nil {
			io.Copy(io.Discard, io.LimitReader(rc, 4<<20))
			rc.Close()
		}
		return nil
	}, func(p *jfs.Problem) {
		if p.Err == nil {
			t.Fatal("problem without a cause")
		}
	})
}
