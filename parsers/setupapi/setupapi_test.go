package setupapi

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

const devLog = "windows/logs/setupapi.dev.log"

func TestContract(t *testing.T) {
	parsertest.Contract(t, New(), parsertest.Corpus(t, devLog), "testdata/usb.dev.log", "testdata/setupapi.xp.log")
}

func sections(evs []*timeline.Event) []*timeline.Event {
	var out []*timeline.Event
	for _, ev := range evs {
		if ev.TimestampDesc == StartDesc {
			out = append(out, ev)
		}
	}
	return out
}

// Oracle: plaso tests/parsers/text_plugins/setupapi.py: 194 event data (one
// per section, with start and end time), 0 warnings; event data 28 is
// DiInstallDriver prnms003.inf, start 2016-10-12T03:36:30.936, end
// 03:36:30.998, SUCCESS. plaso's older tests/parsers/setupapi.py: first
// section starts 2015-11-22 17:59:28.110; the Teredo device section
// 2016-10-05 11:16:16.471 to 11:16:26.388; the last one, the USB flash
// disk seen through WPDBUSENUM, 2016-11-22 23:50:30.938 to 23:50:58.236.
// Both read the file in UTC, as this test does.
func TestPlasoDevLog(t *testing.T) {
	path := parsertest.Corpus(t, devLog)
	res := parsertest.ParseFile(t, New(), path, time.UTC)
	if res.Err != nil || len(res.Warnings) != 0 {
		t.Fatalf("err %v, %d warnings (plaso: 0): %v", res.Err, len(res.Warnings), res.Warnings)
	}
	secs := sections(res.Events)
	if len(secs) != 194 {
		t.Fatalf("%d sections, plaso 194", len(secs))
	}
	var nEnd, nBoot int
	for _, ev := range res.Events {
		switch ev.TimestampDesc {
		case EndDesc:
			nEnd++
		case BootDesc:
			nBoot++
		}
	}
	// Every section of this file is closed; the file holds 12 boot
	// session lines (grep -c 'Boot Session').
	if nEnd != 194 || nBoot != 12 || len(res.Events) != 194*2+12 {
		t.Errorf("%d end events, %d boot events, %d in all", nEnd, nBoot, len(res.Events))
	}
	ts := func(ev *timeline.Event) string { return ev.Timestamp.Format("2006-01-02 15:04:05.000") }
	if got := ts(secs[0]); got != "2015-11-22 17:59:28.110" {
		t.Errorf("first section %s", got)
	}
	s := secs[28]
	if s.Jejak.Data[KeySection] != `Device Install (DiInstallDriver) - C:\Windows\System32\DriverStore\FileRepository\prnms003.inf_x86_8f17aac186c70ea6\prnms003.inf` ||
		ts(s) != "2016-10-12 03:36:30.936" || s.Jejak.Data[KeyStatus] != "SUCCESS" || s.Event.Action != ActionSection || s.Jejak.Data[KeyID] != "" {
		t.Errorf("section 28: %s %q %v", ts(s), s.Event.Action, s.Jejak.Data)
	}
	// The end event follows its start in file order.
	var end28 *timeline.Event
	for i, ev := range res.Events {
		if ev == s {
			end28 = res.Events[i+1]
		}
	}
	if end28 == nil || end28.TimestampDesc != EndDesc || ts(end28) != "2016-10-12 03:36:30.998" || end28.Event.Outcome != "success" {
		t.Errorf("section 28 end: %+v", end28)
	}
	var teredo, flash *timeline.Event
	for _, ev := range secs {
		switch ev.Jejak.Data[KeyID] {
		case `SWD\IP_TUNNEL_VBUS\Teredo_Tunnel_Device`:
			teredo = ev
		case `SWD\WPDBUSENUM\_??_USBSTOR#Disk&Ven_Generic&Prod_Flash_Disk&Rev_8.07#99E2116A&0#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}`:
			flash = ev
		}
	}
	if teredo == nil || ts(teredo) != "2016-10-05 11:16:16.471" || teredo.Event.Action != ActionInstalled {
		t.Errorf("Teredo: %+v", teredo)
	}
	if flash == nil || flash != secs[193] || ts(flash) != "2016-11-22 23:50:30.938" {
		t.Fatalf("flash disk: %+v", flash)
	}
	d := flash.Jejak.Data
	if flash.Event.Action != ActionUSBFirst || d[KeySerial] != "99E2116A" || d[KeyVendor] != "Generic" || d[KeyProduct] != "Flash_Disk" {
		t.Errorf("flash disk: %q %v", flash.Event.Action, d)
	}
	last := res.Events[len(res.Events)-1]
	if ts(last) != "2016-11-22 23:50:58.236" || last.TimestampDesc != EndDesc {
		t.Errorf("last event %s %s", ts(last), last.TimestampDesc)
	}
	// Only the flash disk is a USB device in this file.
	var usb int
	for _, ev := range secs {
		if ev.Event.Action == ActionUSBFirst {
			usb++
		}
	}
	if usb != 1 {
		t.Errorf("%d USB first connections, want 1", usb)
	}
}

