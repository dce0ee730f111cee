package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/registry/registrytest"
)

// A Windows SYSTEM hive in the evidence whose time zone (SE Asia Standard
// Time, UTC+7; written by hivex, parsers/registry/testdata/mksystem.py)
// is not the case zone: ingest says ZONE MISMATCH naming the --tz to use,
// 'jejak warnings' lists it as kind zone, and it alone does not make the
// exit status 3. In Asia/Jakarta (also UTC+7) nothing is said.
func TestMachineZoneMismatch(t *testing.T) {
	dir := t.TempDir()
	hive := filepath.Join(dir, "evidence", "SYSTEM")
	os.MkdirAll(filepath.Dir(hive), 0o755)
	registrytest.WriteSystemHive(t, hive)
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
