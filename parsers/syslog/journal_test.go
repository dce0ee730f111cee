package syslog

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// journalRec is one entry written into a journal file, and what the
// normalisers must find in it.
type journalRec struct {
	boot            string
	at              time.Time
	ident, pid, msg string
	action, user    string
	ip              string
}

// TestJournalctlExport builds a journal file with systemd-journal-remote
// from entries the test chooses (two boots), prints it with the real
// journalctl in each of its syslog-like text formats, and checks each text:
// one event per entry at the entry's own time, journalctl's "-- Boot ... --"
// note a warning (never folded into a message), and the sshd/sudo facts of
// the entries. short-full carries a zone abbreviation: it is read when the
// case zone writes that abbreviation, and every entry is a warning when it
// does not. short-monotonic (no wall time) is refused by Match.
func TestJournalctlExport(t *testing.T) {
	journalctl := oracle.Tool(t, "journalctl", "systemd")
	remote := "/lib/systemd/systemd-journal-remote"
	if _, err := os.Stat(remote); err != nil {
		t.Skip("systemd-journal-remote not installed: apt-get install -y systemd-journal-remote")
	}
	base := time.Date(2024, 2, 14, 12, 5, 1, 250000000, time.UTC)
	b1, b2 := "3f1e4c0b5a6d4e2f9a8b7c6d5e4f3a2b", "9a8b7c6d5e4f3a2b3f1e4c0b5a6d4e2f"
	recs := []journalRec{
		{b1, base, "sshd", "4242", "Failed password for root from 203.0.113.5 port 4242 ssh2", "ssh_failed_login", "root", "203.0.113.5"},
		{b1, base.Add(2 * time.Second), "sshd", "4242", "Accepted password for root from 203.0.113.5 port 4242 ssh2", "ssh_login", "root", "203.0.113.5"},
		{b1, base.Add(5 * time.Second), "sudo", "4300", "    root : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/usr/sbin/useradd backup", "sudo_command", "root", ""},
		{b2, base.Add(15 * time.Minute), "kernel", "", "Linux version 6.1.0-18-amd64", "", "", ""},
		{b2, base.Add(15*time.Minute + time.Second), "systemd", "1", "Started ssh.service - OpenBSD Secure Shell server.", "", "", ""},
	}
	dir := t.TempDir()
	jfile := buildJournal(t, remote, dir, base, recs)
	jakarta, err := time.LoadLocation("Asia/Jakarta")
	if err != nil {
		t.Skip("no zoneinfo for Asia/Jakarta")
	}
	text := func(format string) []byte { return journalText(t, journalctl, jfile, format, "Asia/Jakarta") }
	for _, format := range []string{"short", "short-precise", "short-iso", "short-iso-precise", "short-unix", "short-full"} {
		t.Run(format, func(t *testing.T) {
			data := text(format)
			if !New().Match(parsertest.BytesEntry("evidence.bin", nil, time.Time{}), data) {
				t.Errorf("Match rejects journalctl -o %s", format)
			}
			// Year-less formats take the year from the file's mtime.
			res := parseBytes(t, "journal.txt", data, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), jakarta)
			boots := bytes.Count(data, []byte("\n-- Boot "))
			if len(res.Events) != len(recs) || len(res.Warnings) != boots || boots != 1 {
				t.Fatalf("%d events, %d warnings; journal has %d entries, text %d boot notes:\n%s", len(res.Events), len(res.Warnings), len(recs), boots, data)
			}
			precise := format != "short" && format != "short-iso" && format != "short-full"
			for i, r := range recs {
				ev := res.Events[i]
				want := r.at
				if !precise {
					want = want.Truncate(time.Second)
				}
				if !ev.Timestamp.Equal(want) {
					t.Errorf("entry %d at %s, journal says %s", i, ev.Timestamp, want)
				}
				tag := r.ident
				if r.pid != "" {
					tag += "[" + r.pid + "]"
				}
				if ev.Message != tag+": "+r.msg || hostName(ev) != "kpu-tabulasi-01" || strings.Contains(ev.Message, "\n") {
					t.Errorf("entry %d: %q on %q", i, ev.Message, hostName(ev))
				}
				if f := facts(ev); f.action != r.action || f.user != r.user || f.ip != r.ip {
					t.Errorf("entry %d: %v, want %s/%s/%s", i, f, r.action, r.user, r.ip)
				}
			}
		})
	}
	if data := text("short-monotonic"); New().Match(parsertest.BytesEntry("evidence.bin", nil, time.Time{}), data) {
		t.Errorf("Match takes journalctl -o short-monotonic, which has no wall time:\n%s", data)
	}
	// short-full read in a case zone that does not write "WIB": every
	// entry is a warning, none is placed by a guess.
	res := parseBytes(t, "journal.txt", text("short-full"), time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), time.UTC)
	if len(res.Events) != 0 || len(res.Warnings) != len(recs)+1 {
		t.Errorf("short-full in the wrong case zone: %d events, %d warnings", len(res.Events), len(res.Warnings))
	}
}

