package journal_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/casetest"
	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/parsers/journal"
)

// TestHuntLikeSyslog: the same records, written once as a journal by
// systemd-journal-remote and once as an rsyslog auth.log (RFC 3339 times),
// ingested through the whole pipeline, give the built-in hunt the same
// findings (rule and key): a password-guessing run ending in a logon, then
// sudo adding an account.
func TestHuntLikeSyslog(t *testing.T) {
	_, remote := journal.Tools(t)
	base := time.Date(2024, 2, 14, 19, 30, 0, 0, time.UTC)
	type rec struct {
		at         time.Time
		ident, msg string
	}
	var recs []rec
	for i := range 30 {
		recs = append(recs, rec{base.Add(time.Duration(i) * 3 * time.Second), "sshd",
			fmt.Sprintf("Failed password for root from 203.0.113.50 port %d ssh2", 40000+i)})
	}
	recs = append(recs,
		rec{base.Add(95 * time.Second), "sshd", "Accepted password for root from 203.0.113.50 port 41000 ssh2"},
		rec{base.Add(120 * time.Second), "sudo", "    root : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/usr/sbin/useradd -m backup"},
		rec{base.Add(121 * time.Second), "useradd", "new user: name=backup, UID=1001, GID=1001, home=/home/backup, shell=/bin/bash, from=/dev/pts/0"},
		rec{base.Add(130 * time.Second), "usermod", "add 'backup' to group 'sudo'"},
	)
	var entries []journal.ExportEntry
	var text strings.Builder
	for i, r := range recs {
		pid := fmt.Sprint(5000 + i)
		entries = append(entries, journal.ExportEntry{At: r.at, Boot: "3f1e4c0b5a6d4e2f9a8b7c6d5e4f3a2b", Fields: [][2]string{
			{"_HOSTNAME", "kpu-tabulasi-01"}, {"SYSLOG_IDENTIFIER", r.ident}, {"_PID", pid},
			{"SYSLOG_FACILITY", "10"}, {"PRIORITY", "6"}, {"MESSAGE", r.msg}}})
		fmt.Fprintf(&text, "%s kpu-tabulasi-01 %s[%s]: %s\n", r.at.Format("2006-01-02T15:04:05.000000-07:00"), r.ident, pid, r.msg)
	}
	dir := t.TempDir()
	jfile := journal.BuildJournal(t, remote, dir, "system.journal", journal.WriteExport(entries), true)
	sdir := filepath.Join(dir, "log")
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		t.Fatal(err)
	}
	sfile := filepath.Join(sdir, "auth.log")
	if err := os.WriteFile(sfile, []byte(text.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	findings := func(path string) []string {
		st, sum := casetest.Build(t, path)
		// The records, and the file-system times of the file.
		if sum.Events < int64(len(recs)) {
			t.Errorf("%s: %d events, %d records", path, sum.Events, len(recs))
		}
		fs, err := hunt.Hunt(context.Background(), st, hunt.Config{After: base.Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range fs {
			out = append(out, f.RuleID+" "+f.Key)
		}
		slices.Sort(out)
		return out
	}
	j, s := findings(jfile), findings(sfile)
	if !slices.Equal(j, s) {
		t.Errorf("journal findings\n%s\nsyslog findings\n%s", strings.Join(j, "\n"), strings.Join(s, "\n"))
	}
	if !slices.Contains(s, "JEJAK-AUTH-02 203.0.113.50") {
		t.Errorf("the syslog case has no brute force ending in a logon from 203.0.113.50: %v", s)
	}
	t.Logf("findings of both: %v", j)
}
