package ext4

import (
	"io"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

// TestForensicsSamplesExt4 compares the walk of Debian's ext4 sample (a
// 1 KiB-block, 64bit, flex_bg ext4 with deleted folders) with fls.
func TestForensicsSamplesExt4(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sector int64
	}{{"ext4", 2048}, {"multiple", 227328}} {
		t.Run(tc.name, func(t *testing.T) {
			path := oracle.Sample(t, tc.name)
			want := fstest.Fls(t, path, tc.sector, "", nil)
			f, size := fstest.OpenFile(t, path)
			w, err := NewWalker(io.NewSectionReader(f, tc.sector*512, size-tc.sector*512), size-tc.sector*512, []string{"raw:"})
			if err != nil {
				t.Fatal(err)
			}
			got, _, probs := fstest.WalkBodies(t, w)
			for _, p := range probs {
				t.Errorf("problem: %v", p)
			}
			if d := fstest.DiffBodies(want, got); len(d) > 0 {
				t.Errorf("%d differences from fls:\n%s", len(d), strings.Join(d, "\n"))
			}
			t.Logf("%d entries, all equal to fls", len(got))
		})
	}
}
