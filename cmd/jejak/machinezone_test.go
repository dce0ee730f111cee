package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// A Windows SYSTEM hive in the evidence whose time zone (SE Asia Standard
// Time, UTC+7; written by hivex, parsers/registry/testdata/mksystem.py)
// is not the case zone: ingest says ZONE MISMATCH naming the --tz to use,
// 'jejak warnings' lists it as kind zone, and it alone does not make the
// exit status 3. In Asia/Jakarta (also UTC+7) nothing is said.
func TestMachineZoneMismatch(t *testing.T) {
	// Debian's python3-hivex is for Debian's python3, which may not be
	// the first python3 on PATH.
	py := ""
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import hivex").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		t.Skip("python3-hivex not installed: apt-get install -y python3-hivex")
	}
	src, err := os.ReadFile(parsertest.Corpus(t, "windows/registry/SAM"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hive := filepath.Join(dir, "evidence", "SYSTEM")
	os.MkdirAll(filepath.Dir(hive), 0o755)
	if err := os.WriteFile(hive, src, 0o600); err != nil {
		t.Fatal(err)
	}
	regparser, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "www.velocidex.com/golang/regparser").Output()
	if err != nil {
		t.Fatal(err)
	}
	shim := filepath.Join(strings.TrimSpace(string(regparser)), "appcompatcache/test_data/Win10.bin")
	if out, err := exec.Command(py, "../../parsers/registry/testdata/mksystem.py", hive, shim).CombinedOutput(); err != nil {
		t.Fatalf("mksystem.py: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		tz       string
		mismatch bool
	}{{"UTC", true}, {"Asia/Jakarta", false}} {
		c := filepath.Join(dir, "case-"+strings.ReplaceAll(tc.tz, "/", "-"))
		_, errs, code := jejak(t, "analyze", filepath.Dir(hive), "--out", c, "--tz", tc.tz)
		if code != exitOK {
			t.Errorf("--tz %s: exit %d\n%s", tc.tz, code, errs)
		}
		said := strings.Contains(errs, "ZONE MISMATCH") && strings.Contains(errs, "--tz Asia/Bangkok")
		w := mustRun(t, exitOK, "warnings", c)
		listed := strings.Contains(w, "[zone]") && strings.Contains(w, "SYSTEM hive says")
		if said != tc.mismatch || listed != tc.mismatch {
			t.Errorf("--tz %s: summary says mismatch %v, warnings list it %v; want %v\n%s\n%s", tc.tz, said, listed, tc.mismatch, errs, w)
		}
	}
}
