// Package registrytest writes real registry hives for tests: hivex
// (Debian's python3-hivex, the libhivex bindings) rewrites a copy of the
// corpus SAM hive by the scripts in parsers/registry/testdata.
package registrytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// HivexPython finds a Python with the hivex bindings, or skips the test:
// Debian's python3-hivex is for Debian's python3, which may not be the
// first python3 on PATH.
func HivexPython(t testing.TB) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import hivex").Run() == nil {
			return py
		}
	}
	t.Skip("python3-hivex not installed: apt-get install -y python3-hivex")
	return ""
}

// WriteSystemHive writes a SYSTEM hive at path (its folder must exist)
// with testdata/mksystem.py: the corpus SAM hive with its keys replaced by
// a control set with a computer name, the time zone SE Asia Standard Time
// (UTC+7), services, interfaces, USB devices, MountedDevices and a real
// Windows 10 AppCompatCache value (regparser's test data).
func WriteSystemHive(t testing.TB, path string) {
	t.Helper()
	py := HivexPython(t)
	src, err := os.ReadFile(parsertest.Corpus(t, "windows/registry/SAM"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	regparser, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "www.velocidex.com/golang/regparser").Output()
	if err != nil {
		t.Fatal(err)
	}
	shim := filepath.Join(strings.TrimSpace(string(regparser)), "appcompatcache/test_data/Win10.bin")
	if out, err := exec.Command(py, filepath.Join(testdata(t), "mksystem.py"), path, shim).CombinedOutput(); err != nil {
		t.Fatalf("mksystem.py: %v\n%s", err, out)
	}
}

// testdata is parsers/registry/testdata, found from this file's own path
// so that tests of any package can run its scripts.
func testdata(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("registrytest: cannot locate its source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}
