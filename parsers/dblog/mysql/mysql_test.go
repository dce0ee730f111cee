package mysql

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/dblog"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

var lnav = []string{"more/db/lnav_logfile_mysql_gen.0", "more/db/lnav_logfile_mysql_error.0", "more/db/lnav_logfile_mysql_slow.0"}

func TestContract(t *testing.T) {
	var files []string
	for _, f := range lnav {
		files = append(files, parsertest.Corpus(t, f))
	}
	parsertest.Contract(t, New(), files...)
}

func parse(t *testing.T, rel string) parsertest.Result {
	t.Helper()
	res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, rel), time.UTC)
	if res.Err != nil || len(res.Warnings) != 0 {
		t.Fatalf("%s: %v, warnings %v", rel, res.Err, res.Warnings)
	}
	return res
}

// lnav's MySQL 8 general log: three banner lines, then one record per
// line that starts with a time (counted in the file); one INSERT.
func TestLnavGeneral(t *testing.T) {
	res := parse(t, lnav[0])
	raw, _ := os.ReadFile(parsertest.Corpus(t, lnav[0]))
	if want := bytes.Count(raw, []byte("\n2025-08-15T")); len(res.Events) != want {
		t.Fatalf("%d events, file has %d timed lines", len(res.Events), want)
	}
	if got := res.Events[0].Timestamp.Format(time.RFC3339Nano); got != "2025-08-15T14:03:50.259438Z" || res.Events[0].Jejak.Time != nil {
		t.Errorf("first %s %+v", got, res.Events[0].Jejak.Time)
	}
	var writes int
	for _, ev := range res.Events {
		switch ev.Event.Action {
		case "db_connect":
			if ev.User.Name != "root" || ev.Jejak.Data["client.host"] != "localhost" || ev.Jejak.Data["connection_id"] != "10" {
				t.Errorf("connect %+v %v", ev.User, ev.Jejak.Data)
			}
		case "db_change_database":
			if ev.Jejak.Data["db.name"] != "testdb1" {
				t.Errorf("init db %v", ev.Jejak.Data)
			}
		}
		if slices.Contains(ev.Jejak.Tags, dblog.WriteTag) {
			writes++
			if ev.Jejak.Data["db.statement"] != "insert into testtab values (1, 'two')" || ev.Event.Type[0] != "change" {
				t.Errorf("write %v", ev.Jejak.Data)
			}
		}
	}
	if writes != 1 {
		t.Errorf("%d writes, want 1", writes)
	}
}

// MANIFEST: first line 2020-08-06T14:25:02.835618Z 0 [Note] [MY-012487] [InnoDB].
func TestLnavError(t *testing.T) {
	res := parse(t, lnav[1])
	if len(res.Events) != 4 {
		t.Fatalf("%d events, want 4 lines", len(res.Events))
	}
	ev := res.Events[0]
	if ev.Timestamp.Format(time.RFC3339Nano) != "2020-08-06T14:25:02.835618Z" || ev.Log.Level != "note" ||
		ev.Event.Code != "MY-012487" || ev.Log.Logger != "InnoDB" || ev.Jejak.Data["error_message"] != "DDL log recovery : begin" {
		t.Errorf("first: %s %+v %+v %v", ev.Timestamp, ev.Log, ev.Event, ev.Jejak.Data)
	}
}

// lnav's slow log: one entry per "# Time:" (counted in the file), user and
// schema from the headers, SET timestamp kept, no writes.
func TestLnavSlow(t *testing.T) {
	res := parse(t, lnav[2])
	raw, _ := os.ReadFile(parsertest.Corpus(t, lnav[2]))
	if want := bytes.Count(raw, []byte("# Time: ")); len(res.Events) != want {
		t.Fatalf("%d events, file has %d entries", len(res.Events), want)
	}
	ev := res.Events[0]
	if ev.Timestamp.Format(time.RFC3339Nano) != "2021-01-26T23:45:57.678222Z" || ev.User.Name != "owncloud" ||
		ev.Jejak.Data["db.name"] != "owncloud" || ev.Jejak.Data["query_time"] != "0.011853" ||
		ev.Jejak.Data["set_timestamp"] != "1611704757" || ev.Jejak.Data["db.statement"] != "SELECT * FROM `oc_appconfig`;" ||
		ev.Event.Action != "db_statement" || slices.Contains(ev.Jejak.Tags, dblog.WriteTag) {
		t.Errorf("first: %s %+v %v", ev.Timestamp, ev.User, ev.Jejak.Data)
	}
	// SET timestamp is the query start, # Time the end: they agree to the second.
	for _, ev := range res.Events {
		if st := ev.Jejak.Data["set_timestamp"]; st != "" {
			sec, err := strconv.ParseInt(st, 10, 64)
			if d := ev.Timestamp.Unix() - sec; err != nil || d < 0 || d > 1 {
				t.Errorf("time %s vs SET timestamp %s", ev.Timestamp, st)
			}
		}
	}
}

