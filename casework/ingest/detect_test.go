package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// memSink keeps what ingest writes.
type memSink struct {
	mu     sync.Mutex
	events []*timeline.Event
}

func (s *memSink) Write(_ context.Context, b []*timeline.Event) (timeline.WriteStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, b...)
	return timeline.WriteStats{Inserted: len(b)}, nil
}

func (s *memSink) Close() error { return nil }

// run is one ingest of a folder of files through every parser.
type run struct {
	sum      ingest.Summary
	events   []*timeline.Event
	warnings []timeline.Warning
}

// ingestFiles writes files (relative path → content) into a fresh folder
// and ingests it as one evidence item, as 'jejak ingest' does.
func ingestFiles(t testing.TB, files map[string][]byte) run {
	t.Helper()
	return ingestFolder(t, "evidence", files)
}

// ingestFolder is ingestFiles with the evidence folder's name given.
func ingestFolder(t testing.TB, name string, files map[string][]byte) run {
	t.Helper()
	root := t.TempDir()
	ev := filepath.Join(root, name)
	for name, b := range files {
		p := filepath.Join(ev, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	w, err := jfs.Open(ctx, ev, jfs.Options{TempDir: root})
	if err != nil {
		t.Fatal(err)
	}
	var r run
	var mu sync.Mutex
	sink := &memSink{}
	r.sum, err = ingest.Run(ctx, ingest.Config{Registry: all.Registry(), Zone: time.UTC, TempDir: root, Workers: 1,
		Warn: func(w timeline.Warning) { mu.Lock(); r.warnings = append(r.warnings, w); mu.Unlock() }},
		[]ingest.Item{{SHA256: "e", Name: name, Walker: w}}, sink)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range sink.events {
		if e.Jejak.Provenance.Parser != "filestat" {
			r.events = append(r.events, e)
		}
	}
	return r
}

// recordKeys lists each event's time and message, sorted, to compare two
// runs on the same records.
func recordKeys(evs []*timeline.Event) []string {
	var k []string
	for _, e := range evs {
		k = append(k, fmt.Sprintf("%d %s", e.Timestamp.UnixNano(), e.Message))
	}
	sort.Strings(k)
	return k
}

func readCorpus(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(parsertest.Corpus(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nonBlankLines counts lines with something on them: for one-line-per-record
// formats, the number of records a reader must account for.
func nonBlankLines(b []byte) int {
	n := 0
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			n++
		}
	}
	return n
}

// A comment block such as people and export tools put at the top of a log
// they hand over. None of it is a record.
const commentBlock = "# Exported from web01 by the county IT office\n" +
	"# Chain of custody: ticket 2024-117\n" +
	"\n" +
	"# Columns as written by the server; times are server local time\n"

// Real logs with comment lines prepended are recognised as the same format
// and read to the end: every record the clean file yields is still there,
// and each comment line is one more warning naming its line number.
func TestCommentedLogsReadToEnd(t *testing.T) {
	cases := []struct {
		name, corpus string
		parser       string
		// oneLine: one record per non-blank line, so the clean file's
		// event count is checked against the line count (an oracle that
		// does not depend on jejak).
		oneLine bool
	}{
		{"sshd syslog", "logs/syslog/syslog_ssh.log", "syslog", true},
		{"auth.log", "more/linux/auth/elastic_examples_auth.log", "syslog", true},
		{"crowdsec sshd", "more/linux/auth/crowdsec_sshd-logs.log", "syslog", true},
		{"apache combined", "logs/web/apache_access.log", "weblog", true},
		{"apache crowdsec", "more/web/apache/crowdsec_apache2-logs.log", "weblog", false},
		{"nginx access", "more/web/nginx/crowdsec_nginx_http-logs.log", "weblog", false},
		{"mysql error", "more/db/lnav_logfile_mysql_error.0", "mysql", false},
		{"mysql general", "more/db/lnav_logfile_mysql_gen.0", "mysql", false},
		{"postgresql stderr", "logs/db/postgresql.log", "postgresql", false},
		{"auditd", "more/audit/go-libaudit_audit-rhel7.log", "auditd", false},
		{"dpkg", "logs/linux/dpkg.log", "dpkg", true},
		{"mysql slow", "more/db/lnav_logfile_mysql_slow.0", "mysql", false},
		{"postgresql lnav", "more/db/lnav_logfile_postgres.0", "postgresql", false},
		{"selinux audit", "logs/linux/selinux.log", "auditd", false},
		{"iis6 w3c", "logs/web/iis6.log", "weblog", false},
		{"iis10 w3c", "logs/web/iis10.log", "weblog", false},
		{"windows firewall", "logs/windows/windows_firewall.log", "winfirewall", false},
		{"rsyslog", "logs/syslog/syslog_rsyslog", "syslog", false},
		{"rfc5424", "logs/syslog/syslog_rsyslog_SyslogProtocol23Format", "syslog", false},
		{"cron", "logs/syslog/syslog_cron.log", "syslog", false},
	}
	// Not here: a bash history, where a '#' line that is no timestamp is a
	// command the user typed (bash keeps commented-out commands), so a
	// comment at the top is rightly an event.
	comments := nonBlankLines([]byte(commentBlock))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clean := readCorpus(t, c.corpus)
			base := filepath.Base(c.corpus)
			r := ingestFiles(t, map[string][]byte{
				"clean/" + base:     clean,
				"commented/" + base: append([]byte(commentBlock), clean...),
			})
			got := map[string][]*timeline.Event{}
			for _, e := range r.events {
				dir, _, _ := strings.Cut(e.Jejak.Provenance.Path, "/")
				got[dir] = append(got[dir], e)
				if e.Jejak.Provenance.Parser != c.parser {
					t.Errorf("%s parsed by %s, want %s", e.Jejak.Provenance.Path, e.Jejak.Provenance.Parser, c.parser)
				}
			}
			if len(got["clean"]) == 0 {
				t.Fatalf("clean file gave no events; skips %v", r.sum.SkipReasons)
			}
			if c.oneLine && len(got["clean"]) != nonBlankLines(clean) {
				t.Errorf("clean file: %d events for %d lines", len(got["clean"]), nonBlankLines(clean))
			}
			if a, b := recordKeys(got["clean"]), recordKeys(got["commented"]); strings.Join(a, "\n") != strings.Join(b, "\n") {
				t.Errorf("commented file: %d events, clean file %d; records differ", len(b), len(a))
			}
			warns := map[string][]timeline.Warning{}
			for _, w := range r.warnings {
				dir, _, _ := strings.Cut(w.Path, "/")
				warns[dir] = append(warns[dir], w)
			}
			for _, w := range warns["commented"] {
				if w.Kind == timeline.WarnSkipped {
					t.Fatalf("commented file skipped: %s", w.Message)
				}
			}
			// Each comment line is a warning at its own line (1, 2, 4) on
			// top of what the clean file gave.
			if n, want := len(warns["commented"]), len(warns["clean"])+comments; n != want {
				t.Errorf("commented file: %d warnings, want %d (clean %d + %d comment lines)", n, want, len(warns["clean"]), comments)
				for _, w := range warns["commented"] {
					t.Logf("  %s", w.Message)
				}
			}
			lines := map[int64]bool{}
			for _, w := range warns["commented"] {
				lines[w.Record] = true
			}
			for _, n := range []int64{1, 2, 4} {
				if !lines[n] {
					t.Errorf("no warning for comment line %d", n)
				}
			}
		})
	}
}

