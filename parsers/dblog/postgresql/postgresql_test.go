package postgresql

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/dblog"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

func TestContract(t *testing.T) {
	parsertest.Contract(t, New(), parsertest.Corpus(t, "logs/db/postgresql.log"),
		parsertest.Corpus(t, "more/db/lnav_logfile_postgres.0"), "testdata/postgresql.csv")
}

// Oracle: plaso tests/parsers/text_plugins/postgresql.py: 20 events, 0
// warnings; event 0 pid 7755 LOG at 2022-04-12T00:16:05.526; event 15 FATAL
// for postgres@postgres pid 9158; event 16 a two-line DETAIL; event 19 pid
// "203851-1". Deliberate difference: event 19 is written "23:04:27 AEST";
// plaso keeps the naive 23:04:27, we read AEST as UTC+10 (13:04:27Z).
func TestPlasoPostgreSQL(t *testing.T) {
	res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, "logs/db/postgresql.log"), time.UTC)
	if res.Err != nil || len(res.Events) != 20 || len(res.Warnings) != 0 {
		t.Fatalf("%v: %d events %d warnings; plaso 20, 0", res.Err, len(res.Events), len(res.Warnings))
	}
	ev := res.Events[0]
	if ev.Timestamp.Format(time.RFC3339Nano) != "2022-04-12T00:16:05.526Z" || ev.Process.PID != 7755 ||
		ev.Log.Level != "log" || ev.Event.Action != "db_server_start" || ev.Jejak.Time != nil {
		t.Errorf("event 0: %s %+v %+v %q", ev.Timestamp, ev.Process, ev.Log, ev.Event.Action)
	}
	ev = res.Events[15]
	if ev.User == nil || ev.User.Name != "postgres" || ev.Jejak.Data["db.name"] != "postgres" || ev.Process.PID != 9158 ||
		ev.Log.Level != "fatal" || ev.Event.Action != "db_auth_failed" || ev.Event.Outcome != "failure" {
		t.Errorf("event 15: %+v %v %+v", ev.User, ev.Jejak.Data, ev.Event)
	}
	ev = res.Events[16]
	if ev.Log.Level != "detail" || !strings.Contains(ev.Message, "\n        Connection matched pg_hba.conf line 96") {
		t.Errorf("event 16 (multi-line DETAIL): %q", ev.Message)
	}
	ev = res.Events[19]
	if ev.Process.PID != 203851 || ev.Jejak.Data["session_line"] != "1" || ev.Timestamp.Format(time.RFC3339) != "2022-07-15T13:04:27Z" ||
		ev.User.Name != "user" || ev.Jejak.Data["db.name"] != "databasename" || ev.Jejak.Data["zone"] != "AEST" {
		t.Errorf("event 19: %s %+v %v", ev.Timestamp, ev.Process, ev.Jejak.Data)
	}
}

