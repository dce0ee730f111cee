// Package setupapi parses the Windows SetupAPI text logs (setupapi.dev.log,
// setupapi.app.log, setupapi.setup.log, Windows Vista and later). Each
// operation is a section:
//
//	>>>  [Device Install (Hardware initiated) - USB\VID_0781&PID_5567\4C53000]
//	>>>  Section start 2016/11/22 23:50:30.938
//	     ... body lines ...
//	<<<  Section end 2016/11/22 23:50:58.236
//	<<<  [Exit status: SUCCESS]
//
// A section becomes two events, its start and its end, as plaso's setupapi
// plugin gives one event data with a start and an end time. A "Device
// Install" section in setupapi.dev.log is written when Windows first
// installs a driver for a device instance, so its start is the device's
// first connection: for USB, USB storage and portable (WPD) devices the
// start event's action is usb-device-first-connected, with the instance ID,
// serial, vendor and product in jejak.data; other devices are
// device-installed. "[Boot Session: …]" lines are events too.
//
// Windows XP and Server 2003 write setupapi.log in an older form: sections
// headed "[2009/02/24 14:35:09 1060.3 Driver Install]" whose lines have no
// time; each section is an event at its time, and each device instance it
// installs ("#I121 Device install of "USBSTOR\…" finished successfully")
// another, with the same actions and keys as above.
//
// The log has no zone: it is written in the machine's local time, read in
// the case zone, and every event records that the zone was assumed.
package setupapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/lines"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the stable parser name.
const Name = "setupapi"

// Time descriptions, after plaso's definitions.
const (
	StartDesc = "Section Start Time"
	EndDesc   = "Section End Time"
	BootDesc  = "Boot Session Start Time"
)

// Event actions. ActionUSBFirst and ActionInstalled are the contract the
// USB hunting analyzer reads (casework/hunt/usb.go), shared with the
// registry's device history.
const (
	ActionUSBFirst  = "usb-device-first-connected"
	ActionInstalled = "device-installed"
	ActionSection   = "setupapi-section-start"
	ActionEnd       = "setupapi-section-end"
	ActionBoot      = "boot-session-start"
)

// Data keys.
const (
	KeySection = "setupapi.section"
	KeyStatus  = "setupapi.exit_status"
	KeyID      = "device.id"
	KeySerial  = "device.serial"
	KeyVendor  = "device.vendor"
	KeyProduct = "device.product"
)

const stampLayout = "2006/01/02 15:04:05.000"

var (
	hdrPrefix   = []byte(">>>  [")
	startPrefix = []byte(">>>  Section start ")
	endPrefix   = []byte("<<<  Section end ")
	exitPrefix  = []byte("<<<  [Exit status: ")
	bootPrefix  = []byte("[Boot Session: ")
)

// Parser reads SetupAPI text logs.
type Parser struct{}

var (
	_ parsers.Parser      = (*Parser)(nil)
	_ parsers.LineMatcher = (*Parser)(nil)
)

// New returns the SetupAPI log parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// Match accepts the header every SetupAPI log of Vista and later starts
// with, or a head holding a section start line (a log cut at rotation).
func (p *Parser) Match(e *jfs.Entry, head []byte) bool {
	head = bytes.TrimPrefix(head, []byte{0xEF, 0xBB, 0xBF})
	if bytes.HasPrefix(head, []byte("[Device Install Log]")) || bytes.HasPrefix(head, []byte("[SetupAPI Log]")) {
		return true
	}
	if !mayHoldSection(head) {
		return false
	}
	for len(head) > 0 {
		var line []byte
		var found bool
		line, head, found = bytes.Cut(head, []byte("\n"))
		if !found {
			break // a cut line is not judged
		}
		if p.MatchLine(e, bytes.TrimSuffix(line, []byte("\r"))) {
			return true
		}
	}
	return false
}

// mayHoldSection is false for a head none of whose lines MatchLine can
// take: such a line starts with startPrefix, endPrefix, or '[' and a
// digit. Searches for bytes rare in text ('>', '<', '[') over the head
// instead of a cut and three tests per line: most heads of an image are
// no SetupAPI log (FuzzMatchPrecheck holds Match to the loop alone).
func mayHoldSection(head []byte) bool {
	// Each prefix starts with a byte rarer than its search is cheap: a
	// head without it is not searched for the prefix.
	if bytes.IndexByte(head, startPrefix[0]) >= 0 && bytes.Contains(head, startPrefix) ||
		bytes.IndexByte(head, endPrefix[0]) >= 0 && bytes.Contains(head, endPrefix) {
		return true
	}
	for i := 0; ; {
		j := bytes.IndexByte(head[i:], '[')
		if j < 0 {
			return false
		}
		i += j + 1
		if i < len(head) && (i == 1 || head[i-2] == '\n') && '0' <= head[i] && head[i] <= '9' {
			return true
		}
	}
}

