package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/jejak-forensics/jejak/casework/ingest"
)

// stockDebianLog is what a stock Debian 12 /var/log holds from apt, dpkg,
// update-alternatives and fontconfig (the folder's own name, log, makes it
// a log folder as /var/log registered as evidence is): every *.log in it is
// a well-known log name, so each must be read or recognised.
var stockDebianLog = map[string]string{
	"alternatives.log": "../../parsers/dpkg/testdata/alternatives.log",
	"apt/term.log":     "../../parsers/dpkg/testdata/term.log",
	"apt/history.log":  "../../parsers/dpkg/testdata/history.log",
	"apt/eipp.log.xz":  "../../casework/ingest/testdata/eipp.log.xz",
	"dpkg.log":         "../../parsers/dpkg/testdata/dpkg.log",
	"fontconfig.log":   "../../casework/ingest/testdata/fontconfig.log",
}

// TestStockDebianVarLog: a copy of those files analyzes with exit 0, each
// log read by its parser with the record count the test's own regular
// expressions find, and the two untimed files recognised. It runs on the
// copies in testdata (real files of a Debian 12 machine), and on this
// machine's own /var/log files when it has and may read them all.
func TestStockDebianVarLog(t *testing.T) {
	sets := map[string]map[string]string{"testdata": stockDebianLog}
	own := map[string]string{}
	for name := range stockDebianLog {
		p := filepath.Join("/var/log", filepath.FromSlash(name))
		if f, err := os.Open(p); err == nil {
			f.Close()
			own[name] = p
		}
	}
	if len(own) == len(stockDebianLog) {
		sets["/var/log"] = own
	} else {
		t.Logf("this machine's /var/log lacks some of the files (%d of %d): only the testdata copies", len(own), len(stockDebianLog))
	}
	for set, files := range sets {
		t.Run(set, func(t *testing.T) {
			root := t.TempDir()
			ev := filepath.Join(root, "log")
			data := map[string][]byte{}
			for name, src := range files {
				b, err := os.ReadFile(src)
				if err != nil {
					t.Fatal(err)
				}
				data[name] = b
				p := filepath.Join(ev, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// Debian 12 links /var/log/README to systemd's README.logs: a
			// link is on the timeline with its target, never followed, and
			// is no problem for the run.
			if err := os.Symlink("../../usr/share/doc/systemd/README.logs", filepath.Join(ev, "README")); err != nil {
				t.Fatal(err)
			}
			sum := summaryOf(t, mustRun(t, exitOK, "analyze", ev, "--out", filepath.Join(root, "case"), "--examiner", "t", "--json"))
			count := func(re string, b []byte) int64 {
				return int64(len(regexp.MustCompile(re).FindAllIndex(b, -1)))
			}
			want := map[string]int64{
				"alternatives": count(`(?m)^update-alternatives \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: `, data["alternatives.log"]),
				// a start and an end event per run
				"apt_term":    2 * count(`(?m)^Log started: `, data["apt/term.log"]),
				"apt_history": count(`(?m)^Start-Date: `, data["apt/history.log"]),
				"dpkg":        count(`(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d `, data["dpkg.log"]),
			}
			for parser, n := range want {
				st := sum.Parsers[parser]
				if n == 0 || st == nil || st.Files != 1 || st.Events != n || st.Warnings != 0 {
					t.Errorf("%s: %+v, want 1 file, %d events, no warnings", parser, st, n)
				}
			}
			if sum.Special != 1 || sum.Problems != 0 {
				t.Errorf("README link: %d special files, %d container problems; want 1 and 0", sum.Special, sum.Problems)
			}
			if sum.SkipReasons[ingest.SkipUntimed] != 2 || sum.SkipReasons[ingest.SkipKnownLog] != 0 {
				t.Errorf("skips %v, want the EIPP dump and fontconfig.log recognised", sum.SkipReasons)
			}
		})
	}
}