// The MySQL 5.5 general log: records without a time inherit the last one,
// a statement may span lines, and times are local (the case zone).
func TestOldGeneralLog(t *testing.T) {
	log := "/usr/sbin/mysqld, Version: 5.5.62-log (MySQL Community Server (GPL)). started with:\n" +
		"Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock\n" +
		"Time                 Id Command    Argument\n" +
		"240310  9:00:01\t    7 Connect\tAccess denied for user 'root'@'10.0.0.66' (using password: YES)\n" +
		"\t\t    8 Connect\tclerk@10.0.0.5 on tally\n" +
		"\t\t    8 Query\tUPDATE votes\n" +
		"SET n = n + 10\n" +
		"WHERE id = 2\n" +
		"240310  9:00:02\t    8 Quit\t\n"
	jkt := time.FixedZone("WIB", 7*3600)
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("mysql.log", []byte(log), time.Time{}), jkt)
	if len(res.Events) != 4 || len(res.Warnings) != 0 {
		t.Fatalf("%d events %d warnings", len(res.Events), len(res.Warnings))
	}
	d, c, u, q := res.Events[0], res.Events[1], res.Events[2], res.Events[3]
	if d.Event.Action != "db_auth_failed" || d.User.Name != "root" || d.Source.IP != "10.0.0.66" ||
		d.Timestamp.Format(time.RFC3339) != "2024-03-10T02:00:01Z" || d.Jejak.Time.ZoneAssumed != "WIB" {
		t.Errorf("denied: %+v %+v %s", d.Event, d.Source, d.Timestamp)
	}
	if c.Event.Action != "db_connect" || c.User.Name != "clerk" || c.Jejak.Data["db.name"] != "tally" ||
		!c.Timestamp.Equal(d.Timestamp) || c.Jejak.Provenance.Record != 5 {
		t.Errorf("connect (inherited time): %+v %s %d", c.User, c.Timestamp, c.Jejak.Provenance.Record)
	}
	if !slices.Contains(u.Jejak.Tags, dblog.WriteTag) || u.Jejak.Data["db.statement"] != "UPDATE votes\nSET n = n + 10\nWHERE id = 2" {
		t.Errorf("update: %q %v", u.Jejak.Data["db.statement"], u.Jejak.Tags)
	}
	if q.Event.Action != "db_disconnect" || q.Timestamp.Format(time.RFC3339) != "2024-03-10T02:00:02Z" {
		t.Errorf("quit: %+v %s", q.Event, q.Timestamp)
	}
}

func TestMariaDBErrorLog(t *testing.T) {
	log := "2024-03-10  9:00:00 0 [Note] /usr/sbin/mariadbd: ready for connections.\n" +
		"2024-03-10  9:05:00 31 [Warning] Access denied for user 'admin'@'192.0.2.7' (using password: YES)\n" +
		"garbage before nothing\n"
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("mariadb.err", []byte(log), time.Time{}), time.UTC)
	if len(res.Events) != 2 {
		t.Fatalf("%d events %d warnings", len(res.Events), len(res.Warnings))
	}
	if res.Events[0].Event.Action != "db_server_start" || res.Events[1].Event.Action != "db_auth_failed" ||
		res.Events[1].Source.IP != "192.0.2.7" || res.Events[1].Jejak.Data["thread_id"] != "31" {
		t.Errorf("%+v %+v", res.Events[0].Event, res.Events[1])
	}
	// The stray line continues the previous record (MySQL writes multi-line
	// messages that way); it is kept, not dropped.
	if !strings.Contains(res.Events[1].Message, "garbage before nothing") {
		t.Errorf("continuation lost: %q", res.Events[1].Message)
	}
}

func BenchmarkMySQL(b *testing.B) {
	var all []byte
	for _, f := range lnav {
		data, err := os.ReadFile(parsertest.Corpus(b, f))
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, data...)
	}
	big := bytes.Repeat(all, 300)
	b.SetBytes(int64(len(big)))
	for b.Loop() {
		res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("mysql.log", big, time.Time{}), time.UTC)
		if len(res.Warnings) != 0 {
			b.Fatal(res.Warnings[0])
		}
	}
}