// The log is in the machine's local time: read in the case zone, recorded.
func TestLocalTimeZone(t *testing.T) {
	path := parsertest.Corpus(t, devLog)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	res := parsertest.ParseFile(t, New(), path, ny)
	ev := sections(res.Events)[0]
	if ev.Timestamp.Format(time.RFC3339Nano) != "2015-11-22T22:59:28.11Z" { // EST = UTC-5
		t.Errorf("time %s", ev.Timestamp)
	}
	if ev.Jejak.Time == nil || ev.Jejak.Time.ZoneAssumed != "America/New_York" || ev.Event.Timezone != "America/New_York" {
		t.Errorf("zone not recorded: %+v", ev.Jejak.Time)
	}
}

// testdata/usb.dev.log holds sections in the format Windows 10 writes for a
// USB flash drive: the USB device, its USBSTOR disk, a device without
// serial, and a section cut by the end of the file.
func TestUSBSections(t *testing.T) {
	res := parsertest.ParseFile(t, New(), "testdata/usb.dev.log", time.UTC)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	byID := map[string]*timeline.Event{}
	for _, ev := range sections(res.Events) {
		byID[ev.Jejak.Data[KeyID]] = ev
	}
	tests := []struct {
		id, action, serial, vendor, product, at string
	}{
		{`USB\VID_0781&PID_5567\4C530001230511116373`, ActionUSBFirst, "4C530001230511116373", "0781", "5567", "2024-02-14 19:03:11.520"},
		{`USBSTOR\Disk&Ven_SanDisk&Prod_Cruzer_Blade&Rev_1.00\4C530001230511116373&0`, ActionUSBFirst, "4C530001230511116373", "SanDisk", "Cruzer_Blade", "2024-02-14 19:03:13.047"},
		{`USB\VID_046D&PID_C52B&MI_00\7&2a5b1c3&0&0000`, ActionUSBFirst, "", "046D", "C52B", "2024-02-14 19:10:02.310"},
		{`HID\VID_046D&PID_C52B&MI_00\8&1d2e3f4&0&0000`, ActionInstalled, "", "", "", "2024-02-14 19:10:03.002"},
		{`USBSTOR\Disk&Ven_Kingston&Prod_DataTraveler_3.0&Rev_PMAP\60A44C413A8CF0B1E9590030&0`, ActionUSBFirst, "60A44C413A8CF0B1E9590030", "Kingston", "DataTraveler_3.0", "2024-02-15 02:41:09.884"},
	}
	for _, tc := range tests {
		ev := byID[tc.id]
		if ev == nil {
			t.Errorf("%s: no section", tc.id)
			continue
		}
		d := ev.Jejak.Data
		if ev.Event.Action != tc.action || d[KeySerial] != tc.serial || d[KeyVendor] != tc.vendor || d[KeyProduct] != tc.product ||
			ev.Timestamp.Format("2006-01-02 15:04:05.000") != tc.at || !strings.Contains(strings.Join(ev.Event.Category, ","), "host") {
			t.Errorf("%s: %s %q %v", tc.id, ev.Timestamp, ev.Event.Action, d)
		}
	}
	// The last section is cut: its start is an event and one warning says
	// so, at the section's header.
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0].Error(), "not closed") {
		t.Fatalf("warnings %v", res.Warnings)
	}
	data, _ := os.ReadFile("testdata/usb.dev.log")
	if w := res.Warnings[0]; w.Offset != int64(bytes.LastIndex(data, []byte(">>>  ["))) {
		t.Errorf("warning offset %d", w.Offset)
	}
}

// Damaged structure: a start line without a header, an end outside a
// section, a bad time; each is a warning naming its line, the rest is read.
func TestDamage(t *testing.T) {
	log := "[Device Install Log]\r\n" +
		">>>  Section start 2024/01/01 10:00:00.000\r\n" +
		"<<<  Section end 2024/01/01 10:00:01.000\r\n" +
		">>>  [Device Install (Hardware initiated) - USB\\VID_1234&PID_5678\\ABC123]\r\n" +
		">>>  Section start 2024/13/01 10:00:00.000\r\n" +
		"<<<  [Exit status: SUCCESS]\r\n" +
		">>>  [Enable Device Install]\r\n" +
		">>>  Section start 2024/01/02 10:00:00.000\r\n" +
		"<<<  Section end 2024/01/02 10:00:00.500\r\n" +
		"<<<  [Exit status: FAILURE(0xe0000219)]\r\n"
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("setupapi.dev.log", []byte(log), time.Time{}), time.UTC)
	if res.Err != nil || len(res.Events) != 2 || len(res.Warnings) != 4 {
		t.Fatalf("%v: %d events %d warnings %v", res.Err, len(res.Events), len(res.Warnings), res.Warnings)
	}
	for i, want := range []int64{2, 3, 5, 4} {
		if res.Warnings[i].Record != want {
			t.Errorf("warning %d at line %d, want %d: %v", i, res.Warnings[i].Record, want, res.Warnings[i])
		}
	}
	if end := res.Events[1]; end.Event.Outcome != "failure" || end.Jejak.Data[KeyStatus] != "FAILURE(0xe0000219)" {
		t.Errorf("end %+v", end.Event)
	}
}

