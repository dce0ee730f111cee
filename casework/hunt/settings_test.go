package hunt

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// sigmaRegression returns the SigmaHQ snapshot's regression_data folder
// (../shared/sigma, else fixtures/sigma: parsertest.SigmaDir), skipping
// when it is absent.
func sigmaRegression(t *testing.T) string {
	t.Helper()
	d := filepath.Join(parsertest.SigmaDir(), "regression_data", "rules", "windows")
	if _, err := os.Stat(d); err != nil {
		t.Skipf("SigmaHQ regression data not found: %v", err)
	}
	return d
}

// TestSettingsChangesOnSigmaRegression: SigmaHQ's regression recordings of
// reg.exe moving RDP's port, allowing Remote Assistance and turning the
// public firewall profile off (Sysmon 13, Attack Range). Each is one high
// finding of the right rule, with the record evtxexport shows and the
// value it shows, read by the test from evtxexport's Details.
func TestSettingsChangesOnSigmaRegression(t *testing.T) {
	if _, err := exec.LookPath("evtxexport"); err != nil {
		t.Skip("evtxexport missing: install the Debian package libevtx-utils")
	}
	root := filepath.Join(sigmaRegression(t), "registry", "registry_set")
	for _, c := range []struct {
		dir, rule string
		want      func(details string) string
	}{
		{"registry_set_change_rdp_port", "JEJAK-RDP-02", func(d string) string {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(d, "DWORD (0x"), ")"), 16, 64)
			if err != nil {
				t.Fatalf("Details %q", d)
			}
			return "RDP moved to port " + strconv.FormatInt(n, 10)
		}},
		{"registry_set_allow_rdp_remote_assistance_feature", "JEJAK-RDP-02", func(string) string { return "Remote Assistance allowed (fAllowToGetHelp 1)" }},
		{"registry_set_disable_defender_firewall", "JEJAK-DEF-01", func(string) string { return "firewall turned off for the public profile" }},
	} {
		files, _ := filepath.Glob(filepath.Join(root, c.dir, "*.evtx"))
		if len(files) != 1 {
			t.Fatalf("%s: %d EVTX files", c.dir, len(files))
		}
		recs := evtxexportRecords(t, files[0])
		var want []string
		details := ""
		for _, r := range recs {
			if r.eventID == "13" {
				want = append(want, r.file+":"+itoa(r.id))
				details = r.data["Details"]
			}
		}
		fs := hunt(t, buildCase(t, files[0]), Config{})
		got := byRule(fs, c.rule)
		if len(got) != 1 {
			t.Errorf("%s: %d %s findings, want 1", c.dir, len(got), c.rule)
			continue
		}
		f := got[0]
		if k := rowKeys(f); !slices.Equal(k, want) {
			t.Errorf("%s: rows %v, evtxexport %v", c.dir, k, want)
		}
		if w := c.want(details); f.Severity != High || !strings.Contains(f.Explanation, w) || !strings.Contains(f.Explanation, `reg.exe`) {
			t.Errorf("%s: want high, %q and the program: [%s] %s", c.dir, w, f.Severity, f.Explanation)
		}
		other := map[string]string{"JEJAK-RDP-02": "JEJAK-DEF-01", "JEJAK-DEF-01": "JEJAK-RDP-02"}[c.rule]
		if n := len(byRule(fs, other)); n > 0 {
			t.Errorf("%s: %d %s findings too", c.dir, n, other)
		}
		t.Logf("%s: [%s] %s", c.rule, f.Severity, f.Explanation)
	}
}

// TestSettingsNotOnOtherRegistryWrites: every other registry recording of
// the SigmaHQ snapshot (Sysmon 12/13/14 on Run keys, UAC bypasses, COM,
// Defender …), the firewall's start-up records (4944, 4945) of the RDP
// recording and a kernel event 13 from another provider raise neither rule.
func TestSettingsNotOnOtherRegistryWrites(t *testing.T) {
	root := sigmaRegression(t)
	files, _ := filepath.Glob(filepath.Join(root, "registry", "*", "*", "*.evtx"))
	var paths []string
	for _, f := range files {
		if strings.Contains(f, "rdp") || strings.Contains(f, "firewall") {
			continue
		}
		paths = append(paths, f)
	}
	if len(paths) < 10 {
		t.Fatalf("%d other registry recordings, want more", len(paths))
	}
	paths = append(paths, parsertest.Corpus(t, "agpl/evtx/RDPAuth_Security.evtx"), parsertest.Corpus(t, "agpl/evtx/RDPAuth_System.evtx"))
	for _, p := range paths {
		fs := hunt(t, buildCase(t, p), Config{})
		for _, id := range []string{"JEJAK-DEF-01", "JEJAK-RDP-02"} {
			for _, f := range byRule(fs, id) {
				t.Errorf("%s: %s %s", filepath.Base(filepath.Dir(p)), id, f.Explanation)
			}
		}
	}
	t.Logf("%d recordings without a firewall or RDP setting change", len(paths))
}

// TestRegNumber: the DWORD spellings of Sysmon and 4657.
func TestRegNumber(t *testing.T) {
	for in, want := range map[string]int64{"DWORD (0x00001189)": 4489, "0": 0, "1": 1, " 0x0 ": 0} {
		if n, ok := regNumber(in); !ok || n != want {
			t.Errorf("regNumber(%q) = %d, %v", in, n, ok)
		}
	}
	if _, ok := regNumber("%%1843"); ok {
		t.Error("an insertion string read as a number")
	}
}