// MatchLine implements parsers.LineMatcher: the section start and end lines
// carry a time no other log writes that way, as do an XP log's section
// headers.
func (*Parser) MatchLine(_ *jfs.Entry, line []byte) bool {
	// xpHeaderRe starts `^\[\d`: only such a line is given to it (the
	// regexp, with its submatches, is most of the cost of a line of
	// another log). FuzzMatchLinePrecheck compares with the regexp alone.
	if len(line) > 1 && line[0] == '[' && '0' <= line[1] && line[1] <= '9' {
		if m := xpHeaderRe.FindSubmatch(line); m != nil {
			_, err := time.Parse("2006/01/02 15:04:05", string(m[1]))
			return err == nil
		}
	}
	for _, p := range [][]byte{startPrefix, endPrefix} {
		if bytes.HasPrefix(line, p) {
			_, err := time.Parse(stampLayout, strings.TrimSpace(string(line[len(p):])))
			return err == nil
		}
	}
	return false
}

// section is one open section.
type section struct {
	title     string
	off, num  int64 // header line
	start     time.Time
	hasStart  bool
	end       time.Time
	hasEnd    bool
	endOff    int64
	endNum    int64
	status    string
	statusOff int64
	statusNum int64
}

// Parse implements parsers.Parser.
func (*Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	zone := src.Zone
	if zone == nil {
		zone = time.UTC
	}
	warnAt := func(off, num int64, e error) {
		src.WarnErr(off, num, e)
	}
	var cur *section
	var xp *xpSection // the open section of an XP log
	// flush emits the open section, warning when it was not closed.
	flush := func(why string) error {
		s := cur
		cur = nil
		if s == nil {
			return nil
		}
		if !s.hasStart {
			warnAt(s.off, s.num, fmt.Errorf("section %q has no \"Section start\" line (%s)", s.title, why))
			return nil
		}
		if !s.hasEnd && s.status == "" {
			warnAt(s.off, s.num, fmt.Errorf("section %q not closed (%s): its start is an event, it has no end", s.title, why))
		}
		for _, ev := range sectionEvents(s, zone) {
			if err := emit(ev); err != nil {
				return err
			}
		}
		return nil
	}
	lr := lines.NewReader(src.R)
	for {
		line, off, num, err := lr.Next()
		if err == io.EOF {
			return flush("the file ends")
		}
		if num%256 == 1 {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
		}
		if errors.Is(err, lines.ErrTooLong) {
			warnAt(off, num, err)
			continue
		}
		if err != nil {
			return err
		}
		if num == 1 {
			line = bytes.TrimPrefix(line, []byte{0xEF, 0xBB, 0xBF})
		}
		switch {
		case bytes.HasPrefix(line, hdrPrefix):
			if err := flush("a new section starts"); err != nil {
				return err
			}
			title := strings.TrimSpace(string(line[len(hdrPrefix):]))
			title = strings.TrimSuffix(title, "]")
			cur = &section{title: title, off: off, num: num}
		case bytes.HasPrefix(line, startPrefix):
			t, perr := time.ParseInLocation(stampLayout, strings.TrimSpace(string(line[len(startPrefix):])), zone)
			switch {
			case perr != nil:
				warnAt(off, num, fmt.Errorf("bad section start time: %w", perr))
			case cur == nil || cur.hasStart:
				warnAt(off, num, errors.New("\"Section start\" line without a section header"))
			default:
				cur.start, cur.hasStart = t, true
			}
		case bytes.HasPrefix(line, endPrefix):
			t, perr := time.ParseInLocation(stampLayout, strings.TrimSpace(string(line[len(endPrefix):])), zone)
			switch {
			case perr != nil:
				warnAt(off, num, fmt.Errorf("bad section end time: %w", perr))
			case cur == nil:
				warnAt(off, num, errors.New("\"Section end\" line outside a section"))
			default:
				cur.end, cur.hasEnd, cur.endOff, cur.endNum = t, true, off, num
			}
		case bytes.HasPrefix(line, exitPrefix):
			if cur == nil {
				warnAt(off, num, errors.New("exit status outside a section"))
				continue
			}
			st := strings.TrimSuffix(strings.TrimSpace(string(line[len(exitPrefix):])), "]")
			cur.status, cur.statusOff, cur.statusNum = st, off, num
			if err := flush(""); err != nil {
				return err
			}
		case bytes.HasPrefix(line, bootPrefix):
			s := strings.TrimSuffix(strings.TrimSpace(string(line[len(bootPrefix):])), "]")
			t, perr := time.ParseInLocation(stampLayout, s, zone)
			if perr != nil {
				warnAt(off, num, fmt.Errorf("bad boot session time: %w", perr))
				continue
			}
			ev := newEvent(t, BootDesc, zone, off, num)
			ev.Event.Action = ActionBoot
			ev.Event.Type = []string{"start"}
			ev.Message = "Boot session " + s
			if err := emit(ev); err != nil {
				return err
			}
		case xpHeaderRe.Match(line):
			// Windows XP / Server 2003 setupapi.log: a section is
			// "[2009/02/24 14:35:09 1060.3 Driver Install]" and its lines
			// carry no time of their own.
			m := xpHeaderRe.FindSubmatch(line)
			t, perr := time.ParseInLocation("2006/01/02 15:04:05", string(m[1]), zone)
			if perr != nil {
				warnAt(off, num, fmt.Errorf("bad section time: %w", perr))
				xp = nil
				continue
			}
			title := string(m[3])
			if title == "" {
				title = "SetupAPI section" // a class or service install names none
			}
			xp = &xpSection{t: t, title: title, seen: map[string]bool{}}
			ev := newEvent(t, StartDesc, zone, off, num)
			ev.Event.Action = ActionSection
			ev.Event.Type = []string{"start"}
			ev.Jejak.Data = map[string]string{KeySection: xp.title}
			ev.Message = xp.title + " (process " + string(m[2]) + ")"
			if err := emit(ev); err != nil {
				return err
			}
		case xp != nil && xpInstallRe.Match(line):
			id := string(xpInstallRe.FindSubmatch(line)[1])
			if xp.seen[strings.ToUpper(id)] {
				continue
			}
			xp.seen[strings.ToUpper(id)] = true
			ev := newEvent(xp.t, StartDesc, zone, off, num)
			data := map[string]string{KeySection: xp.title, KeyID: id}
			ev.Event.Action = ActionInstalled
			if d := ParseDeviceID(id); d.USB {
				ev.Event.Action = ActionUSBFirst
				for k, v := range map[string]string{KeySerial: d.Serial, KeyVendor: d.Vendor, KeyProduct: d.Product} {
					if v != "" {
						data[k] = v
					}
				}
			}
			ev.Event.Type = []string{"installation", "start"}
			ev.Jejak.Data = data
			ev.Message = xp.title + ": " + strings.TrimSpace(string(line))
			if err := emit(ev); err != nil {
				return err
			}
		}
		// Every other line is a section's body or the file's header: part
		// of a record, not one by itself.
	}
}

