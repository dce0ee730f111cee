package remoteaccess

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

const (
	tvIncoming = "windows/remote/teamviewer/connections_incoming.txt"
	tvOutgoing = "windows/remote/teamviewer/Connections.txt"
	tvLog      = "windows/remote/teamviewer/TeamViewer15_Logfile.log"
	// Velociraptor's sample (AGPL-3.0): read from ../shared, never copied.
	vrIncoming = "agpl/remote/Connection_incoming.txt"
)

func TestContract(t *testing.T) {
	parsertest.Contract(t, NewTeamViewerConnections(), parsertest.Corpus(t, tvIncoming), parsertest.Corpus(t, tvOutgoing), parsertest.Corpus(t, vrIncoming))
	parsertest.Contract(t, NewTeamViewerLog(), parsertest.Corpus(t, tvLog))
	parsertest.Contract(t, NewAnyDeskConnections(), "testdata/connection_trace.txt")
	parsertest.Contract(t, NewAnyDeskTrace(), "testdata/ad_svc.trace")
}

func utc(ev *timeline.Event) string { return ev.Timestamp.Format(time.RFC3339) }

// Oracle: plaso tests/parsers/text_plugins/teamviewer.py: one incoming
// connection, source 1660360496, display name TestUserRedacted, local
// account IEUser, RemoteControl, {b3a4df33-…}, 2024-02-16T14:16:32+00:00 to
// 14:18:36+00:00; one outgoing connection to 1660360496, IEUser,
// {b35110b2-…}, 2024-02-20T13:10:33+00:00 to 13:11:52+00:00. Both are read
// as UTC whatever the case zone.
func TestPlasoConnections(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	for _, tc := range []struct {
		rel, dir, name, guid, start, end string
	}{
		{tvIncoming, "incoming", "TestUserRedacted", "{b3a4df33-d027-44d5-b50f-4e61115494d4}", "2024-02-16T14:16:32Z", "2024-02-16T14:18:36Z"},
		{tvOutgoing, "outgoing", "", "{b35110b2-7dc5-4bb9-8d54-ca80953f65f8}", "2024-02-20T13:10:33Z", "2024-02-20T13:11:52Z"},
	} {
		res := parsertest.ParseFile(t, NewTeamViewerConnections(), parsertest.Corpus(t, tc.rel), ny)
		if res.Err != nil || len(res.Warnings) != 0 || len(res.Events) != 2 {
			t.Fatalf("%s: %v, %d events %d warnings", tc.rel, res.Err, len(res.Events), len(res.Warnings))
		}
		s, e := res.Events[0], res.Events[1]
		d := s.Jejak.Data
		if s.Event.Action != ActionStart || e.Event.Action != ActionEnd || utc(s) != tc.start || utc(e) != tc.end ||
			d[KeyID] != "1660360496" || d[KeyName] != tc.name || d[KeyDirection] != tc.dir || d[KeySession] != tc.guid ||
			d[KeyActivity] != "RemoteControl" || d[KeyTool] != TeamViewer || s.User == nil || s.User.Name != "IEUser" ||
			s.Event.Category[0] != "session" || s.Jejak.Time != nil {
			t.Errorf("%s: %s %s %+v %v %+v", tc.rel, utc(s), utc(e), s.Event, d, s.User)
		}
	}
}

// Velociraptor's TeamViewer artifact test reads two incoming sessions from
// 248257009 (Machine1) for local user yolo.
func TestVelociraptorIncoming(t *testing.T) {
	res := parsertest.ParseFile(t, NewTeamViewerConnections(), parsertest.Corpus(t, vrIncoming), time.UTC)
	if res.Err != nil || len(res.Warnings) != 0 || len(res.Events) != 4 {
		t.Fatalf("%v, %d events %d warnings", res.Err, len(res.Events), len(res.Warnings))
	}
	for _, ev := range res.Events {
		if ev.Jejak.Data[KeyID] != "248257009" || ev.Jejak.Data[KeyName] != "Machine1" || ev.User.Name != "yolo" {
			t.Errorf("%v", ev.Jejak.Data)
		}
	}
	if utc(res.Events[2]) != "2020-08-05T13:39:53Z" || utc(res.Events[3]) != "2020-08-05T13:42:44Z" {
		t.Errorf("second session %s %s", utc(res.Events[2]), utc(res.Events[3]))
	}
}