// proseLines are lines of a real text document that is no log (the corpus
// README), without blank or comment-like lines, so each is a sampled line.
func proseLines(t *testing.T) [][]byte {
	t.Helper()
	var out [][]byte
	for _, l := range bytes.Split(readCorpus(t, "README.md"), []byte("\n")) {
		tl := bytes.TrimSpace(l)
		if len(tl) == 0 || strings.ContainsAny(string(tl[:1]), "#;-/|`*") {
			continue
		}
		out = append(out, l)
	}
	if len(out) < 20 {
		t.Fatalf("corpus README has only %d prose lines", len(out))
	}
	return out
}

// firstBytes returns whole prose lines adding up to at least n bytes.
func proseBytes(t *testing.T, n int) []byte {
	var b []byte
	for len(b) < n {
		for _, l := range proseLines(t) {
			b = append(append(b, l...), '\n')
		}
	}
	return b
}

// A log whose first block is not log lines (a zeroed block, text pasted
// over it, bytes of another file) is still recognised by the lines after
// it and read to the end: every record of the clean file is an event and
// the damaged part is warned about, never skipped silently.
func TestDamagedHeadStillRecognised(t *testing.T) {
	auth := readCorpus(t, "more/linux/auth/elastic_examples_auth.log")
	small := readCorpus(t, "logs/syslog/syslog_ssh.log")
	rnd := make([]byte, 4096)
	x := uint32(2463534242)
	for i := range rnd {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		rnd[i] = byte(x)
	}
	cases := []struct {
		name        string
		head, clean []byte
		file        string
	}{
		{"4 KiB of prose before an auth log", proseBytes(t, 4096), auth, "evidence/auth.log"},
		{"4 KiB zeroed block before an auth log", append(make([]byte, 4095), '\n'), auth, "copy/auth.txt"},
		{"4 KiB of random bytes before an auth log", append(rnd, '\n'), auth, "var/log/auth.log"},
		{"two stray lines before a short syslog", []byte("--- cut here ---\nsaved by rsync at 10:02\n"), small, "messages.txt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !bytes.HasSuffix(c.head, []byte("\n")) {
				t.Fatal("head must end a line")
			}
			r := ingestFiles(t, map[string][]byte{
				"clean/syslog": c.clean,
				c.file:         append(append([]byte(nil), c.head...), c.clean...),
			})
			got := map[bool][]*timeline.Event{}
			for _, e := range r.events {
				got[strings.HasPrefix(e.Jejak.Provenance.Path, "clean/")] = append(got[strings.HasPrefix(e.Jejak.Provenance.Path, "clean/")], e)
			}
			for _, w := range r.warnings {
				if w.Kind == timeline.WarnSkipped {
					t.Fatalf("%s skipped: %s", w.Path, w.Message)
				}
			}
			if len(got[true]) != nonBlankLines(c.clean) {
				t.Errorf("clean log: %d events for %d lines", len(got[true]), nonBlankLines(c.clean))
			}
			if a, b := recordKeys(got[true]), recordKeys(got[false]); strings.Join(a, "\n") != strings.Join(b, "\n") {
				t.Errorf("damaged copy: %d events, clean %d: records differ", len(b), len(a))
			}
			for _, e := range got[false] {
				if e.Jejak.Provenance.Parser != "syslog" {
					t.Fatalf("damaged copy parsed by %s", e.Jejak.Provenance.Parser)
				}
			}
			// The damaged head is reported, from its first line.
			var first int64 = -1
			for _, w := range r.warnings {
				if w.Path == c.file && (first < 0 || w.Record < first) {
					first = w.Record
				}
			}
			if first != 1 {
				t.Errorf("first warning of the damaged copy at line %d, want 1", first)
			}
			if r.sum.Clean() {
				t.Error("summary clean despite the damaged head")
			}
		})
	}
}

