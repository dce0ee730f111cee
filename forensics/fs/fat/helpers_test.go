package fat

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

func TestMain(m *testing.M) { oracle.Main(m) }

// fls is fstest.Fls for FAT and exFAT, reading local times in zone.
func fls(t testing.TB, image string, sector int64, zone string) map[string]fstest.Body {
	t.Helper()
	return fstest.Fls(t, image, sector, zone, fstest.FATPseudoFiles)
}

// walkMatchesFls walks the FAT or exFAT image img whole, local times read
// as UTC, and fails the test on every problem and on every difference from
// fls (same zone). It returns the walk's bodies and entries by key.
func walkMatchesFls(t *testing.T, img string) (map[string]fstest.Body, map[string]*jfs.Entry) {
	t.Helper()
	f, size := fstest.OpenFile(t, img)
	w, err := NewWalker(f, size, []string{"file:" + filepath.Base(img)}, Options{Zone: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	got, entries, probs := fstest.WalkBodies(t, w)
	for _, p := range probs {
		t.Errorf("problem: %v", p)
	}
	if d := fstest.DiffBodies(fls(t, img, 0, "UTC"), got); len(d) > 0 {
		t.Errorf("%d differences from fls:\n%s", len(d), strings.Join(d, "\n"))
	}
	return got, entries
}

// run runs a tool of the test's image build, failing the test when it
// fails. TZ is set so that the times mtools writes are known local times.
func run(t testing.TB, tz string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "TZ="+tz, "MTOOLS_SKIP_CHECK=1", "MTOOLS_NO_VFAT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