// The Windows XP / Server 2003 format (setupapi.log).
var (
	xpHeaderRe = regexp.MustCompile(`^\[(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) (\d+\.\d+)(?: (.*?))?\]\s*$`)
	// "#I121 Device install of "USBSTOR\DISK&…\0001&0" finished
	// successfully.", "#I123 Doing full install of "…"." and "#I124 Doing
	// copy-only install of "…"." name the device instance.
	xpInstallRe = regexp.MustCompile(`^#I12[134] (?:Device install of|Doing full install of|Doing copy-only install of) "([^"]+)"`)
)

type xpSection struct {
	t     time.Time
	title string
	seen  map[string]bool
}

func newEvent(t time.Time, desc string, zone *time.Location, off, num int64) *timeline.Event {
	ev := &timeline.Event{
		Timestamp:     t.UTC(),
		TimestampDesc: desc,
		Event: timeline.EventMeta{Kind: "event", Category: []string{"host"},
			Dataset: "windows.setupapi", Provider: "SetupAPI"},
	}
	ev.Event.Timezone = zone.String()
	ev.Jejak.Time = &timeline.TimeNote{ZoneAssumed: zone.String()}
	parsers.At(ev, off, num)
	return ev
}

// sectionEvents turns a section into its start event and, when it has an
// end time, its end event.
func sectionEvents(s *section, zone *time.Location) []*timeline.Event {
	data := map[string]string{KeySection: s.title}
	if s.status != "" {
		data[KeyStatus] = s.status
	}
	action := ActionSection
	if id, ok := deviceID(s.title); ok {
		data[KeyID] = id
		action = ActionInstalled
		d := ParseDeviceID(id)
		if d.USB {
			action = ActionUSBFirst
		}
		for k, v := range map[string]string{KeySerial: d.Serial, KeyVendor: d.Vendor, KeyProduct: d.Product} {
			if v != "" {
				data[k] = v
			}
		}
	}
	outcome := ""
	switch {
	case strings.HasPrefix(s.status, "SUCCESS"):
		outcome = "success"
	case s.status != "":
		outcome = "failure"
	}
	start := newEvent(s.start, StartDesc, zone, s.off, s.num)
	start.Event.Action = action
	start.Event.Type = []string{"start"}
	if action != ActionSection {
		start.Event.Type = []string{"installation", "start"}
	}
	start.Jejak.Data = data
	start.Message = s.title
	if s.status != "" {
		start.Message += " [" + s.status + "]"
	}
	evs := []*timeline.Event{start}
	if s.hasEnd {
		end := newEvent(s.end, EndDesc, zone, s.endOff, s.endNum)
		end.Event.Action = ActionEnd
		end.Event.Type = []string{"end"}
		end.Event.Outcome = outcome
		end.Jejak.Data = maps(data)
		end.Message = s.title + " [" + strings.TrimSpace("end "+s.status) + "]"
		evs = append(evs, end)
	} else if s.status != "" {
		// An exit status without an end time: the outcome belongs to
		// the start event.
		start.Event.Outcome = outcome
	}
	return evs
}

