package sqlserver

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// testdata/ERRORLOG is written in the format SQL Server 2019 writes
// (UTF-16LE with a BOM, CRLF): startup with its banner and "UTC adjustment:
// -5:00", a password-guessing burst on 'sa' from 10.0.0.5 with one success,
// xp_cmdshell enabled, the tabulation database backed up to a public
// folder, a Windows login failure, an untrusted-domain
// failure (18452), an error with no message line after it, and shutdown.
const errorlog = "testdata/ERRORLOG"

func TestContract(t *testing.T) {
	parsertest.Contract(t, New(), errorlog)
}

func enc16(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

func TestErrorlog(t *testing.T) {
	data, err := os.ReadFile(errorlog)
	if err != nil {
		t.Fatal(err)
	}
	res := parsertest.ParseFile(t, New(), errorlog, time.UTC)
	if res.Err != nil || len(res.Warnings) != 0 {
		t.Fatalf("%v, warnings %v", res.Err, res.Warnings)
	}
	// 39 timed lines (grep -c ^20 on an iconv copy), of which 8 of the 9
	// "Error:" lines announce the message line after them: 31 records.
	if len(res.Events) != 31 {
		t.Fatalf("%d events, want 31", len(res.Events))
	}
	// Provenance points at the UTF-16 bytes of the line each record
	// starts at (found here by encoding the line, not by the reader).
	for _, ev := range res.Events {
		stamp := ev.Timestamp.Add(-5 * time.Hour).Format("2006-01-02 15:04:05.00")
		at := bytes.Index(data, enc16(stamp))
		if at < 0 || ev.Jejak.Provenance.Offset < int64(at) || !bytes.HasPrefix(data[ev.Jejak.Provenance.Offset:], enc16(stamp)) {
			t.Errorf("%s: offset %d does not start a line of that time (first at %d)", ev.Message, ev.Jejak.Provenance.Offset, at)
		}
	}
	banner := res.Events[0]
	if !strings.HasPrefix(banner.Message, "Microsoft SQL Server 2019 (RTM-CU22)") || !strings.HasSuffix(banner.Message, "(Build 17763: ) (Hypervisor)") ||
		banner.Jejak.Provenance.Offset != 2 || banner.Jejak.Provenance.Record != 1 {
		t.Errorf("banner %q at %d", banner.Message, banner.Jejak.Provenance.Offset)
	}
	// The stated offset (-5:00) places the times; the case zone (UTC)
	// disagrees, so the stated one is used and named.
	if banner.Timestamp.Format(time.RFC3339Nano) != "2024-02-15T00:01:05.27Z" || banner.Event.Timezone != "UTC-05:00" || banner.Jejak.Time != nil {
		t.Errorf("banner time %s %q %+v", banner.Timestamp, banner.Event.Timezone, banner.Jejak.Time)
	}
	var failed, ok, config []*timeline.Event
	for _, ev := range res.Events {
		switch ev.Event.Action {
		case ActionFailed:
			failed = append(failed, ev)
		case ActionSucceeded:
			ok = append(ok, ev)
		case ActionConfig:
			config = append(config, ev)
		}
	}
	if len(failed) != 8 || len(ok) != 1 || len(config) != 2 {
		t.Fatalf("%d failed, %d succeeded, %d config", len(failed), len(ok), len(config))
	}
	f := failed[0]
	if f.Event.Code != "18456" || f.User.Name != "sa" || f.Source.IP != "10.0.0.5" || f.Jejak.Data[KeyState] != "8" ||
		f.Jejak.Data[KeyReason] != "Password did not match that for the login provided." || f.Event.Outcome != "failure" ||
		f.Jejak.Provenance.Offset != int64(bytes.Index(data, enc16("2024-02-14 19:03:11.52 Logon       Error: 18456"))) {
		t.Errorf("first failure: %+v %+v %+v %v @%d", f.Event, f.User, f.Source, f.Jejak.Data, f.Jejak.Provenance.Offset)
	}
	if d := failed[4].Jejak.Data; failed[4].User.Name != "admin" || d[KeyState] != "5" || d[KeyReason] != "Could not find a login matching the name provided." {
		t.Errorf("unknown user: %v", d)
	}
	if w := failed[6]; w.User.Name != "jdoe" || w.User.Domain != "ELECTION" || w.Source.IP != "" || w.Source.Address != "<local machine>" || w.Jejak.Data[KeyState] != "38" {
		t.Errorf("windows login: %+v %+v", w.User, w.Source)
	}
	if u := failed[7]; u.Event.Code != "18452" || u.User != nil || u.Source.IP != "10.0.0.77" {
		t.Errorf("untrusted domain: %+v %+v", u.Event, u.User)
	}
	if s := ok[0]; s.Event.Code != "18454" || s.User.Name != "sa" || s.Source.IP != "10.0.0.5" || s.Event.Outcome != "success" {
		t.Errorf("success: %+v", s.Event)
	}
	if d := config[1].Jejak.Data; d[KeyOption] != "xp_cmdshell" || d[KeyOld] != "0" || d[KeyNew] != "1" {
		t.Errorf("config %v", d)
	}
	// The tabulation database copied to a public folder.
	var backup *timeline.Event
	for _, ev := range res.Events {
		if ev.Event.Action == ActionBackup {
			backup = ev
		}
	}
	if backup == nil || backup.Jejak.Data[KeyDatabase] != "Tabulation" || backup.File == nil || backup.File.Path != `C:\Users\Public\tab.bak` {
		t.Errorf("backup: %+v", backup)
	}
	// The lone error line (17806, no message after it) is its own record.
	var lone *timeline.Event
	for _, ev := range res.Events {
		if ev.Event.Code == "17806" {
			lone = ev
		}
	}
	if lone == nil || !strings.HasPrefix(lone.Message, "Error: 17806, Severity: 20, State: 14.") || lone.Log == nil || lone.Log.Level != "error" {
		t.Errorf("lone error: %+v", lone)
	}
	last := res.Events[len(res.Events)-1]
	if last.Event.Action != ActionStopping {
		t.Errorf("last: %q", last.Event.Action)
	}
}

// The case zone is used when it agrees with the stated offset (it knows
// daylight saving), and assumed when the log states none.
func TestZones(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	res := parsertest.ParseFile(t, New(), errorlog, ny)
	ev := res.Events[0]
	if ev.Timestamp.Format(time.RFC3339Nano) != "2024-02-15T00:01:05.27Z" || ev.Event.Timezone != "America/New_York" || ev.Jejak.Time != nil {
		t.Errorf("%s %q %+v", ev.Timestamp, ev.Event.Timezone, ev.Jejak.Time)
	}
	part := "2024-07-01 10:00:00.00 Logon       Login succeeded for user 'ELECTION\\op1'. Connection made using Windows authentication. [CLIENT: 10.0.0.9]\n"
	res = parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("ERRORLOG.3", []byte(part), time.Time{}), ny)
	if len(res.Events) != 1 {
		t.Fatalf("%d events", len(res.Events))
	}
	ev = res.Events[0]
	if ev.Timestamp.Format(time.RFC3339) != "2024-07-01T14:00:00Z" || ev.Jejak.Time == nil || ev.Jejak.Time.ZoneAssumed != "America/New_York" ||
		ev.Event.Code != "18453" || ev.User.Domain != "ELECTION" {
		t.Errorf("%s %+v %+v", ev.Timestamp, ev.Jejak.Time, ev.Event)
	}
}