// A file no parser takes is reported with the formats tried and the nearest
// one. Three real sshd lines among prose: syslog accepts exactly those, too
// few to take the file.
func TestNearestFormatReported(t *testing.T) {
	prose := proseLines(t)
	ssh := bytes.Split(bytes.TrimSpace(readCorpus(t, "logs/syslog/syslog_ssh.log")), []byte("\n"))
	var b []byte
	lines := 0
	for i := 0; i < 37; i++ {
		b = append(append(b, prose[i%len(prose)]...), '\n')
		lines++
		if i%12 == 6 {
			b = append(append(b, ssh[i/12]...), '\n')
			lines++
		}
	}
	if lines != 40 {
		t.Fatalf("built %d lines, want 40", lines)
	}
	r := ingestFiles(t, map[string][]byte{"notes/meeting.txt": b})
	if len(r.events) != 0 {
		t.Fatalf("%d events from a file that is no log", len(r.events))
	}
	if r.sum.SkipReasons[ingest.SkipNoParser] != 1 {
		t.Fatalf("skip reasons %v", r.sum.SkipReasons)
	}
	want := fmt.Sprintf("text in no known log format (tried %d formats; nearest: syslog, 3 of 40 sampled lines)",
		len(all.Registry().Parsers()))
	for _, w := range r.warnings {
		if w.Kind == timeline.WarnSkipped && !strings.HasSuffix(w.Message, want) {
			t.Errorf("skip message %q, want it to end %q", w.Message, want)
		}
	}
	if !r.sum.Clean() {
		t.Error("an unrecognised file with an ordinary name made the run unclean")
	}
}

