package watch

import (
	"bytes"
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/parsers/syslog"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestFollowCorpusLikeBatch writes real syslog files (plaso's test data:
// BSD, rsyslog, RFC 5424, sshd, cron) into a followed file in pieces cut at
// random places, mid-line included, and checks that the watch stores what
// parsing the whole file at once gives: the same records (message,
// month/day/time), each once, and the same number of warnings.
func TestFollowCorpusLikeBatch(t *testing.T) {
	for _, rel := range []string{"logs/syslog/syslog", "logs/syslog/syslog_rsyslog",
		"logs/syslog/syslog_rsyslog_SyslogProtocol23Format", "logs/syslog/syslog_ssh.log", "logs/syslog/syslog_cron.log"} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			src := parsertest.Corpus(t, rel)
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasSuffix(data, []byte("\n")) {
				data = append(data, '\n') // a followed file's last line waits for its newline
			}
			var want []string
			var wantWarn int
			// Year-less times take their year from the file's mtime in a
			// batch and from the receive time in a watch: the batch is
			// given now as its mtime (Feb 29 of the sample is a leap day).
			err = syslog.New().Parse(context.Background(), &parsers.Source{Entry: &jfs.Entry{Path: src, Times: jfs.Times{Modified: time.Now()}}, R: bytes.NewReader(data),
				Size: int64(len(data)), Zone: time.UTC, Warn: func(*parsers.RecordError) { wantWarn++ }},
				func(ev *timeline.Event) error { want = append(want, key(ev)); return nil })
			if err != nil {
				t.Fatal(err)
			}

			dir := t.TempDir()
			st := openStore(t, dir)
			defer st.Close()
			path := filepath.Join(dir, "messages")
			// The head decides the parser: write the first 4 KiB (or all)
			// before the watch starts, the rest in random pieces.
			first := min(len(data), 4096)
			if err := os.WriteFile(path, data[:first], 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := baseConfig(dir, st)
			cfg.Follow = []string{path}
			cfg.NoHunt = true
			w, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			stop := started(t, w)
			f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			r := rand.New(rand.NewSource(1))
			for rest := data[first:]; len(rest) > 0; {
				n := min(len(rest), 1+r.Intn(300))
				f.Write(rest[:n])
				rest = rest[n:]
				time.Sleep(time.Duration(r.Intn(3)) * time.Millisecond)
			}
			f.Close()
			// The whole file committed: every line stored, the ones that
			// are only warnings included.
			if !waitFor(10*time.Second, func() bool { return committed(w, path).Offset == int64(len(data)) }) {
				t.Fatalf("%d of %d bytes committed", committed(w, path).Offset, len(data))
			}
			sum := stop()
			var got []string
			for _, ev := range stored(t, st) {
				got = append(got, key(ev))
			}
			sort.Strings(want)
			sort.Strings(got)
			if len(got) != len(want) {
				t.Fatalf("%d events stored, the whole file parses to %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("event %d: stored %q, whole-file parse %q", i, got[i], want[i])
				}
			}
			if s := sum.Sources[0]; s.Warnings != int64(wantWarn) || s.Parser != "syslog" {
				t.Errorf("%+v: want %d warnings as the whole-file parse, parser syslog", s, wantWarn)
			}
			t.Logf("%d events, %d warnings", len(got), wantWarn)
		})
	}
}

// key is a record without its year (inferred from the file's mtime in a
// batch, from the receive time in a watch).
func key(ev *timeline.Event) string {
	return ev.Timestamp.UTC().Format("01-02T15:04:05.000000") + " " + ev.Message
}