// A UTF-8 copy (converted by iconv, an independent decoder) gives the
// same records as the UTF-16 original.
func TestUTF8CopyAgrees(t *testing.T) {
	iconv := oracle.Tool(t, "iconv", "libc-bin")
	out := oracle.Output(t, iconv, "-f", "UTF-16", "-t", "UTF-8", errorlog)
	a := parsertest.ParseFile(t, New(), errorlog, time.UTC)
	b := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("ERRORLOG", out, time.Time{}), time.UTC)
	if !New().Match(nil, out[:min(len(out), 4096)]) {
		t.Error("Match rejects the UTF-8 copy")
	}
	if len(a.Events) != len(b.Events) || len(b.Warnings) != 0 {
		t.Fatalf("UTF-16 %d events, UTF-8 %d (%d warnings)", len(a.Events), len(b.Events), len(b.Warnings))
	}
	for i := range a.Events {
		x, y := a.Events[i], b.Events[i]
		if x.Message != y.Message || !x.Timestamp.Equal(y.Timestamp) || x.Event.Action != y.Event.Action || x.Jejak.Provenance.Record != y.Jejak.Provenance.Record {
			t.Errorf("record %d: %q %s / %q %s", i, x.Message, x.Timestamp, y.Message, y.Timestamp)
		}
		if !bytes.HasPrefix(out[y.Jejak.Provenance.Offset:], []byte(y.Timestamp.Add(-5*time.Hour).Format("2006-01-02"))) {
			t.Errorf("UTF-8 record %d offset %d", i, y.Jejak.Provenance.Offset)
		}
	}
}

// Damage: a half code unit at the end and text before any record are
// warnings naming their place; the records are still read.
func TestDamage(t *testing.T) {
	data, err := os.ReadFile(errorlog)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte{0xFF, 0xFE}, enc16("\tstray\r\n")...)
	bad = append(bad, data[2:]...)
	bad = append(bad, 'x')
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("ERRORLOG", bad, time.Time{}), time.UTC)
	if len(res.Events) != 31 || len(res.Warnings) != 2 {
		t.Fatalf("%d events, warnings %v", len(res.Events), res.Warnings)
	}
	if w := res.Warnings[0]; w.Offset != 2 || w.Record != 1 {
		t.Errorf("first warning %+v", w)
	}
	if w := res.Warnings[1]; w.Offset != int64(len(bad)-1) {
		t.Errorf("odd byte warning %+v", w)
	}
}

func FuzzParse(f *testing.F) {
	data, err := os.ReadFile(errorlog)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("2024-02-14 19:03:11.52 Logon       Error: 18456, Severity: 14, State: 8.\n2024-02-14 19:03:11.52 Logon       Login failed for user 'sa'. [CLIENT: 1.2.3.4]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("ERRORLOG", b, time.Time{}), time.UTC)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		for _, ev := range res.Events {
			if o := ev.Jejak.Provenance.Offset; o < 0 || o >= int64(len(b)) {
				t.Fatalf("offset %d outside %d bytes", o, len(b))
			}
		}
	})
}
