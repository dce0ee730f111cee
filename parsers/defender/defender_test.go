package defender

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// testdata/MPLog-20240214-190002.log is written in the line formats the
// Microsoft Protection Log uses (no sample in the corpus): an engine
// update, performance-impact lines, a detection and its quarantine, a
// mini-filter block with a continuation line.
const mplog = "testdata/MPLog-20240214-190002.log"

func TestContract(t *testing.T) {
	parsertest.Contract(t, New(), mplog)
}

func TestMPLog(t *testing.T) {
	res := parsertest.ParseFile(t, New(), mplog, time.UTC)
	if res.Err != nil || len(res.Warnings) != 0 || len(res.Events) != 7 {
		t.Fatalf("%v, %d events, warnings %v", res.Err, len(res.Events), res.Warnings)
	}
	imp := res.Events[2]
	if imp.Event.Action != ActionImpact || imp.Process.Name != "powershell.exe" || imp.Process.PID != 6232 ||
		imp.File.Path != `\Device\HarddiskVolume2\Users\Public\r.zip` || imp.Jejak.Data[KeyCount] != "41" || imp.Jejak.Data[KeyImpact] != "37" ||
		imp.Timestamp.Format(time.RFC3339Nano) != "2024-02-14T19:22:41.086Z" || imp.Jejak.Time != nil {
		t.Errorf("impact: %+v %+v %+v %v", imp.Event, imp.Process, imp.File, imp.Jejak.Data)
	}
	det, clean := res.Events[3], res.Events[4]
	if det.Event.Action != ActionDetected || det.Jejak.Data[KeyThreat] != "HackTool:Win32/Mimikatz!pz" || det.File.Path != `C:\Users\operator\Downloads\m64.exe` ||
		det.Jejak.Data[KeySource] != "MPSOURCE_REALTIME" || det.Event.Kind != "alert" {
		t.Errorf("detection: %+v %+v %v", det.Event, det.File, det.Jejak.Data)
	}
	if clean.Event.Action != ActionRemediated || clean.Jejak.Data[KeyAction] != "MP_THREAT_ACTION_QUARANTINE" || clean.File.Name != "m64.exe" {
		t.Errorf("clean: %+v %+v %v", clean.Event, clean.File, clean.Jejak.Data)
	}
	if blk := res.Events[5]; !strings.HasSuffix(blk.Message, "\nInternal signature match:subtype=Lowfi, sigseq=0x00009B4C1BC1B3B8, sigsha=d2e0f1d1b59a9c42c36a2f1d0ac2d0c3e1b6ba6e, cached=false, source=0, resourceid=0x0bc46a38") {
		t.Errorf("continuation: %q", blk.Message)
	}
	if last := res.Events[6]; last.Process.Name != "rclone.exe" || last.Jejak.Data[KeyCount] != "1802" {
		t.Errorf("rclone: %+v", last.Process)
	}
}

// The same log in UTF-16LE with a BOM gives the same events, offsets
// pointing at the UTF-16 bytes.
func TestUTF16(t *testing.T) {
	data, err := os.ReadFile(mplog)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte{0xFF, 0xFE}
	for _, u := range utf16.Encode([]rune(string(data))) {
		b = append(b, byte(u), byte(u>>8))
	}
	a := parsertest.ParseFile(t, New(), mplog, time.UTC)
	e := parsertest.BytesEntry("MPLog-20240214-190002.log", b, time.Time{})
	if !New().Match(e, b[:min(len(b), 4096)]) {
		t.Fatal("Match rejects the UTF-16 log")
	}
	u := parsertest.Parse(context.Background(), New(), e, time.UTC)
	if len(u.Events) != len(a.Events) || len(u.Warnings) != 0 {
		t.Fatalf("UTF-16: %d events %d warnings; UTF-8 %d", len(u.Events), len(u.Warnings), len(a.Events))
	}
	for i := range a.Events {
		x, y := a.Events[i], u.Events[i]
		if x.Message != y.Message || !x.Timestamp.Equal(y.Timestamp) || y.Jejak.Provenance.Offset != 2+2*x.Jejak.Provenance.Offset {
			t.Errorf("event %d: %q @%d / %q @%d", i, x.Message, x.Jejak.Provenance.Offset, y.Message, y.Jejak.Provenance.Offset)
		}
	}
}

// A time without Z is read in the case zone, recorded; a line without a
// time at the top is a warning.
func TestLocalAndDamage(t *testing.T) {
	log := "no time here\r\n2024-02-14T19:22:41.086 ProcessImageName: cmd.exe, Pid: 1, TotalTime: 1, Count: 1, MaxTime: 1, MaxTimeFile: \\x, EstimatedImpact: 1%\r\n"
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("MPLog-1.log", []byte(log), time.Time{}), ny)
	if len(res.Events) != 1 || len(res.Warnings) != 1 || res.Warnings[0].Record != 1 {
		t.Fatalf("%d events, warnings %v", len(res.Events), res.Warnings)
	}
	ev := res.Events[0]
	if ev.Timestamp.Format(time.RFC3339Nano) != "2024-02-15T00:22:41.086Z" || ev.Jejak.Time == nil || ev.Jejak.Time.ZoneAssumed != "America/New_York" {
		t.Errorf("%s %+v", ev.Timestamp, ev.Jejak.Time)
	}
}

func TestMatch(t *testing.T) {
	p := New()
	e := parsertest.BytesEntry("other.log", nil, time.Time{})
	for _, tc := range []struct {
		head string
		want bool
	}{
		{"2022-11-23T09:10:55.472Z ProcessImageName: svchost.exe, Pid: 7836, TotalTime: 6070, Count: 24, MaxTime: 828, MaxTimeFile: \\Device\\x, EstimatedImpact: 100%\r\n", true},
		{"2024-02-14T19:00:02.114Z Engine:Begin Update GUID: 0\r\n", false},
		{"2024-02-14T19:00:02Z some app wrote this\n", false},
	} {
		if got := p.Match(e, []byte(tc.head)); got != tc.want {
			t.Errorf("Match(%q) = %v", tc.head, got)
		}
	}
	if !p.Match(parsertest.BytesEntry(`C:\ProgramData\Microsoft\Windows Defender\Support\MPLog-20240214-190002.log`, nil, time.Time{}), []byte("2024-02-14T19:00:02.114Z Engine:Begin Update GUID: 0\r\n")) {
		t.Error("an MPLog-* file starting with an engine line is rejected")
	}
}

func FuzzParse(f *testing.F) {
	data, err := os.ReadFile(mplog)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(append([]byte{0xFF, 0xFE}, '2', 0, '0', 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("MPLog-1.log", b, time.Time{}), time.UTC)
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