func TestParseDeviceID(t *testing.T) {
	tests := []struct {
		id   string
		want Device
	}{
		{`USBSTOR\Disk&Ven_Generic&Prod_Flash_Disk&Rev_8.07\99E2116A&0`, Device{true, "99E2116A", "Generic", "Flash_Disk"}},
		{`USB\VID_0781&PID_5567\4C530001230511116373`, Device{true, "4C530001230511116373", "0781", "5567"}},
		{`USB\VID_0781&PID_5567&MI_00\6&1a2b3c4d&0&0000`, Device{true, "", "0781", "5567"}},
		{`usbstor\disk&ven_a&prod_b&rev_1\0&0`, Device{USB: true, Vendor: "a", Product: "b"}},
		{`SWD\WPDBUSENUM\{a8c8f55e-7b94-11e5-9c1a-806e6f6e6963}#0000000000100000`, Device{USB: true}},
		{`PCI\VEN_8086&DEV_100E&SUBSYS_001E8086&REV_02\3&267a616a&1&18`, Device{Vendor: "8086"}},
		{`ROOT\LEGACY_X\0000`, Device{}},
	}
	for _, tc := range tests {
		got := ParseDeviceID(tc.id)
		if tc.id[0] == 'P' {
			// A PCI ID is not USB: vendor may be read, but no USB flag.
			if got.USB {
				t.Errorf("%s: USB", tc.id)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.id, got, tc.want)
		}
	}
}

func TestMatch(t *testing.T) {
	p := New()
	for _, tc := range []struct {
		head string
		want bool
	}{
		{"[Device Install Log]\r\n     OS Version = 10.0\r\n", true},
		{"\xef\xbb\xbf[Device Install Log]\r\n", true},
		{"     dvi: x\r\n>>>  [Enable Device Install]\r\n>>>  Section start 2016/10/14 20:43:57.142\r\n", true},
		{">>>  Section start yesterday\r\n", false},
		{"Jan  1 00:00:00 host sshd[1]: x\n", false},
	} {
		if got := p.Match(nil, []byte(tc.head)); got != tc.want {
			t.Errorf("Match(%q) = %v", tc.head, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	data, err := os.ReadFile("testdata/usb.dev.log")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(">>>  [x]\n>>>  Section start 2024/01/01 00:00:00.000\n<<<  [Exit status: SUCCESS]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("setupapi.dev.log", b, time.Time{}), time.UTC)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		for _, ev := range res.Events {
			if ev.Jejak.Provenance.Offset < 0 || ev.Jejak.Provenance.Offset >= int64(len(b)) {
				t.Fatalf("offset %d outside %d bytes", ev.Jejak.Provenance.Offset, len(b))
			}
		}
	})
}

func BenchmarkDevLog(b *testing.B) {
	data, err := os.ReadFile(parsertest.Corpus(b, devLog))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("setupapi.dev.log", data, time.Time{}), time.UTC)
		if len(res.Events) == 0 {
			b.Fatal("no events")
		}
	}
}

// testdata/setupapi.xp.log is written in the Windows XP / Server 2003
// format (sections "[date time pid.n title]", "#I121 Device install of …"):
// three sections, a USB stick's disk and a volume installed.
func TestXPFormat(t *testing.T) {
	res := parsertest.ParseFile(t, New(), "testdata/setupapi.xp.log", time.UTC)
	if res.Err != nil || len(res.Warnings) != 0 {
		t.Fatalf("%v, warnings %v", res.Err, res.Warnings)
	}
	var secs, usb, other []*timeline.Event
	for _, ev := range res.Events {
		switch ev.Event.Action {
		case ActionSection:
			secs = append(secs, ev)
		case ActionUSBFirst:
			usb = append(usb, ev)
		case ActionInstalled:
			other = append(other, ev)
		}
	}
	if len(secs) != 3 || len(usb) != 1 || len(other) != 1 || len(res.Events) != 5 {
		t.Fatalf("%d sections, %d USB, %d other, %d in all", len(secs), len(usb), len(other), len(res.Events))
	}
	u := usb[0]
	d := u.Jejak.Data
	if u.Timestamp.Format(time.DateTime) != "2009-02-24 14:35:09" || d[KeySerial] != "0001234567890ABC" || d[KeyVendor] != "SANDISK" ||
		d[KeyProduct] != "CRUZER_MICRO" || d[KeySection] != "Driver Install" || !strings.Contains(u.Message, "#I124 Doing copy-only install") {
		t.Errorf("USB: %s %v %q", u.Timestamp, d, u.Message)
	}
	if !New().MatchLine(nil, []byte("[2009/02/24 14:35:09 1060.3 Driver Install]")) {
		t.Error("MatchLine rejects an XP section header")
	}
}
