package powershell

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

const (
	plasoTranscript = "windows/logs/powershell_transcript.txt"
	// Written in the format Windows PowerShell 5.1 writes with
	// -IncludeInvocationHeader (Start-Transcript's "Command start time").
	ownTranscript = "testdata/PowerShell_transcript.TABSRV01.x1Yq8Z3b.20240214191502.txt"
	history       = "testdata/ConsoleHost_history.txt"
)

func TestContract(t *testing.T) {
	parsertest.Contract(t, NewTranscript(), parsertest.Corpus(t, plasoTranscript), ownTranscript, "testdata/powershell_transcript_ger.txt")
	parsertest.Contract(t, NewHistory(), history)
}

// Oracle: plaso tests/parsers/text_plugins/powershell_transcript.py: one
// session, start 2022-07-21T02:37:49 (read in UTC), username and run-as
// MSEDGEWIN10\IEUser, PID 6456, host application powershell.exe, version
// 5.1.17763.1852, commands "PS C:\Windows\system32> whoami;
// msedgewin10\ieuser". The end block says 02:37:59.
func TestPlasoTranscript(t *testing.T) {
	res := parsertest.ParseFile(t, NewTranscript(), parsertest.Corpus(t, plasoTranscript), time.UTC)
	if res.Err != nil || len(res.Warnings) != 0 || len(res.Events) != 3 {
		t.Fatalf("%v, %d events, warnings %v", res.Err, len(res.Events), res.Warnings)
	}
	start, cmd, end := res.Events[0], res.Events[1], res.Events[2]
	if start.Event.Action != ActionStart || start.Timestamp.Format(time.RFC3339) != "2022-07-21T02:37:49Z" ||
		start.User.Name != "IEUser" || start.User.Domain != "MSEDGEWIN10" || start.Process.PID != 6456 ||
		start.Process.Executable != `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe` || start.Host.Name != "MSEDGEWIN10" ||
		start.Jejak.Data[KeyVersion] != "5.1.17763.1852" || start.Jejak.Data[KeyRunAs] != `MSEDGEWIN10\IEUser` || start.Jejak.Time.ZoneAssumed != "UTC" {
		t.Errorf("start: %s %+v %+v %+v %v", start.Timestamp, start.User, start.Process, start.Host, start.Jejak.Data)
	}
	if cmd.Event.Action != ActionCommand || cmd.Process.CommandLine != "whoami" || cmd.Process.WorkingDir != `C:\Windows\system32` ||
		cmd.Message != "PS C:\\Windows\\system32> whoami\nmsedgewin10\\ieuser" || cmd.TimestampDesc != CommandAtStart ||
		!cmd.Timestamp.Equal(start.Timestamp) || cmd.User.Name != "IEUser" {
		t.Errorf("command: %q %+v %s", cmd.Message, cmd.Process, cmd.TimestampDesc)
	}
	if end.Event.Action != ActionEnd || end.Timestamp.Format(time.RFC3339) != "2022-07-21T02:37:59Z" {
		t.Errorf("end: %s %q", end.Timestamp, end.Event.Action)
	}
}