// lnav's PostgreSQL sample (no count oracle in MANIFEST): every timestamped
// line is one event (cross-checked by counting them), PDT is UTC-7, and the
// one schema change (CREATE INDEX) is the one db_write.
func TestLnavPostgres(t *testing.T) {
	path := parsertest.Corpus(t, "more/db/lnav_logfile_postgres.0")
	res := parsertest.ParseFile(t, New(), path, time.UTC)
	raw, _ := os.ReadFile(path)
	if want := bytes.Count(raw, []byte("\n2025-08-13 ")) + 1; len(res.Events) != want || len(res.Warnings) != 0 {
		t.Fatalf("%d events %d warnings; %d timestamped lines", len(res.Events), len(res.Warnings), want)
	}
	if got := res.Events[0].Timestamp.Format(time.RFC3339Nano); got != "2025-08-13T08:45:01.123Z" {
		t.Errorf("first time %s (01:45:01.123 PDT)", got)
	}
	var writes, connects []*timeline.Event
	for _, ev := range res.Events {
		if slices.Contains(ev.Jejak.Tags, dblog.WriteTag) {
			writes = append(writes, ev)
		}
		if ev.Event.Action == "db_connect" {
			connects = append(connects, ev)
		}
	}
	if len(writes) != 1 || writes[0].Jejak.Data["db.statement"] != "CREATE INDEX idx_users_email ON users(email);" ||
		writes[0].Event.Type[0] != "change" || writes[0].Process.PID != 12401 {
		t.Errorf("writes: %d %+v", len(writes), writes)
	}
	if len(connects) != 2 || connects[0].User.Name != "appuser" || connects[0].Jejak.Data["db.name"] != "maindb" {
		t.Errorf("connects: %+v", connects)
	}
	for _, ev := range res.Events {
		if ev.Event.Action == "db_connection_received" {
			if ev.Source == nil || ev.Source.IP != "192.168.1.100" || ev.Source.Port != 51762 {
				t.Errorf("connection received: %+v", ev.Source)
			}
			break
		}
	}
	for _, ev := range res.Events {
		if ev.Event.Action == "db_statement_failed" && (slices.Contains(ev.Jejak.Tags, dblog.WriteTag) || ev.Event.Outcome != "failure") {
			t.Errorf("failed SELECT: %+v", ev)
		}
	}
}

// testdata/postgresql.csv follows the csvlog columns of the PostgreSQL 16
// manual (section 20.8.4), with a statement spanning two lines.
func TestCSVLog(t *testing.T) {
	res := parsertest.ParseFile(t, New(), "testdata/postgresql.csv", time.UTC)
	if res.Err != nil || len(res.Events) != 4 || len(res.Warnings) != 0 {
		t.Fatalf("%v: %d events %d warnings", res.Err, len(res.Events), len(res.Warnings))
	}
	c, u, e, f := res.Events[0], res.Events[1], res.Events[2], res.Events[3]
	if c.Event.Action != "db_connect" || c.User.Name != "alice" || c.Source.IP != "10.1.2.3" || c.Source.Port != 50000 ||
		c.Timestamp.Format(time.RFC3339Nano) != "2024-03-10T08:00:01.001Z" {
		t.Errorf("connect: %+v %+v %s", c.Event, c.Source, c.Timestamp)
	}
	if !slices.Contains(u.Jejak.Tags, dblog.WriteTag) || u.Jejak.Provenance.Record != 2 || !strings.HasPrefix(u.Jejak.Data["db.statement"], "UPDATE votes") {
		t.Errorf("update: %+v %v", u.Jejak, u.Event)
	}
	if e.Jejak.Provenance.Record != 4 || !slices.Contains(e.Jejak.Tags, dblog.WriteTag) || e.Jejak.Data["sql_state"] != "42P01" {
		t.Errorf("error with DELETE query: %+v", e.Jejak)
	}
	if f.Event.Action != "db_auth_failed" || f.User.Name != "mallory" {
		t.Errorf("auth failed: %+v %+v", f.Event, f.User)
	}
}

func TestContinuationBeforeFirstRecord(t *testing.T) {
	log := "  orphan continuation\n2024-01-01 00:00:00 UTC [1] LOG:  statement: DELETE FROM t\n"
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("pg.log", []byte(log), time.Time{}), time.UTC)
	if len(res.Events) != 1 || len(res.Warnings) != 1 || res.Warnings[0].Offset != 0 || !slices.Contains(res.Events[0].Jejak.Tags, dblog.WriteTag) {
		t.Fatalf("%d events %d warnings", len(res.Events), len(res.Warnings))
	}
}

func BenchmarkPostgreSQL(b *testing.B) {
	data, err := os.ReadFile(parsertest.Corpus(b, "logs/db/postgresql.log"))
	if err != nil {
		b.Fatal(err)
	}
	big := bytes.Repeat(data, 500)
	b.SetBytes(int64(len(big)))
	for b.Loop() {
		res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("pg.log", big, time.Time{}), time.UTC)
		if len(res.Warnings) != 0 {
			b.Fatal(res.Warnings[0])
		}
	}
}
