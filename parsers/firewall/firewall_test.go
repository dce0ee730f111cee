package firewall

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

func TestContract(t *testing.T) {
	parsertest.Contract(t, New(), parsertest.Corpus(t, "logs/windows/windows_firewall.log"))
}

// Oracle: plaso tests/parsers/winfirewall.py: 15 events; event 4 at
// 2005-04-11 08:06:02 from 123.45.78.90 to 123.156.78.90; event 7 at
// 08:06:26, size 576, flags A, tcpack 987654321; event 9 ICMP type 8 code 0.
// plaso's test reads the file in UTC, as this one does first.
func TestPlasoWinFirewall(t *testing.T) {
	path := parsertest.Corpus(t, "logs/windows/windows_firewall.log")
	res := parsertest.ParseFile(t, New(), path, time.UTC)
	if res.Err != nil || len(res.Events) != 15 || len(res.Warnings) != 0 {
		t.Fatalf("%v: %d events %d warnings; plaso 15, 0", res.Err, len(res.Events), len(res.Warnings))
	}
	ev := res.Events[4]
	if ev.Timestamp.Format(time.DateTime) != "2005-04-11 08:06:02" || ev.Source.IP != "123.45.78.90" ||
		ev.Destination.IP != "123.156.78.90" || ev.Event.Action != "close" {
		t.Errorf("event 4: %s %+v %+v %q", ev.Timestamp, ev.Source, ev.Destination, ev.Event.Action)
	}
	ev = res.Events[7]
	d := ev.Jejak.Data
	if ev.Timestamp.Format(time.DateTime) != "2005-04-11 08:06:26" || d["size"] != "576" || d["tcpflags"] != "A" ||
		d["tcpack"] != "987654321" || d["network.transport"] != "tcp" || d["network.direction"] != "inbound" ||
		ev.Source.Port != 80 || ev.Destination.Port != 1774 || ev.Event.Action != "drop" || ev.Event.Outcome != "failure" {
		t.Errorf("event 7: %s %+v %+v %v", ev.Timestamp, ev.Source, ev.Destination, d)
	}
	if !strings.HasPrefix(ev.Message, "DROP [ TCP RECEIVE ] From: 123.45.78.90 :80 > 123.156.78.90 :1774 Size (bytes): 576 Flags [A]") {
		t.Errorf("message %q", ev.Message)
	}
	if d := res.Events[9].Jejak.Data; d["icmptype"] != "8" || d["icmpcode"] != "0" {
		t.Errorf("event 9: %v", d)
	}
	if last := res.Events[14]; last.Event.Action != "info-events-lost" || last.Jejak.Data["info"] != "59" || last.Source != nil {
		t.Errorf("last: %+v", last)
	}
}

// The log is in the writer's local time: read in the case zone, recorded.
func TestLocalTimeZone(t *testing.T) {
	path := parsertest.Corpus(t, "logs/windows/windows_firewall.log")
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	res := parsertest.ParseFile(t, New(), path, ny)
	ev := res.Events[0]
	if ev.Timestamp.Format(time.RFC3339) != "2005-04-11T12:05:57Z" { // EDT = UTC-4
		t.Errorf("time %s", ev.Timestamp)
	}
	if ev.Jejak.Time == nil || ev.Jejak.Time.ZoneAssumed != "America/New_York" || ev.Event.Timezone != "America/New_York" {
		t.Errorf("zone not recorded: %+v", ev.Jejak.Time)
	}
}

// Newer Windows adds a pid column; a short line is a counted warning.
func TestFieldsAndDamage(t *testing.T) {
	log := "#Version: 1.5\r\n#Software: Microsoft Windows Firewall\r\n#Time Format: Local\r\n" +
		"#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path pid\r\n" +
		"2023-05-01 10:00:00 ALLOW TCP 10.0.0.5 10.0.0.9 50000 445 0 - - - - - - - SEND 4\r\n" +
		"2023-05-01 10:00:01 DROP TCP 10.0.0.5\r\n"
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("pfirewall.log", []byte(log), time.Time{}), time.UTC)
	if len(res.Events) != 1 || len(res.Warnings) != 1 {
		t.Fatalf("%d events %d warnings", len(res.Events), len(res.Warnings))
	}
	ev := res.Events[0]
	if ev.Process == nil || ev.Process.PID != 4 || ev.Event.Action != "allow" || ev.Jejak.Data["network.direction"] != "outbound" {
		t.Errorf("%+v %+v", ev.Process, ev.Event)
	}
	if w := res.Warnings[0]; w.Record != 6 || w.Offset != int64(strings.LastIndex(log, "2023-05-01 10:00:01")) {
		t.Errorf("warning %+v", w)
	}
}

func BenchmarkWinFirewall(b *testing.B) {
	data, err := os.ReadFile(parsertest.Corpus(b, "logs/windows/windows_firewall.log"))
	if err != nil {
		b.Fatal(err)
	}
	// Repeat the body to a realistic size so the header is not what is timed.
	head, body, _ := strings.Cut(string(data), "2005-04-11")
	big := []byte(head + strings.Repeat("2005-04-11"+body, 2000))
	b.SetBytes(int64(len(big)))
	for b.Loop() {
		res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("pfirewall.log", big, time.Time{}), time.UTC)
		if len(res.Warnings) != 0 {
			b.Fatal(res.Warnings[0])
		}
	}
}

// TestMatchPrecheck: the corpus firewall log is taken whole, cut to its
// first lines and behind a BOM; heads without a '#' are not looked into,
// and Match answers as its two tests without the '#' precheck on each.
func TestMatchPrecheck(t *testing.T) {
	b, err := os.ReadFile(parsertest.Corpus(t, "logs/windows/windows_firewall.log"))
	if err != nil {
		t.Fatal(err)
	}
	heads := [][]byte{b, append([]byte{0xEF, 0xBB, 0xBF}, b...), []byte("x #Fields: date time action protocol src-ip dst-ip"),
		[]byte("no hash here"), []byte(""), []byte("#"), []byte("#Version: 1.5\n#Software: Microsoft Windows Firewall\n")}
	for i := range b {
		if b[i] == '\n' {
			heads = append(heads, b[:i+1], b[i+1:])
		}
	}
	p := New()
	for _, h := range heads {

		hb := bytes.TrimPrefix(h, []byte{0xEF, 0xBB, 0xBF})
		want := bytes.HasPrefix(hb, []byte("#Version:")) && bytes.Contains(hb, []byte("#Software: Microsoft Windows Firewall")) ||
			bytes.Contains(hb, []byte("#Fields: date time action protocol src-ip dst-ip"))
		if got := p.Match(nil, h); got != want {
			t.Errorf("Match(%.60q) = %v, without precheck %v", h, got, want)
		}
	}
	if !p.Match(nil, b) || !p.Match(nil, heads[1]) || p.Match(nil, []byte("no hash here")) {
		t.Error("corpus log not taken, or a head without '#' taken")
	}
}
