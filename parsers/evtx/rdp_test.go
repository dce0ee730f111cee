package evtx

import (
	"bytes"
	"net"
	"os"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// TestRDP1149 is the file evtxexport refuses (token 0x05) and Velocidex
// garbles: 11 RDP logons (header records 1..11, MANIFEST). Every decoded
// user and source address must also be present, as UTF-16, in the raw
// bytes of the record it came from: an oracle independent of the decoder.
func TestRDP1149(t *testing.T) {
	file := parsertest.Corpus(t, "more/evtx/mitre_cc0/ID1149-RDP_success_logins.evtx")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	res := parsertest.ParseFile(t, New(2), file, nil)
	if res.Err != nil || len(res.Warnings) > 0 {
		t.Fatalf("err %v, warnings %v", res.Err, res.Warnings)
	}
	if len(res.Events) != 11 {
		t.Fatalf("%d events, want the 11 the chunk header declares", len(res.Events))
	}
	for i, ev := range res.Events {
		if ev.Jejak.Provenance.Record != int64(i+1) {
			t.Errorf("event %d: header record %d", i, ev.Jejak.Provenance.Record)
		}
		if ev.Event.Code != "1149" || ev.Event.Action != "rdp-authenticated" || ev.Event.Outcome != "success" {
			t.Errorf("record %d: code %s action %s outcome %s", i+1, ev.Event.Code, ev.Event.Action, ev.Event.Outcome)
		}
		if ev.User == nil || ev.User.Name == "" || ev.Source == nil || net.ParseIP(ev.Source.IP) == nil {
			t.Errorf("record %d: user %+v source %+v", i+1, ev.User, ev.Source)
			continue
		}
		off := ev.Jejak.Provenance.Offset
		size := int64(raw[off+4]) | int64(raw[off+5])<<8 | int64(raw[off+6])<<16
		body := raw[off : off+size]
		for _, s := range []string{ev.User.Name, ev.Source.IP, ev.Winlog.ComputerName} {
			if !bytes.Contains(body, parsertest.UTF16LE(s, false)) {
				t.Errorf("record %d: %q not in the record's bytes", i+1, s)
			}
		}
		if ev.Timestamp.IsZero() || ev.Winlog.Channel == "" {
			t.Errorf("record %d: time %v channel %q", i+1, ev.Timestamp, ev.Winlog.Channel)
		}
	}
	t.Logf("first: %s", res.Events[0].Message)
}
