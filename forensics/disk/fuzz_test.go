package disk

import (
	"context"
	"io"
	"os"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// FuzzFoundImage patches bytes into real raw images (an ext4 volume, the
// Sleuth Kit's multi-partition test disk) and offers them to OpenFound as
// a file met inside evidence, walking what it opens and reading every
// file: no panic, no runaway, every problem with a cause, every chain
// starting with the file's own.
func FuzzFoundImage(f *testing.F) {
	var seeds [][]byte
	for _, rel := range []string{"more/disk/ext4/tiny.ext4", "images/tsk_volume_system.raw"} {
		b, err := os.ReadFile(parsertest.Corpus(f, rel))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	for i := range seeds {
		f.Add(uint8(i), uint32(0), []byte{})
		f.Add(uint8(i), uint32(446+8), []byte{0, 0, 0, 0x40}) // first partition's start
		f.Add(uint8(i), uint32(1024+4), []byte{0xff, 0xff})   // ext block count
		f.Add(uint8(i), uint32(510), []byte{0x55, 0xaa})
	}
	f.Fuzz(func(t *testing.T, which uint8, off uint32, patch []byte) {
		// The patch is read over the image, not written into a clone of
		// it: a 1-1.5 MiB clone per input was a large part of each run.
		b := seeds[int(which)%len(seeds)]
		patch = patch[:min(len(patch), fstest.MaxPatch)]
		e := jfs.NewEntry("found.img", []string{"dir:found.img"}, int64(len(b)), nil, nil)
		w, _, err := OpenFound(context.Background(), jfs.ImageSource{Entry: e, R: fstest.Patched(b, off, patch), Size: int64(len(b)), Opts: jfs.Options{ImageDepth: 1}})
		if err != nil || w == nil {
			return
		}
		_ = w.Walk(context.Background(), func(_ context.Context, x *jfs.Entry) error {
			if len(x.Chain) < 2 || x.Chain[0] != "dir:found.img" {
				t.Fatalf("chain %q", x.Chain)
			}
			if rc, err := x.Open(); err == nil {
				io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
				rc.Close()
			}
			return nil
		}, func(p *jfs.Problem) {
			if p.Err == nil {
				t.Fatal("problem without a cause")
			}
		})
	})
}
