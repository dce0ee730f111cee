package hunt

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// plusEvents is a store with a few more events, standing for a source
// another parser reads (the registry's device history).
type plusEvents struct {
	Searcher
	extra []*timeline.Event
}

func (p plusEvents) Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	if err := p.Searcher.Search(ctx, q, fn); err != nil {
		return err
	}
	for _, ev := range p.extra {
		if !q.To.IsZero() && !ev.Timestamp.Before(q.To) {
			continue
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	return nil
}

func usbTestdata(t *testing.T) string {
	p, err := filepath.Abs("../../parsers/setupapi/testdata/usb.dev.log")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The plaso sample's only USB device is a flash disk first installed on
// 2016-11-22 23:50:30.938 (plaso tests/parsers/setupapi.py, its last
// section); usb.dev.log (written in the SetupAPI format) adds a SanDisk
// stick seen as its USB and its USBSTOR instance, a Logitech receiver with
// no serial, an HID device (not USB) and a Kingston stick the next day.
func TestUSBFirstConnected(t *testing.T) {
	st := buildCase(t, parsertest.Corpus(t, "windows/logs/setupapi.dev.log"), usbTestdata(t))
	cut := time.Date(2024, 2, 14, 19, 5, 0, 0, time.UTC)
	fs := byRule(hunt(t, st, Config{After: cut}), "JEJAK-DEV-01")
	// After 19:05: the Logitech receiver (USB, not storage: medium) and
	// the Kingston stick (high). The SanDisk stick (19:03) and the 2016
	// flash disk are before the cut-off.
	if len(fs) != 2 {
		for _, f := range fs {
			t.Log(f.Severity, f.Explanation)
		}
		t.Fatalf("%d findings, want 2", len(fs))
	}
	var kingston, logi *Finding
	for i := range fs {
		switch {
		case strings.Contains(fs[i].Explanation, "Kingston"):
			kingston = &fs[i]
		case strings.Contains(fs[i].Explanation, "VID_046D"):
			logi = &fs[i]
		}
	}
	if kingston == nil || kingston.Severity != High || !strings.Contains(kingston.Explanation, "serial 60A44C413A8CF0B1E9590030") ||
		!strings.Contains(kingston.Explanation, "2024-02-15T02:41:09Z") || kingston.Technique != "T1052.001" || len(kingston.Events) != 1 {
		t.Errorf("Kingston: %+v", kingston)
	}
	if logi == nil || logi.Severity != Medium || logi.Technique != "T1200" {
		t.Errorf("Logitech receiver: %+v", logi)
	}

	// Without a cut-off every USB device is listed, at most medium; the
	// SanDisk stick's USB and USBSTOR instances are one device.
	fs = byRule(hunt(t, st, Config{}), "JEJAK-DEV-01")
	if len(fs) != 4 {
		t.Fatalf("no cut-off: %d findings, want 4 (2016 flash disk, SanDisk, Logitech, Kingston)", len(fs))
	}
	for _, f := range fs {
		if f.Severity > Medium {
			t.Errorf("no cut-off, %s: %s", f.Severity, f.Explanation)
		}
		if strings.Contains(f.Explanation, "SanDisk") && (len(f.Events) != 2 || !strings.Contains(f.Explanation, `USB\VID_0781&PID_5567`) ||
			!strings.Contains(f.Explanation, "Cruzer Blade") || !f.First.Equal(time.Date(2024, 2, 14, 19, 3, 11, 520e6, time.UTC))) {
			t.Errorf("SanDisk: %d rows, %s", len(f.Events), f.Explanation)
		}
	}
}

// A registry record of the same stick (its USBSTOR key name, "&0" and all)
// joins the SetupAPI finding: one device, one finding, the earliest first
// connection of the two.
func TestUSBDedupeAcrossSources(t *testing.T) {
	st := buildCase(t, usbTestdata(t))
	reg := &timeline.Event{
		Timestamp:     time.Date(2024, 2, 15, 2, 41, 10, 0, time.UTC),
		TimestampDesc: "First Connected",
		Message:       "USBSTOR device first connected",
		Event:         timeline.EventMeta{Kind: "event", Category: []string{"host"}, Action: "usb-device-first-connected"},
		Jejak: timeline.Jejak{Provenance: timeline.Provenance{Parser: "winreg", Path: "SYSTEM"},
			Data: map[string]string{"device.id": `USBSTOR\Disk&Ven_Kingston&Prod_DataTraveler_3.0&Rev_PMAP\60A44C413A8CF0B1E9590030&0`,
				"device.serial": "60A44C413A8CF0B1E9590030&0", "device.vendor": "Kingston", "device.product": "DataTraveler_3.0"}},
	}
	reg.Finalize()
	cut := time.Date(2024, 2, 15, 0, 0, 0, 0, time.UTC)
	all, err := Hunt(context.Background(), plusEvents{st, []*timeline.Event{reg}}, Config{After: cut})
	if err != nil {
		t.Fatal(err)
	}
	fs := byRule(all, "JEJAK-DEV-01")
	if len(fs) != 1 {
		t.Fatalf("%d findings, want 1", len(fs))
	}
	f := fs[0]
	if len(f.Events) != 2 || !f.First.Equal(time.Date(2024, 2, 15, 2, 41, 9, 884e6, time.UTC)) || f.Severity != High ||
		!strings.Contains(f.Explanation, "setupapi, winreg") {
		t.Errorf("%d rows, first %s: %s", len(f.Events), f.First, f.Explanation)
	}
}

func TestUSBKey(t *testing.T) {
	for _, tc := range []struct{ serial, id, want string }{
		{"99E2116A&0", "x", "serial:99E2116A"},
		{"99e2116a", "y", "serial:99E2116A"},
		{"", `usb\vid_1&pid_2\7&1a&0&1`, `id:USB\VID_1&PID_2\7&1A&0&1`},
		{"AB&CD", "", "serial:AB&CD"},
		// Made up by Windows: the registry gives it whole, setupapi none.
		{"7&2a5b1c3&0&0000", `USB\VID_046D&PID_C52B&MI_00\7&2a5b1c3&0&0000`, `id:USB\VID_046D&PID_C52B&MI_00\7&2A5B1C3&0&0000`},
		{"", `USB\VID_046D&PID_C52B&MI_00\7&2a5b1c3&0&0000`, `id:USB\VID_046D&PID_C52B&MI_00\7&2A5B1C3&0&0000`},
	} {
		if got := usbKey(tc.serial, tc.id); got != tc.want {
			t.Errorf("usbKey(%q, %q) = %q, want %q", tc.serial, tc.id, got, tc.want)
		}
	}
}
