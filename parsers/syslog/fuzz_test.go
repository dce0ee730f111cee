package syslog

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// FuzzParse feeds arbitrary bytes through the whole line pipeline (header
// parsing, year inference, normalisers) and checks the accounting: no
// panic, every event UTC with a message and an offset inside the input,
// and never more events plus warnings than non-empty lines.
func FuzzParse(f *testing.F) {
	for _, rel := range []string{"logs/syslog/syslog", "logs/syslog/syslog_rsyslog_SyslogProtocol23Format",
		"logs/syslog/syslog_rsyslog", "more/linux/auth/crowdsec_sshd-logs.log"} {
		if dir, err := parsertest.CorpusDir(); err == nil {
			if b, err := os.ReadFile(dir + "/" + rel); err == nil {
				for _, l := range bytes.Split(b, []byte("\n")) {
					f.Add(l)
				}
			}
		}
	}
	f.Add([]byte(`<165>1 2003-10-11T22:14:15.003Z h app - ID47 [a@1 x="1\"]"][b y="2"] ` + "\ufeff" + `msg`))
	f.Add([]byte("Mar 27 13:09:37 h sudo:   u : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/sh\n\tmore"))
	f.Add([]byte("# exported\n\x00\x00\x00\nAug 18 16:29:25 --- last message repeated 1 time ---\n\x00\x00Aug 18 16:29:40 m Docker[588] <Notice>: x\nDec  6 03:57:38 db1 -- MARK --"))
	f.Add([]byte("1707912301.000000 kpu sshd[4242]: Failed password for root from 203.0.113.5 port 4242 ssh2\n-- Boot 9a8b7c6d5e4f3a2b3f1e4c0b5a6d4e2f --\n99999999999.999999999 h k: x"))
	f.Add([]byte("Sun 2024-10-27 02:30:00 CEST h sshd[10]: x\nMon 2024-01-15 10:00:00 +0330 h a: y\nTue 2024-01-15 10:00:00 UTC h a: z\n==> a <=="))
	f.Add([]byte("Dec  6 04:00:25 h mysqld[1234]: Aborted connection 13 to db: 'p' user: 't' host: '192.0.2.44' (x)\nDec  6 04:00:25 h postgres[1]: FATAL:  no pg_hba.conf entry for host \"1.2.3.4\", user \"a\", database \"d\""))
	f.Fuzz(func(t *testing.T, data []byte) {
		var warns int
		var evs []*timeline.Event
		src := &parsers.Source{
			Entry: parsertest.BytesEntry("fuzz", data, time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)),
			R:     bytes.NewReader(data), Size: int64(len(data)), Zone: time.UTC,
			Warn: func(*parsers.RecordError) { warns++ },
		}
		err := New().Parse(context.Background(), src, func(ev *timeline.Event) error { evs = append(evs, ev); return nil })
		if err != nil {
			t.Fatalf("Parse on bytes failed as a whole: %v", err)
		}
		nonEmpty := 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				nonEmpty++
			}
		}
		if len(evs)+warns > nonEmpty {
			t.Fatalf("%d events + %d warnings from %d non-empty lines", len(evs), warns, nonEmpty)
		}
		for _, ev := range evs {
			if ev.Message == "" || ev.Jejak.Provenance.Offset < 0 || ev.Jejak.Provenance.Offset >= int64(len(data)) {
				t.Fatalf("bad event %+v", ev)
			}
		}
	})
}
