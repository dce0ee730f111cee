package hunt

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// USB devices first connected after the cut-off (JEJAK-DEV-01). The event
// contract, shared by the SetupAPI log (parsers/setupapi) and the
// registry's device history: event.action usb-device-first-connected, with
// jejak.data device.id (the instance ID), device.serial (when the device
// has one), device.vendor and device.product. One device seen by several
// sources (its USB and its USBSTOR instance in setupapi.dev.log, the
// registry's USBSTOR key) is one finding: devices are keyed by serial
// when they have one, else by instance ID, and the earliest first
// connection any source gives is the device's.

const actionUSBFirst = "usb-device-first-connected"

type usbDevice struct {
	key              string
	first            time.Time
	ids              []string
	vendor, product  string
	serial           string
	storage          bool
	refs             []EventRef
	hosts, providers []string
}

type usbFirst struct {
	h    *hunter
	r    *Rule
	devs map[string]*usbDevice
}

func newUSBFirst(h *hunter, r *Rule) (analyzer, error) {
	return &usbFirst{h: h, r: r, devs: map[string]*usbDevice{}}, nil
}

// usbKey is the device's identity across sources: its serial without the
// LUN suffix USB storage adds ("99E2116A&0" is "99E2116A"), upper-cased;
// without a serial, or with one Windows made up because the device has
// none ("7&2a5b1c3&0&0000": its second character is '&', and a source may
// give it whole or not at all), its instance ID.
func usbKey(serial, id string) string {
	s := strings.ToUpper(strings.TrimSpace(serial))
	if len(s) >= 2 && s[1] == '&' {
		s = ""
	}
	if i := strings.LastIndexByte(s, '&'); i > 0 && isDigits(s[i+1:]) {
		s = s[:i]
	}
	if s != "" {
		return "serial:" + s
	}
	return "id:" + strings.ToUpper(strings.TrimSpace(id))
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

// usbStorage: the instance ID is a USB mass-storage disk or a portable
// device reached through one.
func usbStorage(id string) bool {
	u := strings.ToUpper(id)
	return strings.HasPrefix(u, `USBSTOR\`) || strings.Contains(u, `_??_USBSTOR#`) || strings.HasPrefix(u, `SWD\WPDBUSENUM\`)
}

func (a *usbFirst) wants() interest { return interest{actions: []string{actionUSBFirst}} }

func (a *usbFirst) observe(ev *timeline.Event) {
	if ev.Event.Action != actionUSBFirst {
		return
	}
	d := ev.Jejak.Data
	id, serial := d["device.id"], d["device.serial"]
	if id == "" && serial == "" {
		return
	}
	k := usbKey(serial, id)
	dev := a.devs[k]
	if dev == nil {
		dev = &usbDevice{key: k, first: ev.Timestamp}
		a.devs[k] = dev
	}
	if ev.Timestamp.Before(dev.first) {
		dev.first = ev.Timestamp
	}
	if id != "" && !slices.Contains(dev.ids, id) {
		dev.ids = append(dev.ids, id)
	}
	if usbStorage(id) {
		dev.storage = true
	}
	// A storage disk's vendor and product name the device better than
	// the USB bus's numeric VID/PID: they win.
	if v := d["device.vendor"]; v != "" && (dev.vendor == "" || usbStorage(id)) {
		dev.vendor = v
	}
	if p := d["device.product"]; p != "" && (dev.product == "" || usbStorage(id)) {
		dev.product = p
	}
	if serial != "" && dev.serial == "" && strings.HasPrefix(k, "serial:") {
		dev.serial = serial
	}
	if h := hostOf(ev); h != "" && !slices.Contains(dev.hosts, h) {
		dev.hosts = append(dev.hosts, h)
	}
	if p := ev.Jejak.Provenance.Parser; p != "" && !slices.Contains(dev.providers, p) {
		dev.providers = append(dev.providers, p)
	}
	dev.refs = append(dev.refs, a.h.ref(ev))
}

func (a *usbFirst) finish() []Finding {
	var out []Finding
	cut := a.h.cfg.After
	for _, dev := range a.devs {
		// Connected before the cut-off: the device belongs to the
		// server's history, not to what happened after the count.
		if !cut.IsZero() && dev.first.Before(cut) {
			continue
		}
		kind := "USB device"
		if dev.storage {
			kind = "USB storage device"
		}
		name := strings.TrimSpace(strings.ReplaceAll(dev.vendor+" "+dev.product, "_", " "))
		if name == "" {
			name = "unnamed"
		}
		serial := dev.serial
		if serial == "" {
			serial = "none (Windows generated the instance ID)"
		}
		var reasons []string
		sev := a.r.Severity
		switch {
		case cut.IsZero():
			sev = min(sev, Medium)
			reasons = append(reasons, "no cut-off given: every device's first connection is listed")
		case !dev.storage:
			sev = min(sev, Medium)
			reasons = append(reasons, "first connected after the cut-off "+ts(cut)+"; not known to be storage (no USBSTOR or portable-device instance)")
		default:
			reasons = append(reasons, "first connected after the cut-off "+ts(cut))
		}
		key := kind + " " + name + " serial " + dev.serial
		if dev.serial == "" {
			key = kind + " " + dev.ids[0]
		}
		slices.Sort(dev.providers)
		expl := fmt.Sprintf("%s %s (serial %s) first connected at %s; instance IDs: %s; recorded by %s; %s.",
			kind, name, serial, a.h.tsLocal(dev.first), strings.Join(dev.ids, ", "), strings.Join(dev.providers, ", "), strings.Join(reasons, "; "))
		if len(dev.hosts) > 0 {
			expl = fmt.Sprintf("On %s: %s", strings.Join(dev.hosts, ", "), expl)
		}
		f := newFinding(a.r, key, expl, dev.refs)
		f.Severity = sev
		f.Reasons = reasons
		if !dev.storage {
			f.Technique = "T1200"
		}
		out = append(out, f)
	}
	return out
}