// A file named like a well-known log that no parser reads is a failure
// (exit 3), with a reason of its own; the same bytes under an ordinary name
// are only listed.
func TestKnownLogNameUnreadFailsRun(t *testing.T) {
	prose := proseBytes(t, 1)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	elf := make([]byte, 64<<10)
	if _, err := f.ReadAt(elf, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cases := []struct {
		evidence, path string
		content        []byte
		reason         string
	}{
		{"evidence", "var/log/auth.log", prose, ingest.SkipKnownLog},
		{"evidence", "var/log/secure-20240107", prose, ingest.SkipKnownLog},
		{"evidence", "logs/messages.2.gz.d/messages.2", prose, ingest.SkipKnownLog},
		{"evidence", "srv/www/logs/app.log", prose, ingest.SkipKnownLog},
		{"evidence", "MSSQL/Log/ERRORLOG", prose, ingest.SkipKnownLog},
		{"evidence", "winevt/Security.evtx", prose, ingest.SkipKnownLog},
		{"evidence", "var/log/wtmp", elf, ingest.SkipKnownLog},
		// /var/log registered as evidence: its name is the log folder
		{"log", "alternatives.log", prose, ingest.SkipKnownLog},
		{"evidence", "home/ann/notes.txt", prose, ingest.SkipNoParser},
		{"evidence", "home/ann/build.log", prose, ingest.SkipNoParser},
		{"evidence", "usr/sbin/cron", elf, ingest.SkipNoParser},
		{"evidence", "home/ann/tool", elf, ingest.SkipNoParser},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			r := ingestFolder(t, c.evidence, map[string][]byte{c.path: c.content})
			if r.sum.FilesSkipped != 1 || r.sum.SkipReasons[c.reason] != 1 {
				t.Fatalf("skips %v, want one %q", r.sum.SkipReasons, c.reason)
			}
			if clean := c.reason != ingest.SkipKnownLog; r.sum.Clean() != clean {
				t.Errorf("Clean() = %v, want %v", r.sum.Clean(), clean)
			}
			var msg string
			for _, w := range r.warnings {
				if w.Kind == timeline.WarnSkipped && w.Path == c.path {
					msg = w.Message
				}
			}
			if !strings.HasPrefix(msg, c.reason+": ") {
				t.Errorf("warning %q does not start with the reason", msg)
			}
			if strings.Contains(msg, "text") != (&c.content[0] == &prose[0]) {
				t.Errorf("warning %q: text or binary misdescribed", msg)
			}
		})
	}
}

// BenchmarkIngestDetection compares a whole ingest of a real 800 KB auth
// log whose head matches (the normal path) with the same log behind comment
// lines (detected on sampled lines): the difference is what detection costs.
func BenchmarkIngestDetection(b *testing.B) {
	p := parsertest.Corpus(b, "more/linux/auth/elastic_examples_auth.log")
	clean, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		content []byte
	}{
		{"head matches", clean},
		{"comments first", append([]byte(commentBlock), clean...)},
	} {
		b.Run(c.name, func(b *testing.B) {
			files := map[string][]byte{"auth.log": c.content}
			b.SetBytes(int64(len(c.content)))
			for range b.N {
				r := ingestFiles(b, files)
				if len(r.events) != nonBlankLines(clean) {
					b.Fatalf("%d events", len(r.events))
				}
			}
		})
	}
}