// With invocation headers each command has its own time.
func TestInvocationHeaders(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	res := parsertest.ParseFile(t, NewTranscript(), ownTranscript, ny)
	if res.Err != nil || len(res.Warnings) != 0 || len(res.Events) != 5 {
		t.Fatalf("%v, %d events, warnings %v", res.Err, len(res.Events), res.Warnings)
	}
	if s := res.Events[0]; !strings.HasSuffix(s.Message, "\nTranscript started, output file is C:\\Transcripts\\20240214\\PowerShell_transcript.TABSRV01.x1Yq8Z3b.20240214191502.txt") ||
		s.Timestamp.Format(time.RFC3339) != "2024-02-15T00:15:02Z" {
		t.Errorf("start %s %q", s.Timestamp, s.Message)
	}
	want := []struct{ cmd, at, output string }{
		{"Get-Service MSSQLSERVER", "2024-02-15T00:15:11Z", "Status   Name               DisplayName\n------   ----               -----------\nRunning  MSSQLSERVER        SQL Server (MSSQLSERVER)"},
		{`Compress-Archive -Path D:\Results\*.csv -DestinationPath C:\Users\Public\r.zip`, "2024-02-15T00:20:37Z", ""},
		{`Remove-Item C:\Users\Public\r.zip`, "2024-02-15T00:21:02Z", ""},
	}
	for i, w := range want {
		ev := res.Events[i+1]
		if ev.Process.CommandLine != w.cmd || ev.Timestamp.Format(time.RFC3339) != w.at || ev.TimestampDesc != CommandDesc ||
			ev.Jejak.Data[KeyOutput] != w.output || ev.User.Domain != "ELECTION" || ev.Jejak.Time.ZoneAssumed != "America/New_York" {
			t.Errorf("command %d: %q %s %q %q", i, ev.Process.CommandLine, ev.Timestamp, ev.TimestampDesc, ev.Jejak.Data[KeyOutput])
		}
	}
	data, _ := os.ReadFile(ownTranscript)
	if off := res.Events[2].Jejak.Provenance.Offset; !strings.HasPrefix(string(data[off:]), "PS C:\\Users\\operator> Compress-Archive") {
		t.Errorf("offset %d", off)
	}
}

// A start time that does not parse leaves the command (and its output)
// without a time, and text after the end block is no record: each a
// warning naming its line; the end block is still read.
func TestTranscriptDamage(t *testing.T) {
	data, err := os.ReadFile(parsertest.Corpus(t, plasoTranscript))
	if err != nil {
		t.Fatal(err)
	}
	cut := strings.Index(string(data), "PS C:")
	bad := "**********************\r\nWindows PowerShell transcript start\r\nStart time: 2022072\r\n**********************\r\n" + string(data[cut:]) + "stray\r\n"
	res := parsertest.Parse(context.Background(), NewTranscript(), parsertest.BytesEntry("t.txt", []byte(bad), time.Time{}), time.UTC)
	if len(res.Events) != 1 || len(res.Warnings) != 4 {
		t.Fatalf("%d events, warnings %v", len(res.Events), res.Warnings)
	}
	for i, want := range []string{"header block without a time", "command before any transcript start time", "text outside", "text outside"} {
		if !strings.Contains(res.Warnings[i].Error(), want) {
			t.Errorf("warning %d: %v, want %q", i, res.Warnings[i], want)
		}
	}
}

// ConsoleHost_history.txt: one event per command at the file's mtime, a
// backtick-continued command is one; with no mtime every command is a
// warning, never dropped.
func TestHistory(t *testing.T) {
	data, err := os.ReadFile(history)
	if err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2024, 2, 15, 0, 30, 0, 0, time.UTC)
	e := parsertest.BytesEntry(`C:\Users\operator\AppData\Roaming\Microsoft\Windows\PowerShell\PSReadLine\ConsoleHost_history.txt`, data, mtime)
	if !NewHistory().Match(e, data) {
		t.Fatal("Match rejects ConsoleHost_history.txt")
	}
	res := parsertest.Parse(context.Background(), NewHistory(), e, time.UTC)
	if res.Err != nil || len(res.Warnings) != 0 || len(res.Events) != 4 {
		t.Fatalf("%v, %d events, warnings %v", res.Err, len(res.Events), res.Warnings)
	}
	want := []struct {
		cmd string
		rec int64
	}{
		{"Get-Service MSSQLSERVER", 1},
		{"Invoke-Sqlcmd -Query \"SELECT COUNT(*) FROM Ballots\" `\n  -ServerInstance localhost", 2},
		{"wevtutil cl Security", 4},
		{"Clear-History", 6},
	}
	for i, w := range want {
		ev := res.Events[i]
		if ev.Process.CommandLine != w.cmd || ev.Jejak.Provenance.Record != w.rec || !ev.Timestamp.Equal(mtime) || ev.TimestampDesc != HistoryMtimeDesc {
			t.Errorf("command %d: %q line %d %s", i, ev.Process.CommandLine, ev.Jejak.Provenance.Record, ev.Timestamp)
		}
	}
	res = parsertest.Parse(context.Background(), NewHistory(), parsertest.BytesEntry("ConsoleHost_history.txt", data, time.Time{}), time.UTC)
	if len(res.Events) != 0 || len(res.Warnings) != 4 {
		t.Errorf("no mtime: %d events, %d warnings", len(res.Events), len(res.Warnings))
	}
	for _, name := range []string{"history.txt", "bash_history", `C:\x\ConsoleHost_history.txt.bak`} {
		if NewHistory().Match(parsertest.BytesEntry(name, data, mtime), data) {
			t.Errorf("Match takes %s", name)
		}
	}
}