// TestJournalctlShortFullDST: journalctl -o short-full in a zone with
// daylight saving writes the repeated hour twice, "02:30:00 CEST" then
// "02:30:00 CET"; the abbreviation places each entry at its own instant.
func TestJournalctlShortFullDST(t *testing.T) {
	journalctl := oracle.Tool(t, "journalctl", "systemd")
	remote := "/lib/systemd/systemd-journal-remote"
	if _, err := os.Stat(remote); err != nil {
		t.Skip("systemd-journal-remote not installed: apt-get install -y systemd-journal-remote")
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no zoneinfo for Europe/Berlin")
	}
	b := "3f1e4c0b5a6d4e2f9a8b7c6d5e4f3a2b"
	base := time.Date(2024, 10, 27, 0, 30, 0, 0, time.UTC) // 02:30 CEST
	var recs []journalRec
	for i, at := range []time.Time{base.Add(-time.Hour), base, base.Add(time.Hour), base.Add(2 * time.Hour), time.Date(2024, 1, 15, 9, 0, 0, 0, time.UTC)} {
		recs = append(recs, journalRec{b, at, "sshd", "10", fmt.Sprintf("Connection from 203.0.113.%d port 22", i+1), "ssh_connection", "", fmt.Sprintf("203.0.113.%d", i+1)})
	}
	jfile := buildJournal(t, remote, t.TempDir(), recs[0].at, recs)
	data := journalText(t, journalctl, jfile, "short-full", "Europe/Berlin")
	if !bytes.Contains(data, []byte("02:30:00 CEST")) || !bytes.Contains(data, []byte("02:30:00 CET")) {
		t.Fatalf("journalctl did not write the repeated hour twice:\n%s", data)
	}
	t.Logf("journalctl -o short-full, TZ=Europe/Berlin:\n%s", data)
	res := parseBytes(t, "journal.txt", data, time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC), berlin)
	if len(res.Events) != len(recs) || len(res.Warnings) != 0 {
		t.Fatalf("%d events, %d warnings:\n%s", len(res.Events), len(res.Warnings), data)
	}
	for _, ev := range res.Events {
		var want time.Time
		for _, r := range recs {
			if strings.HasSuffix(ev.Message, r.msg) {
				want = r.at
			}
		}
		if !ev.Timestamp.Equal(want) {
			t.Errorf("%q at %s, journal says %s", ev.Message, ev.Timestamp, want)
		}
	}
}

// buildJournal writes recs as a journal file with systemd-journal-remote,
// from the journal export format.
func buildJournal(t *testing.T, remote, dir string, base time.Time, recs []journalRec) string {
	t.Helper()
	var export bytes.Buffer
	for i, r := range recs {
		fmt.Fprintf(&export, "__CURSOR=s=0;i=%d\n__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=%s\n_HOSTNAME=kpu-tabulasi-01\nSYSLOG_IDENTIFIER=%s\n",
			i+1, r.at.UnixMicro(), 1000000+r.at.Sub(base).Abs().Microseconds()+int64(i), r.boot, r.ident)
		if r.pid != "" {
			fmt.Fprintf(&export, "_PID=%s\n", r.pid)
		}
		fmt.Fprintf(&export, "PRIORITY=6\nMESSAGE=%s\n\n", r.msg)
	}
	jfile := filepath.Join(dir, "system.journal")
	cmd := exec.Command(remote, "--output="+jfile, "-")
	cmd.Stdin = &export
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote: %v: %s", err, b)
	}
	return jfile
}

// journalText prints a journal file with journalctl in format and zone.
func journalText(t *testing.T, journalctl, jfile, format, zone string) []byte {
	t.Helper()
	cmd := exec.Command(journalctl, "--file="+jfile, "-o", format, "--no-pager")
	cmd.Env = append(os.Environ(), "TZ="+zone)
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("journalctl -o %s: %v", format, err)
	}
	return b
}
