package fat

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

func TestMain(m *testing.M) { oracle.Main(m) }

// fls is fstest.Fls for FAT and exFAT, reading local times in zone.
func fls(t testing.TB, image string, sector int64, zone string) map[string]fstest.Body {
	t.Helper()
	return fstest.Fls(t, image, sector, zone, fstest.FATPseudoFiles)
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