// A member of a compressed stream has no random access: detection samples
// the pipeline's read buffer, and parsing still starts at the first byte.
// The stream is written by the gzip tool.
func TestDamagedHeadInGzipStream(t *testing.T) {
	gz, err := exec.LookPath("gzip")
	if err != nil {
		t.Skip("gzip missing: install the Debian package gzip")
	}
	clean := readCorpus(t, "more/linux/auth/elastic_examples_auth.log")
	damaged := append(append(proseBytes(t, 4096), commentBlock...), clean...)
	cmd := exec.Command(gz, "-c", "-n")
	cmd.Stdin = bytes.NewReader(damaged)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	r := ingestFiles(t, map[string][]byte{"auth.log.2.gz": out, "clean/auth.log": clean})
	byFile := map[bool][]*timeline.Event{}
	for _, e := range r.events {
		c := strings.HasPrefix(e.Jejak.Provenance.Path, "clean/")
		byFile[c] = append(byFile[c], e)
	}
	for _, w := range r.warnings {
		if w.Kind == timeline.WarnSkipped {
			t.Fatalf("%s skipped: %s", w.Path, w.Message)
		}
	}
	if len(byFile[true]) != nonBlankLines(clean) {
		t.Fatalf("clean log: %d events for %d lines", len(byFile[true]), nonBlankLines(clean))
	}
	if a, b := recordKeys(byFile[true]), recordKeys(byFile[false]); strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("gzip member: %d events, clean %d: records differ", len(b), len(a))
	}
	junk := int64(nonBlankLines(proseBytes(t, 4096)) + nonBlankLines([]byte(commentBlock)))
	if r.sum.Warnings != junk {
		t.Errorf("%d warnings, want one per line before the log (%d)", r.sum.Warnings, junk)
	}
}

// A format of multi-line records is known by how it starts, not by the
// share of its lines that look alike: an apt history (one Start-Date line in
// six or more) behind a comment is recognised from the head after the
// comment. The apt history of the machine running the test is the real
// file; the test skips where apt never ran.
func TestCommentedAptHistory(t *testing.T) {
	clean, err := os.ReadFile("/var/log/apt/history.log")
	if err != nil || len(bytes.TrimSpace(clean)) == 0 {
		t.Skip("no /var/log/apt/history.log here (apt never ran, or not Debian)")
	}
	r := ingestFiles(t, map[string][]byte{
		"clean/history.log":     clean,
		"commented/history.log": append([]byte("# apt history of web01, copied 2024-11-12\n\n"), clean...),
	})
	got := map[string]int{}
	for _, e := range r.events {
		dir, _, _ := strings.Cut(e.Jejak.Provenance.Path, "/")
		if e.Jejak.Provenance.Parser != "apt_history" {
			t.Fatalf("%s parsed by %s", e.Jejak.Provenance.Path, e.Jejak.Provenance.Parser)
		}
		got[dir]++
	}
	if n := bytes.Count(clean, []byte("Start-Date: ")); got["clean"] != n || got["commented"] != n {
		t.Errorf("events clean %d, commented %d; want one per Start-Date line (%d)", got["clean"], got["commented"], n)
	}
	warned := false
	for _, w := range r.warnings {
		if w.Kind == timeline.WarnSkipped {
			t.Fatalf("skipped: %s %s", w.Path, w.Message)
		}
		if w.Path == "commented/history.log" && w.Record == 1 {
			warned = true
		}
	}
	if !warned {
		t.Error("the comment line is not a warning")
	}
}

// A log in UTF-16 (SQL Server's ERRORLOG, converted here by iconv from a
// real sshd log) is named as such in the skip, and under its well-known name
// fails the run.
func TestUTF16LogNamed(t *testing.T) {
	iconv, err := exec.LookPath("iconv")
	if err != nil {
		t.Skip("iconv missing: install the Debian package libc-bin")
	}
	cmd := exec.Command(iconv, "-f", "UTF-8", "-t", "UTF-16")
	cmd.Stdin = bytes.NewReader(readCorpus(t, "logs/syslog/syslog_ssh.log"))
	utf16, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	r := ingestFiles(t, map[string][]byte{"MSSQL/Log/ERRORLOG": utf16})
	if r.sum.SkipReasons[ingest.SkipKnownLog] != 1 || r.sum.Clean() {
		t.Fatalf("skips %v, clean %v: want one known log, not clean", r.sum.SkipReasons, r.sum.Clean())
	}
	for _, w := range r.warnings {
		if !strings.Contains(w.Message, "UTF-16 text") {
			t.Errorf("warning %q does not say UTF-16", w.Message)
		}
	}
}
