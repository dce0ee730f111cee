package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/ingest"
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
	root := t.TempDir()
	ev := filepath.Join(root, "evidence")
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
		[]ingest.Item{{SHA256: "e", Name: "evidence", Walker: w}}, sink)
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
	}
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
