package ntfs_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

// TestResidentContent checks that a resident stream served from the
// scanned record (no second read through go-ntfs) has the bytes go-ntfs
// reads for it, on every resident $DATA stream of both test volumes: live
// and deleted files, named streams, empty files.
func TestResidentContent(t *testing.T) {
	check := func(t *testing.T, w *ntfs.Walker) {
		n := 0
		ntfs.ResidentStreams(t, w, func(entry uint64, name string, ours, gontfs []byte) {
			n++
			if !bytes.Equal(ours, gontfs) {
				t.Errorf("MFT entry %d stream %q: %d bytes served, go-ntfs reads %d other bytes", entry, name, len(ours), len(gontfs))
			}
		})
		if n == 0 {
			t.Fatal("no resident stream on the volume")
		}
		t.Logf("%d resident streams", n)
	}
	t.Run("go-ntfs image", func(t *testing.T) {
		f, err := os.Open(goNTFSImage(t))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		w, err := ntfs.New(f, st.Size(), nil, jfs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		check(t, w)
	})
	t.Run("forensics-samples", func(t *testing.T) {
		img := oracle.Sample(t, "ntfs")
		_, parts := ntfstest.NTFSPartitions(t, img)
		w, err := ntfs.New(parts[0].Reader, parts[0].Length, nil, jfs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		check(t, w)
	})
	t.Run("bench volume", func(t *testing.T) {
		// scripts/bench.sh's smallest volume, when it was built on this
		// machine: 30k small files written through ntfs-3g, a deleted
		// folder among them.
		home, _ := os.UserHomeDir()
		f, err := os.Open(filepath.Join(home, ".cache/jejak-bench/inputs/ntfs-30000.img"))
		if err != nil {
			t.Skipf("no bench volume (scripts/bench.sh builds it): %v", err)
		}
		defer f.Close()
		st, _ := f.Stat()
		w, err := ntfs.New(f, st.Size(), nil, jfs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		check(t, w)
	})
}
