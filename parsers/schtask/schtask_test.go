package schtask

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// testdata holds two task files in the form Windows 10 writes them
// (UTF-16LE with a BOM, CRLF): one registered by an operator account that
// runs an encoded PowerShell command at boot and hourly, hidden, under a
// name that mimics Edge's updater; one of Windows' own (no registration
// date, a COM handler, disabled).
const (
	evil = "testdata/MicrosoftEdgeUpdateTaskMachineSync"
	own  = "testdata/SvcRestartTask"
)

func TestContract(t *testing.T) {
	parsertest.Contract(t, New(), evil, own)
}

// pyOracle is Python's XML parser reading the same file: the registration
// date, author, URI and first Exec command and arguments.
const pyOracle = `
import json, sys, xml.etree.ElementTree as ET
ns = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
r = ET.parse(sys.argv[1]).getroot()
g = lambda p: (r.findtext(p, default="", namespaces=ns) or "").strip()
print(json.dumps({"date": g("t:RegistrationInfo/t:Date"), "author": g("t:RegistrationInfo/t:Author"),
  "uri": g("t:RegistrationInfo/t:URI"), "command": g("t:Actions/t:Exec/t:Command"),
  "arguments": g("t:Actions/t:Exec/t:Arguments"), "user": g("t:Principals/t:Principal/t:UserId")}))
`

func TestAgainstPython(t *testing.T) {
	py := oracle.Tool(t, "python3", "python3")
	for _, path := range []string{evil, own} {
		var want map[string]string
		if err := json.Unmarshal(oracle.Output(t, py, "-c", pyOracle, path), &want); err != nil {
			t.Fatal(err)
		}
		mtime := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry(path, data, mtime), time.UTC)
		if res.Err != nil || len(res.Warnings) != 0 || len(res.Events) != 1 {
			t.Fatalf("%s: %v, %d events, warnings %v", path, res.Err, len(res.Events), res.Warnings)
		}
		ev := res.Events[0]
		d := ev.Jejak.Data
		if d[KeyAuthor] != want["author"] || d[KeyURI] != want["uri"] || d[KeyArguments] != want["arguments"] || ev.User.ID != want["user"] {
			t.Errorf("%s: %v %+v; python %v", path, d, ev.User, want)
		}
		if want["command"] != "" && (ev.Process == nil || ev.Process.Executable != want["command"]) {
			t.Errorf("%s: process %+v; python %q", path, ev.Process, want["command"])
		}
		if want["date"] == "" {
			if !ev.Timestamp.Equal(mtime) || ev.TimestampDesc != MtimeDesc {
				t.Errorf("%s: no date, placed at %s (%s)", path, ev.Timestamp, ev.TimestampDesc)
			}
		} else if got := ev.Timestamp.Format("2006-01-02T15:04:05.9999999"); got != want["date"] || ev.TimestampDesc != RegisteredDesc {
			t.Errorf("%s: date %s, python %s", path, got, want["date"])
		}
	}
}

func TestTaskFields(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	res := parsertest.ParseFile(t, New(), evil, ny)
	ev := res.Events[0]
	d := ev.Jejak.Data
	if ev.Timestamp.Format(time.RFC3339Nano) != "2024-02-15T00:25:11.3040217Z" || ev.Jejak.Time == nil || ev.Jejak.Time.ZoneAssumed != "America/New_York" ||
		d[KeyHidden] != "true" || d[KeyEnabled] != "true" || d[KeyRunLevel] != "HighestAvailable" ||
		d[KeyTriggers] != "TimeTrigger from 2024-02-14T20:00:00; BootTrigger" || ev.Event.Action != Action ||
		!strings.HasPrefix(ev.Process.CommandLine, `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe -nop -w hidden -enc`) {
		t.Errorf("%s %+v %v %+v", ev.Timestamp, ev.Jejak.Time, d, ev.Process)
	}
	res = parsertest.ParseFile(t, New(), own, ny)
	ev = res.Events[0]
	if ev.Jejak.Data[KeyEnabled] != "false" || ev.Jejak.Data[KeyCOM] != "{B1AEBB5D-EAD9-4476-B375-9C3ED9F32AFC}" || ev.Process != nil ||
		ev.Jejak.Data[KeyTriggers] != "CalendarTrigger from 2023-11-08T07:02:14Z" || !strings.HasSuffix(ev.Message, "(disabled)") {
		t.Errorf("%v %q", ev.Jejak.Data, ev.Message)
	}
}

// Damage: a cut file is a warning naming it; so is a task with no date
// and no file time; other XML is not matched.
func TestDamage(t *testing.T) {
	data, err := os.ReadFile(evil)
	if err != nil {
		t.Fatal(err)
	}
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("t", data[:len(data)/2], time.Time{}), time.UTC)
	if len(res.Events) != 0 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0].Error(), "task XML") {
		t.Errorf("cut: %d events, %v", len(res.Events), res.Warnings)
	}
	owned, _ := os.ReadFile(own)
	res = parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("t", owned, time.Time{}), time.UTC)
	if len(res.Events) != 0 || len(res.Warnings) != 1 {
		t.Errorf("no time: %d events, %v", len(res.Events), res.Warnings)
	}
	if New().Match(nil, []byte(`<?xml version="1.0"?><Task xmlns="urn:other"/>`)) {
		t.Error("Match takes another XML")
	}
	if !New().Match(nil, []byte(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">`)) {
		t.Error("Match rejects a UTF-8 task")
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{evil, own} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("t", b, time.Unix(1, 0)), time.UTC)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
	})
}