// Oracle: plaso's teamviewer application log test: 1013 records (lines
// without a time continue the one before), 0 warnings; record 17 is PID
// 2136 at 2024-02-16 06:05:19.561 with the header block as its body; the
// last, 1012, PID 5276 at 06:18:36.370, "MDV2: IsDeviceManagementEnabled:
// mdv2: 1 management: 1". plaso reads the times as UTC; the header says
// they are at UTC-8:00, so here they are 8 hours later in UTC.
func TestPlasoApplicationLog(t *testing.T) {
	res := parsertest.ParseFile(t, NewTeamViewerLog(), parsertest.Corpus(t, tvLog), time.UTC)
	if res.Err != nil || len(res.Warnings) != 0 || len(res.Events) != 1013 {
		t.Fatalf("%v, %d events %d warnings (plaso 1013, 0)", res.Err, len(res.Events), len(res.Warnings))
	}
	ts := func(ev *timeline.Event) string { return ev.Timestamp.Format("2006-01-02 15:04:05.000") }
	ev := res.Events[17]
	if ts(ev) != "2024-02-16 14:05:19.561" || ev.Process.PID != 2136 || !strings.Contains(ev.Message, "Start:              2024/02/16 06:05:19.548 (UTC-8:00)") ||
		!strings.HasSuffix(ev.Message, "UserAccount:        SYSTEM") || ev.Event.Timezone != "UTC-8:00" || ev.Jejak.Time != nil {
		t.Errorf("record 17: %s %d %q %q", ts(ev), ev.Process.PID, ev.Message, ev.Event.Timezone)
	}
	// Before the first header: the offset it states still applies.
	if ts(res.Events[0]) != "2024-02-16 14:05:19.349" {
		t.Errorf("record 0: %s", ts(res.Events[0]))
	}
	ev = res.Events[1012]
	if ts(ev) != "2024-02-16 14:18:36.370" || ev.Process.PID != 5276 || ev.Message != "MDV2: IsDeviceManagementEnabled: mdv2: 1 management: 1" {
		t.Errorf("record 1012: %s %d %q", ts(ev), ev.Process.PID, ev.Message)
	}
	// The session is the one connections_incoming.txt lists: from
	// 1660360496 (TestAccountRedacted), 14:16:47 to 14:18:36 UTC.
	var got []string
	for _, ev := range res.Events {
		if ev.Event.Action != "" {
			got = append(got, ev.Event.Action+" "+ev.Jejak.Data[KeyID]+" "+ev.Jejak.Data[KeyName]+" "+ev.Timestamp.Format("15:04:05"))
		}
	}
	want := []string{
		ActionIncoming + "   14:16:32",
		ActionAuth + "   14:16:47",
		ActionStart + " 1660360496 TestAccountRedacted 14:16:47",
		ActionEnd + " 1660360496  14:18:36",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("normalised:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Without a header the case zone is used and recorded as assumed.
func TestApplicationLogAssumedZone(t *testing.T) {
	log := "2024/02/16 06:16:32.444  2216       2492 S0   CommandHandlerRouting[2]::CreatePassiveSession(): incoming session via gb-man-anx-r001.router.teamviewer.com, protocol Tcp\r\n" +
		"not a record\r\n"
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	res := parsertest.Parse(context.Background(), NewTeamViewerLog(), parsertest.BytesEntry("TeamViewer15_Logfile.log", []byte(log), time.Time{}), ny)
	if len(res.Events) != 1 || len(res.Warnings) != 0 {
		t.Fatalf("%d events %d warnings", len(res.Events), len(res.Warnings))
	}
	ev := res.Events[0]
	if utc(ev) != "2024-02-16T11:16:32Z" || ev.Jejak.Time == nil || ev.Jejak.Time.ZoneAssumed != "America/New_York" ||
		ev.Jejak.Data[KeyRelay] != "gb-man-anx-r001.router.teamviewer.com" || !strings.HasSuffix(ev.Message, "\nnot a record") {
		t.Errorf("%s %+v %v %q", utc(ev), ev.Jejak.Time, ev.Jejak.Data, ev.Message)
	}
}

// testdata/connection_trace.txt is written after AnyDesk's documentation of
// the file (no sample in the corpus): accepted by the console user, a
// rejection, a password and a token login.
func TestAnyDeskConnectionTrace(t *testing.T) {
	res := parsertest.ParseFile(t, NewAnyDeskConnections(), "testdata/connection_trace.txt", time.UTC)
	if res.Err != nil || len(res.Warnings) != 0 || len(res.Events) != 4 {
		t.Fatalf("%v, %d events %d warnings", res.Err, len(res.Events), len(res.Warnings))
	}
	tests := []struct{ action, id, name, auth, at string }{
		{ActionStart, "482193576", "DESKTOP-7Q2K1LM", "User", "2024-02-14T19:20:00Z"},
		{ActionRejected, "482193576", "", "REJECTED", "2024-02-14T21:03:00Z"},
		{ActionStart, "1079584352", "", "Passwd", "2024-02-15T01:47:00Z"},
		{ActionStart, "713306921", "support@ad", "Token", "2024-02-15T02:12:00Z"},
	}
	for i, tc := range tests {
		ev := res.Events[i]
		d := ev.Jejak.Data
		if ev.Event.Action != tc.action || d[KeyID] != tc.id || d[KeyName] != tc.name || d[KeyAuth] != tc.auth || utc(ev) != tc.at || d[KeyTool] != AnyDesk {
			t.Errorf("line %d: %s %q %v", i+1, utc(ev), ev.Event.Action, d)
		}
	}
	bad := "Incoming    2024-02-30, 19:20    User    1    1\nsomething else\n"
	res = parsertest.Parse(context.Background(), NewAnyDeskConnections(), parsertest.BytesEntry("connection_trace.txt", []byte(bad), time.Time{}), time.UTC)
	if len(res.Events) != 0 || len(res.Warnings) != 2 || res.Warnings[1].Offset != int64(strings.Index(bad, "something")) {
		t.Errorf("%d events, warnings %v", len(res.Events), res.Warnings)
	}
}

// testdata/ad_svc.trace is written in the line format AnyDesk's service
// trace uses (no sample in the corpus).
func TestAnyDeskTrace(t *testing.T) {
	res := parsertest.ParseFile(t, NewAnyDeskTrace(), "testdata/ad_svc.trace", time.UTC)
	if res.Err != nil || len(res.Warnings) != 0 || len(res.Events) != 8 {
		t.Fatalf("%v, %d events %d warnings", res.Err, len(res.Events), len(res.Warnings))
	}
	relay := res.Events[0]
	if relay.Event.Action != ActionRelay || relay.Source == nil || relay.Source.IP != "185.220.101.47" || relay.Source.Port != 55192 || relay.Jejak.Data[KeyRelay] != "2f7a91c4" {
		t.Errorf("relay %+v %+v", relay.Event, relay.Source)
	}
	req := res.Events[1]
	if req.Event.Action != ActionIncoming || req.Jejak.Data[KeyID] != "1079584352" || req.Jejak.Data[KeyName] != "ADMIN-PC" || utc(req) != "2024-02-15T01:47:02Z" {
		t.Errorf("request %+v %v", req.Event, req.Jejak.Data)
	}
	if os := res.Events[2].Jejak.Data[KeyOS]; os != "Windows" {
		t.Errorf("remote OS %q", os)
	}
	start, end := res.Events[4], res.Events[7]
	if start.Event.Action != ActionStart || start.Jejak.Data[KeyID] != "1079584352" || start.Jejak.Data[KeyAuth] != "password" ||
		end.Event.Action != ActionEnd || end.Jejak.Data[KeyID] != "1079584352" || res.Events[6].Log.Level != "warning" {
		t.Errorf("start %+v %v; end %+v %v", start.Event, start.Jejak.Data, end.Event, end.Jejak.Data)
	}
	if res.Events[5].Event.Action != "" {
		t.Errorf("'Session started' is not normalised: %q", res.Events[5].Event.Action)
	}
}

// Each parser takes its own format only.
func TestMatchIsExclusive(t *testing.T) {
	files := map[string]string{
		TVConnectionsName: parsertest.Corpus(t, tvIncoming),
		TVLogName:         parsertest.Corpus(t, tvLog),
		ADConnName:        "testdata/connection_trace.txt",
		ADTraceName:       "testdata/ad_svc.trace",
	}
	for name, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		head := data[:min(len(data), 4096)]
		e := parsertest.FileEntry(t, path)
		for pname, ok := range map[string]bool{
			TVConnectionsName: NewTeamViewerConnections().Match(e, head),
			TVLogName:         NewTeamViewerLog().Match(e, head),
			ADConnName:        NewAnyDeskConnections().Match(e, head),
			ADTraceName:       NewAnyDeskTrace().Match(e, head),
		} {
			if ok != (pname == name) {
				t.Errorf("%s on %s's file: %v", pname, name, ok)
			}
		}
	}
}

func FuzzTeamViewerLog(f *testing.F) {
	f.Add([]byte("2024/02/16 06:05:19.349  2136       3688  0   Logger started.\nStart:              2024/02/16 06:05:19.548 (UTC-8:00)\nID:                 1660388656\n"))
	f.Add([]byte("x\n2024/02/16 06:16:47.413  2216       2488 S0   CPersistentParticipantManager::AddParticipant: [1660360496,115469523] type=6 name=A\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		res := parsertest.Parse(context.Background(), NewTeamViewerLog(), parsertest.BytesEntry("TeamViewer15_Logfile.log", b, time.Time{}), time.UTC)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		res = parsertest.Parse(context.Background(), NewAnyDeskTrace(), parsertest.BytesEntry("ad.trace", b, time.Time{}), time.UTC)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
	})
}
