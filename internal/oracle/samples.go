package oracle

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// SamplesDir is where Debian's forensics-samples-* packages install.
const SamplesDir = "/usr/share/forensics-samples"

// samples holds the decompressed images for the whole test binary:
// decompressing 350 MB again for every test would dominate the run.
var samples struct {
	sync.Mutex
	main bool   // Main runs this binary, so dir is removed at its end
	dir  string // "" until the first image is decompressed
}

// Main runs a test binary's tests and then removes the images Sample
// decompressed. A package whose tests call Sample declares
//
//	func TestMain(m *testing.M) { oracle.Main(m) }
func Main(m *testing.M) {
	samples.Lock()
	samples.main = true
	samples.Unlock()
	code := m.Run()
	if samples.dir != "" {
		os.RemoveAll(samples.dir)
	}
	os.Exit(code)
}

// Sample returns the path of Debian's forensics-samples image fs.<name>
// ("ext4", "ntfs", "multiple"), decompressed once per test binary from the
// fs.<name>.xz that the package forensics-samples-<name> installs.
//
// The file is shared by every test of the binary: read it, never write,
// truncate or hard-link it; copy what a test means to change.
func Sample(t testing.TB, name string) string {
	t.Helper()
	src := filepath.Join(SamplesDir, "fs."+name+".xz")
	if _, err := os.Stat(src); err != nil {
		t.Skipf("%s missing: apt-get install -y forensics-samples-%s", src, name)
	}
	Tool(t, "xz", "xz-utils")
	samples.Lock()
	defer samples.Unlock()
	if !samples.main {
		t.Fatal("oracle.Sample needs func TestMain(m *testing.M) { oracle.Main(m) } in the test package, or its images stay in the temp dir")
	}
	if samples.dir == "" {
		d, err := os.MkdirTemp("", "jejak-samples-")
		if err != nil {
			t.Fatal(err)
		}
		samples.dir = d
	}
	dst := filepath.Join(samples.dir, "fs."+name)
	if _, err := os.Stat(dst); err == nil {
		return dst
	}
	out, err := os.Create(dst + ".part")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("xz", "-dc", src)
	cmd.Stdout = out
	if err := cmd.Run(); err != nil {
		out.Close()
		t.Fatalf("xz -dc %s: %v", src, err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	// Read-only, so that a test which opens it for writing fails where it
	// is not run as root.
	if err := os.Chmod(dst+".part", 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dst+".part", dst); err != nil {
		t.Fatal(err)
	}
	return dst
}
