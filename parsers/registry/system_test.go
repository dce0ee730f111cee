package registry

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/parsers/registry/registrytest"
	"github.com/jejak-forensics/jejak/timeline"
)

// buildSystem writes a SYSTEM hive with hivex (testdata/mksystem.py): a
// copy of the corpus SAM hive whose keys are replaced by a control set
// with a computer name, a time zone, services, interfaces, USB devices,
// MountedDevices and a real Windows 10 AppCompatCache value.
func buildSystem(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "SYSTEM")
	registrytest.WriteSystemHive(t, path)
	return path
}

func rip(t *testing.T, hive, plugin string) []string {
	oracle.Tool(t, "regripper", "regripper")
	return strings.Split(string(oracle.Output(t, "regripper", "-r", hive, "-p", plugin)), "\n")
}

func byAction(res parsertest.Result) map[string][]*timeline.Event {
	m := map[string][]*timeline.Event{}
	for _, ev := range res.Events {
		if ev.Event.Action != "" {
			m[ev.Event.Action] = append(m[ev.Event.Action], ev)
		}
	}
	return m
}

func sec(ev *timeline.Event) string { return ev.Timestamp.Format(time.DateTime) }

// TestSystemEqualsRegRipper: computer name, time zone, last shutdown,
// services, USB storage devices and ShimCache entries of a SYSTEM hive
// written by hivex equal RegRipper's compname, timezone, shutdown,
// services, usbstor and appcompatcache plugins.
func TestSystemEqualsRegRipper(t *testing.T) {
	hive := buildSystem(t)
	res := parsertest.ParseFile(t, New(), hive, nil)
	if res.Err != nil || len(res.Warnings) != 0 {
		t.Fatalf("%v %v", res.Err, res.Warnings)
	}
	got := byAction(res)
	if typ := res.Events[0].Jejak.Data["registry.hive"]; typ != TypeSYSTEM {
		t.Fatalf("hive type %q", typ)
	}

	t.Run("compname", func(t *testing.T) {
		for _, l := range rip(t, hive, "compname") {
			if _, v, ok := strings.Cut(l, "ComputerName    = "); ok {
				if evs := got["computer-name"]; len(evs) != 1 || evs[0].Host.Name != v {
					t.Errorf("computer name events %v, RegRipper %q", evs, v)
				}
				return
			}
		}
		t.Error("RegRipper printed no computer name")
	})

	t.Run("timezone", func(t *testing.T) {
		var bias, name string
		for _, l := range rip(t, hive, "timezone") {
			if _, v, ok := strings.Cut(l, "  Bias           -> "); ok {
				bias, _, _ = strings.Cut(v, " ")
			}
			if _, v, ok := strings.Cut(l, "TimeZoneKeyName-> "); ok {
				name = v
			}
		}
		evs := got["time-zone"]
		if len(evs) != 1 || evs[0].Jejak.Data["registry.tz_bias"] != bias || evs[0].Jejak.Data["registry.tz_name"] != name || bias == "" {
			t.Fatalf("time zone %v, RegRipper bias %q name %q", evs, bias, name)
		}
		f, _ := os.Open(hive)
		defer f.Close()
		st, _ := f.Stat()
		tz, err := ReadTimeZone(f, st.Size())
		if err != nil || tz.IANA != "Asia/Bangkok" || tz.UTCOffset() != 7*3600 || tz.Name != name {
			t.Errorf("ReadTimeZone: %+v, %v", tz, err)
		}
		if loc := tz.Location(); loc.String() != "Asia/Bangkok" {
			t.Errorf("Location %v", loc)
		}
		unknown := TimeZone{Name: "Made Up Standard Time", Bias: -330}
		if _, off := time.Date(2024, 1, 1, 0, 0, 0, 0, unknown.Location()).Zone(); off != 5*3600+1800 {
			t.Errorf("fixed zone offset %d", off)
		}
	})

	t.Run("shutdown", func(t *testing.T) {
		for _, l := range rip(t, hive, "shutdown") {
			if _, v, ok := strings.Cut(l, "ShutdownTime  : "); ok {
				evs := got["last-shutdown"]
				if len(evs) != 1 || sec(evs[0])+"Z" != v || evs[0].Timestamp.Nanosecond() == 0 {
					t.Errorf("shutdown %v, RegRipper %q", evs, v)
				}
				return
			}
		}
		t.Error("RegRipper printed no shutdown time")
	})

	t.Run("services", func(t *testing.T) {
		want := map[string][2]string{} // name → image, start
		var name string
		for _, l := range rip(t, hive, "services") {
			k, v, ok := strings.Cut(strings.TrimSpace(l), " = ")
			if !ok {
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			switch k {
			case "Name":
				name = v
			case "ImagePath":
				want[name] = [2]string{v, ""}
			case "Start":
				w := want[name]
				want[name] = [2]string{w[0], v}
			}
		}
		have := map[string][2]string{}
		for _, ev := range got["service"] {
			img := ""
			if ev.Process != nil {
				img = ev.Process.Executable
			}
			have[ev.Jejak.Data["registry.service_name"]] = [2]string{img, ev.Jejak.Data["registry.service_start"]}
		}
		for n, w := range want {
			if w[0] == "" {
				continue // RegRipper lists parameter-only keys (Tcpip) too
			}
			if have[n] != w {
				t.Errorf("service %s: %v, RegRipper %v", n, have[n], w)
			}
		}
		if len(have) != 3 {
			t.Errorf("%d services, want 3: %v", len(have), have)
		}
	})

	t.Run("usbstor", func(t *testing.T) {
		want := map[string]string{} // "id|action" → time
		names := map[string]string{}
		var dev, id string
		for _, l := range rip(t, hive, "usbstor") {
			tl := strings.TrimSpace(l)
			switch {
			case strings.HasPrefix(l, "Disk&"):
				dev, _, _ = strings.Cut(l, " [")
			case strings.HasPrefix(tl, "S/N: "):
				sn, _, _ := strings.Cut(strings.TrimPrefix(tl, "S/N: "), " [")
				id = `USBSTOR\` + dev + `\` + sn
			case strings.HasPrefix(tl, "FriendlyName"):
				_, names[id], _ = strings.Cut(tl, ": ")
			case strings.HasPrefix(tl, "First InstallDate"):
				_, v, _ := strings.Cut(tl, ": ")
				want[id+"|usb-device-first-connected"] = strings.TrimSuffix(v, "Z")
			case strings.HasPrefix(tl, "Last Arrival"):
				_, v, _ := strings.Cut(tl, ": ")
				want[id+"|usb-device-last-connected"] = strings.TrimSuffix(v, "Z")
			case strings.HasPrefix(tl, "Last Removal"):
				_, v, _ := strings.Cut(tl, ": ")
				want[id+"|usb-device-last-removed"] = strings.TrimSuffix(v, "Z")
			}
		}
		have := map[string]string{}
		win7 := 0
		for _, a := range []string{"usb-device-first-connected", "usb-device-last-connected", "usb-device-last-removed"} {
			for _, ev := range got[a] {
				d := ev.Jejak.Data
				if !strings.HasPrefix(d["device.id"], `USBSTOR\`) {
					continue
				}
				if d["device.vendor"] == "Verbatim" {
					// Windows 7's layout, which RegRipper's usbstor does not
					// read: the time mksystem.py wrote, 1707890000.
					if a != "usb-device-first-connected" || sec(ev) != "2024-02-14 05:53:20" || d["device.serial"] != "0701286A3C5B" {
						t.Errorf("Windows 7 device: %s %s %v", a, sec(ev), d)
					}
					win7++
					continue
				}
				have[d["device.id"]+"|"+a] = sec(ev)
				if ev.Event.Category[0] != "host" || d["device.name"] != names[d["device.id"]] ||
					!strings.HasPrefix(d["device.id"], `USBSTOR\Disk&Ven_`+d["device.vendor"]+`&Prod_`+d["device.product"]+`&`) ||
					!strings.HasSuffix(d["device.id"], `\`+d["device.serial"]+"&0") {
					t.Errorf("%s: data %v", a, d)
				}
			}
		}
		if win7 != 1 {
			t.Errorf("%d events of the Windows 7 device, want 1", win7)
		}
		if len(want) != 4 || fmt.Sprint(have) != fmt.Sprint(want) {
			t.Errorf("USBSTOR times %v, RegRipper %v", have, want)
		}
		// The USB bus entry of the same stick: its last connection.
		if evs := got["usb-device-last-connected"]; len(evs) != 2 {
			t.Errorf("%d last-connected events, want USBSTOR and USB", len(evs))
		}
	})

	t.Run("appcompatcache", func(t *testing.T) {
		// RegRipper converts FILETIMEs through floating point: a time on a
		// whole second can print one second early, so times are compared
		// to a second. It prints nothing for a zero time (packaged apps'
		// entries), which is the FILETIME epoch here, flagged out of range.
		want := map[string]string{}
		started := false
		for _, l := range rip(t, hive, "appcompatcache") {
			if strings.HasPrefix(l, "Signature:") {
				started = true
				continue
			}
			if i := strings.LastIndex(l, "  "); started && i > 0 {
				want[l[:i]] = l[i+2:]
			}
		}
		have := map[string]*timeline.Event{}
		for _, ev := range got["shimcache-entry"] {
			have[ev.File.Path] = ev
		}
		if len(want) < 10 || len(want) != len(have) {
			t.Errorf("%d ShimCache paths, RegRipper %d", len(have), len(want))
		}
		for p, w := range want {
			ev := have[p]
			if ev == nil {
				t.Errorf("missing %q", p)
				continue
			}
			if w == "" {
				if ev.Jejak.Time == nil || !ev.Jejak.Time.OutOfRange || ev.Timestamp.Year() != 1601 {
					t.Errorf("%q: %v, RegRipper no time", p, ev.Timestamp)
				}
				continue
			}
			rt, err := time.Parse(time.DateTime, w)
			if d := ev.Timestamp.Sub(rt); err != nil || d < 0 || d >= 2*time.Second {
				t.Errorf("%q: %v, RegRipper %s", p, ev.Timestamp, w)
			}
		}
	})

	t.Run("nic2", func(t *testing.T) {
		// Adapters with their address and DHCP lease times.
		want := map[string]bool{}
		adapter, ip := "", ""
		for _, l := range rip(t, hive, "nic2") {
			f := strings.Fields(l)
			switch {
			case len(f) == 2 && f[0] == "Adapter:":
				adapter = f[1]
			case len(f) == 2 && (f[0] == "IPAddress" || f[0] == "DhcpIPAddress"):
				ip = f[1]
				want[adapter+"|ip|"+ip] = true
			case len(f) == 3 && f[0] == "LeaseObtainedTime":
				want[adapter+"|dhcp-lease-obtained|"+f[1]+" "+strings.TrimSuffix(f[2], "Z")] = true
			case len(f) == 3 && f[0] == "LeaseTerminatesTime":
				want[adapter+"|dhcp-lease-expires|"+f[1]+" "+strings.TrimSuffix(f[2], "Z")] = true
			}
		}
		have := map[string]bool{}
		name := func(ev *timeline.Event) string {
			k := ev.Jejak.Data["registry.key"]
			return k[strings.LastIndexByte(k, '\\')+1:]
		}
		for _, ev := range got["network-interface"] {
			have[name(ev)+"|ip|"+ev.Jejak.Data["registry.ip"]] = true
		}
		for _, a := range []string{"dhcp-lease-obtained", "dhcp-lease-expires"} {
			for _, ev := range got[a] {
				have[name(ev)+"|"+a+"|"+sec(ev)] = true
			}
		}
		if len(want) != 4 || setOf(want) != setOf(have) {
			t.Errorf("interfaces %v, RegRipper %v", have, want)
		}
	})

	t.Run("mountdev", func(t *testing.T) {
		var sig, dev string
		for _, l := range rip(t, hive, "mountdev") {
			if v, ok := strings.CutPrefix(l, "  Drive Signature =  "); ok {
				sig = strings.ReplaceAll(v, " ", "")
			}
			if v, ok := strings.CutPrefix(l, "Device: "); ok {
				dev = v
			}
		}
		have := map[string]string{}
		for _, ev := range got["mounted-device"] {
			have[ev.Jejak.Data["registry.value"]] = ev.Jejak.Data["registry.mount_target"]
		}
		if len(have) != 2 || !strings.Contains(have[`\DosDevices\C:`], "signature "+sig+",") || have[`\DosDevices\E:`] != dev || sig == "" {
			t.Errorf("mounted devices %v, RegRipper signature %q device %q", have, sig, dev)
		}
	})
}