func maps(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// deviceID returns the device instance ID of a "Device Install (…) - ID"
// section. A driver package installed by path (DiInstallDriver names an
// INF file) is no device.
func deviceID(title string) (string, bool) {
	if !strings.HasPrefix(title, "Device Install (") {
		return "", false
	}
	_, id, ok := strings.Cut(title, ") - ")
	id = strings.TrimSpace(id)
	if !ok || id == "" || strings.Contains(id, `:\`) || strings.HasSuffix(strings.ToLower(id), ".inf") {
		return "", false
	}
	return id, true
}

// Device is what a device instance ID says about the device.
type Device struct {
	// USB is set for USB, USB storage and portable devices reached
	// through USB storage (SWD\WPDBUSENUM).
	USB bool
	// Serial is the device's own serial number, empty when Windows made
	// the instance ID up (its second character is '&').
	Serial          string
	Vendor, Product string
}

// ParseDeviceID reads a device instance ID such as
// USBSTOR\Disk&Ven_Generic&Prod_Flash_Disk&Rev_8.07\99E2116A&0,
// USB\VID_0781&PID_5567\4C530001230511116373 or
// SWD\WPDBUSENUM\_??_USBSTOR#Disk&Ven_…#99E2116A&0#{53f56307-…}.
func ParseDeviceID(id string) Device {
	var d Device
	parts := strings.Split(id, `\`)
	upper := strings.ToUpper(id)
	switch {
	case strings.HasPrefix(upper, `SWD\WPDBUSENUM\`):
		d.USB = true
		// The WPD bus names the storage device in its last part, '#'
		// standing for '\': _??_USBSTOR#Disk&Ven_…#serial#{class}.
		inner := parts[len(parts)-1]
		inner = strings.TrimPrefix(inner, "_??_")
		sub := strings.Split(inner, "#")
		if len(sub) >= 3 && (strings.EqualFold(sub[0], "USBSTOR") || strings.EqualFold(sub[0], "USB")) {
			d.Vendor, d.Product = vendorProduct(sub[1])
			d.Serial = serial(sub[2], strings.EqualFold(sub[0], "USBSTOR"))
		}
	case strings.HasPrefix(upper, `USBSTOR\`), strings.HasPrefix(upper, `USB\`):
		d.USB = true
		if len(parts) >= 2 {
			d.Vendor, d.Product = vendorProduct(parts[1])
		}
		if len(parts) >= 3 {
			d.Serial = serial(parts[2], strings.HasPrefix(upper, `USBSTOR\`))
		}
	}
	return d
}

// serial returns the serial in an instance ID's last part, dropping the
// LUN suffix USB storage adds ("99E2116A&0"), or "" when Windows generated
// the part because the device reports no serial ("7&2a5b1c3&0&1").
func serial(s string, storage bool) string {
	if len(s) < 2 || s[1] == '&' || strings.HasPrefix(s, "{") {
		return ""
	}
	if storage {
		if i := strings.LastIndexByte(s, '&'); i > 0 && isDigits(s[i+1:]) {
			s = s[:i]
		}
	}
	if strings.Contains(s, "&") {
		return ""
	}
	return s
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// vendorProduct reads "Disk&Ven_Generic&Prod_Flash_Disk&Rev_8.07" or
// "VID_0781&PID_5567&MI_00".
func vendorProduct(s string) (vendor, product string) {
	for _, f := range strings.Split(s, "&") {
		k, v, ok := strings.Cut(f, "_")
		if !ok {
			continue
		}
		switch strings.ToUpper(k) {
		case "VEN", "VID":
			vendor = v
		case "PROD", "PID":
			product = v
		}
	}
	return vendor, product
}
