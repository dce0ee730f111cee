package zonecheck

import (
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

func tzEvent(name, iana string, bias string, at time.Time) *timeline.Event {
	ev := &timeline.Event{Timestamp: at}
	ev.Jejak.Data = map[string]string{"registry.tz_name": name, "registry.tz_iana": iana, "registry.tz_bias": bias}
	return ev
}

func TestMachineZone(t *testing.T) {
	jakarta, _ := time.LoadLocation("Asia/Jakarta")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	summer := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	winter := time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		ev       *timeline.Event
		caseZone *time.Location
		want     string // "" when they agree
	}{
		{"same offset, other IANA name", tzEvent("SE Asia Standard Time", "Asia/Bangkok", "-420", summer), jakarta, ""},
		{"case UTC", tzEvent("SE Asia Standard Time", "Asia/Bangkok", "-420", summer), time.UTC, "--tz Asia/Bangkok"},
		{"daylight saving in force", tzEvent("W. Europe Standard Time", "Europe/Berlin", "-60", summer), berlin, ""},
		{"Berlin machine, UTC+1 fixed case in summer", tzEvent("W. Europe Standard Time", "Europe/Berlin", "-60", summer), time.FixedZone("X", 3600), "1h0m0s off"},
		{"unknown name: fixed bias", tzEvent("Made Up Time", "", "-420", winter), time.UTC, "--tz Etc/GMT-7"},
		{"half hour, unknown name", tzEvent("Made Up India", "", "-330", winter), time.UTC, "no IANA zone known"},
	} {
		w, ok := MachineZone(tc.ev, tc.caseZone)
		if ok != (tc.want != "") || (ok && (!strings.Contains(w.Message, tc.want) || w.Kind != timeline.WarnZone)) {
			t.Errorf("%s: %v %q, want %q", tc.name, ok, w.Message, tc.want)
		}
	}
}