func FuzzTranscript(f *testing.F) {
	data, err := os.ReadFile(ownTranscript)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, b []byte) {
		res := parsertest.Parse(context.Background(), NewTranscript(), parsertest.BytesEntry("t.txt", b, time.Time{}), time.UTC)
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

// Oracle: plaso's testProcessGerman on its German-locale transcript:
// session start 2022-08-24T12:21:11, username and run-as DE\User, PID
// 18716, machine MySystem; its commands begin "Die Aufzeichnung wurde
// gestartet…; PS C:\Users\User> whoami; de\User; …"; the next event data
// starts at the "Befehlsstartzeit" 2022-08-24T12:31:14 with "PS
// C:\Users\User\Documents> ping 127.0.0.1 -n 5". plaso leaves the third
// command (12:42:37, rm .\filename) out; here it is read.
func TestPlasoGerman(t *testing.T) {
	res := parsertest.ParseFile(t, NewTranscript(), "testdata/powershell_transcript_ger.txt", time.UTC)
	if res.Err != nil || len(res.Warnings) != 0 {
		t.Fatalf("%v, warnings %v", res.Err, res.Warnings)
	}
	// Start, 5 commands before the first invocation header, 2 after.
	if len(res.Events) != 8 {
		for _, ev := range res.Events {
			t.Log(ev.Timestamp, ev.Event.Action, ev.Message)
		}
		t.Fatalf("%d events, want 8", len(res.Events))
	}
	start := res.Events[0]
	if start.Event.Action != ActionStart || start.Timestamp.Format(time.RFC3339) != "2022-08-24T12:21:11Z" || start.User.Name != "User" ||
		start.User.Domain != "DE" || start.Process.PID != 18716 || start.Host.Name != "MySystem" || start.Jejak.Data[KeyRunAs] != `DE\User` ||
		!strings.HasPrefix(start.Jejak.Data[KeyOutput], "Die Aufzeichnung wurde gestartet.") {
		t.Errorf("start: %s %+v %+v %v", start.Timestamp, start.User, start.Process, start.Jejak.Data)
	}
	if c := res.Events[1]; c.Process.CommandLine != "whoami" || c.Jejak.Data[KeyOutput] != `de\User` || c.TimestampDesc != CommandAtStart {
		t.Errorf("whoami: %+v %v", c.Process, c.Jejak.Data)
	}
	if c := res.Events[6]; c.Process.CommandLine != "ping 127.0.0.1 -n 5" || c.Process.WorkingDir != `C:\Users\User\Documents` ||
		c.Timestamp.Format(time.RFC3339) != "2022-08-24T12:31:14Z" || c.TimestampDesc != CommandDesc ||
		!strings.HasSuffix(c.Jejak.Data[KeyOutput], "Minimum = 0ms, Maximum = 1ms, Mittelwert = 0ms") {
		t.Errorf("ping: %s %+v %q", c.Timestamp, c.Process, c.Jejak.Data[KeyOutput])
	}
	if c := res.Events[7]; c.Process.CommandLine != `rm .\filename` || c.Timestamp.Format(time.RFC3339) != "2022-08-24T12:42:37Z" {
		t.Errorf("rm: %s %+v", c.Timestamp, c.Process)
	}
}
