package registry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/timeline"
)

// ControlSet returns the control set Windows booted with (Select\Current)
// and its path: ControlSet001 when Select is missing, CurrentControlSet in
// a hive exported from a live system.
func ControlSet(h *Hive, root *Key) (*Key, string) {
	if sel := h.Lookup(root, "Select"); sel != nil {
		if n, ok := valUint(h.ValueMap(sel), "Current"); ok && n > 0 && n < 1000 {
			name := fmt.Sprintf("ControlSet%03d", n)
			if k := h.Lookup(root, name); k != nil {
				return k, `\` + name
			}
		}
	}
	for _, name := range []string{"ControlSet001", "CurrentControlSet"} {
		if k := h.Lookup(root, name); k != nil {
			return k, `\` + name
		}
	}
	return nil, ""
}

// TimeZone is a SYSTEM hive's TimeZoneInformation.
type TimeZone struct {
	// Name is TimeZoneKeyName (Windows Vista and later: "SE Asia Standard
	// Time"), or StandardName on older systems.
	Name         string
	StandardName string
	DaylightName string
	// IANA is the IANA zone Unicode CLDR maps Name to for its territory
	// "001", "" when the table here does not know it.
	IANA string
	// Bias is minutes west of UTC (UTC = local + Bias), as Windows stores
	// it: -420 for UTC+7. ActiveTimeBias includes daylight saving when it
	// was in force at the last write.
	Bias, ActiveTimeBias, DaylightBias int32
	// DynamicDaylightDisabled: "automatically adjust for daylight saving"
	// switched off.
	DynamicDaylightDisabled bool
	Written                 ntfs.Filetime
	keyPath                 string
	offset                  int64
}

// Location is the zone to read the system's local times in: the IANA
// zone when known and loadable (daylight saving rules included), else a
// fixed zone at the standard bias, named after Windows' zone.
func (tz TimeZone) Location() *time.Location {
	if tz.IANA != "" {
		if loc, err := time.LoadLocation(tz.IANA); err == nil {
			return loc
		}
	}
	name := tz.Name
	if name == "" {
		name = "UTC" + offsetString(tz.UTCOffset())
	}
	return time.FixedZone(name, tz.UTCOffset())
}

// UTCOffset is the standard offset east of UTC, in seconds.
func (tz TimeZone) UTCOffset() int { return -int(tz.Bias) * 60 }

// ErrNoTimeZone is returned by TimeZoneOf for a hive without one.
var ErrNoTimeZone = errors.New("no TimeZoneInformation key")

// TimeZoneOf reads the time zone of a SYSTEM hive.
func TimeZoneOf(h *Hive) (TimeZone, error) {
	root, err := h.Root()
	if err != nil {
		return TimeZone{}, err
	}
	cs, csPath := ControlSet(h, root)
	if cs == nil {
		return TimeZone{}, fmt.Errorf("%w: no control set", ErrNoTimeZone)
	}
	k := h.Lookup(cs, `Control\TimeZoneInformation`)
	if k == nil {
		return TimeZone{}, ErrNoTimeZone
	}
	m := h.ValueMap(k)
	tz := TimeZone{
		StandardName: valStr(m, "StandardName"), DaylightName: valStr(m, "DaylightName"),
		Name: valStr(m, "TimeZoneKeyName"), Written: k.Written,
		keyPath: csPath + `\Control\TimeZoneInformation`, offset: k.Offset,
	}
	if tz.Name == "" {
		tz.Name = tz.StandardName
	}
	if n, ok := valUint(m, "Bias"); ok {
		tz.Bias = int32(uint32(n))
	}
	if n, ok := valUint(m, "ActiveTimeBias"); ok {
		tz.ActiveTimeBias = int32(uint32(n))
	}
	if n, ok := valUint(m, "DaylightBias"); ok {
		tz.DaylightBias = int32(uint32(n))
	}
	if n, ok := valUint(m, "DynamicDaylightTimeDisabled"); ok {
		tz.DynamicDaylightDisabled = n != 0
	}
	tz.IANA = windowsZones[tz.Name]
	return tz, nil
}

// ReadTimeZone reads the time zone of the SYSTEM hive in r (size bytes):
// the hook for reading an image's other logs in the zone its Windows kept.
func ReadTimeZone(r io.ReaderAt, size int64) (TimeZone, error) {
	if size < baseBlockSize || size > maxHive {
		return TimeZone{}, fmt.Errorf("registry: %w: %d bytes", ErrNotHive, size)
	}
	b := make([]byte, size)
	if n, err := r.ReadAt(b, 0); int64(n) < size && err != nil {
		return TimeZone{}, err
	}
	h, err := Open(b)
	if err != nil {
		return TimeZone{}, err
	}
	return TimeZoneOf(h)
}

// system decodes a SYSTEM hive.
func (w *walker) system(root *Key) error {
	h := w.hive
	cs, csPath := ControlSet(h, root)
	if cs == nil {
		w.warn(root.Offset, errors.New("SYSTEM: no control set (Select\\Current, ControlSet001): nothing decoded"))
		return nil
	}
	steps := []func(*Key, string) error{w.computerName, w.timeZone, w.shutdown, w.services, w.interfaces, w.usbDevices, w.shimCache}
	for _, f := range steps {
		if err := f(cs, csPath); err != nil {
			return err
		}
	}
	return w.mountedDevices(root)
}

func (w *walker) computerName(cs *Key, csPath string) error {
	k := w.hive.Lookup(cs, `Control\ComputerName\ComputerName`)
	if k == nil {
		return nil
	}
	v := w.hive.ValueMap(k)["computername"]
	if v == nil {
		return nil
	}
	name := v.String()
	return w.emitFinding(finding{when: k.Written, desc: TimestampDesc, msg: "Computer name: " + name,
		key: csPath + `\Control\ComputerName\ComputerName`, off: v.Offset, dataset: "windows.registry.system",
		action: "computer-name", host: &timeline.Host{Name: name, Hostname: name},
		data: map[string]string{"registry.value": "ComputerName"}})
}

func (w *walker) timeZone(cs *Key, csPath string) error {
	tz, err := TimeZoneOf(w.hive)
	if err != nil {
		return nil
	}
	iana := tz.IANA
	if iana == "" {
		iana = "not in jejak's table"
	}
	msg := fmt.Sprintf("Time zone: %s (IANA %s), bias %d min (UTC%s), active bias %d min", tz.Name, iana, tz.Bias, offsetString(tz.UTCOffset()), tz.ActiveTimeBias)
	if tz.DynamicDaylightDisabled {
		msg += ", daylight saving adjustment off"
	}
	return w.emitFinding(finding{when: tz.Written, desc: TimestampDesc, msg: msg, key: tz.keyPath, off: tz.offset,
		dataset: "windows.registry.system", action: "time-zone",
		data: map[string]string{"registry.tz_name": tz.Name, "registry.tz_iana": tz.IANA,
			"registry.tz_bias": strconv.Itoa(int(tz.Bias)), "registry.tz_active_bias": strconv.Itoa(int(tz.ActiveTimeBias))}})
}

func offsetString(sec int) string {
	sign := "+"
	if sec < 0 {
		sign, sec = "-", -sec
	}
	return fmt.Sprintf("%s%02d:%02d", sign, sec/3600, sec/60%60)
}

func (w *walker) shutdown(cs *Key, csPath string) error {
	k := w.hive.Lookup(cs, `Control\Windows`)
	if k == nil {
		return nil
	}
	v := w.hive.ValueMap(k)["shutdowntime"]
	if v == nil || len(v.Data) != 8 {
		return nil
	}
	ft := filetimeAt(v.Data, 0)
	return w.emitFinding(finding{when: ft, desc: "Last Shutdown", msg: "Windows last shut down",
		key: csPath + `\Control\Windows`, off: v.Offset, dataset: "windows.registry.system", action: "last-shutdown",
		cat: []string{"host"}, typ: []string{"end"}, data: map[string]string{"registry.value": "ShutdownTime"}})
}

var serviceStarts = map[uint64]string{0: "Boot Start", 1: "System Start", 2: "Auto Start", 3: "Manual", 4: "Disabled"}

var serviceTypes = map[uint64]string{
	0x001: "Kernel driver", 0x002: "File system driver", 0x004: "Adapter", 0x008: "Recognizer driver",
	0x010: "Own process", 0x020: "Share process", 0x050: "User own process", 0x060: "User share process",
	0x110: "Own process, interactive", 0x120: "Share process, interactive",
}

func (w *walker) services(cs *Key, csPath string) error {
	sk := w.hive.Lookup(cs, "Services")
	if sk == nil {
		return nil
	}
	for _, s := range w.subkeys(sk) {
		m := w.hive.ValueMap(s)
		image := valStr(m, "ImagePath")
		typ, hasType := valUint(m, "Type")
		if image == "" && !hasType {
			continue // a parameters-only key (Tcpip, …): not a service entry
		}
		start, hasStart := valUint(m, "Start")
		startName, typeName := serviceStarts[start], serviceTypes[typ]
		if startName == "" && hasStart {
			startName = strconv.FormatUint(start, 10)
		}
		if typeName == "" && hasType {
			typeName = fmt.Sprintf("0x%x", typ)
		}
		msg := fmt.Sprintf("Service %s", s.Name)
		if d := valStr(m, "DisplayName"); d != "" {
			msg += " (" + d + ")"
		}
		msg += ": " + image + ", start " + startName + ", type " + typeName
		f := finding{when: s.Written, desc: TimestampDesc, msg: msg, key: csPath + `\Services\` + s.Name, off: s.Offset,
			dataset: "windows.registry.system", action: "service", cat: []string{"configuration"}, typ: []string{"info"},
			data: map[string]string{"registry.service_name": s.Name, "registry.service_start": startName,
				"registry.service_type": typeName, "registry.service_account": valStr(m, "ObjectName"),
				"registry.display_name": valStr(m, "DisplayName")}}
		if image != "" {
			f.process = &timeline.Process{Executable: image, Name: baseName(image)}
		}
		if err := w.emitFinding(f); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) interfaces(cs *Key, csPath string) error {
	const p = `Services\Tcpip\Parameters\Interfaces`
	ik := w.hive.Lookup(cs, p)
	if ik == nil {
		return nil
	}
	for _, s := range w.subkeys(ik) {
		m := w.hive.ValueMap(s)
		ip := valStr(m, "DhcpIPAddress")
		if ip == "" || ip == "0.0.0.0" {
			ip = strings.TrimSpace(strings.Split(valStr(m, "IPAddress"), ";")[0])
		}
		if ip == "" || ip == "0.0.0.0" || !ipValid(ip) {
			continue
		}
		data := map[string]string{"registry.ip": ip, "registry.dhcp_server": valStr(m, "DhcpServer"),
			"registry.domain":  firstNonEmpty(valStr(m, "DhcpDomain"), valStr(m, "Domain")),
			"registry.gateway": firstNonEmpty(valStr(m, "DhcpDefaultGateway"), valStr(m, "DefaultGateway"))}
		key := csPath + `\` + p + `\` + s.Name
		msg := fmt.Sprintf("Network interface %s: %s", s.Name, ip)
		if d := data["registry.dhcp_server"]; d != "" {
			msg += ", DHCP server " + d
		}
		if err := w.emitFinding(finding{when: s.Written, desc: TimestampDesc, msg: msg, key: key, off: s.Offset,
			dataset: "windows.registry.system", action: "network-interface", cat: []string{"network", "host"}, data: data}); err != nil {
			return err
		}
		for _, t := range []struct{ name, desc, action string }{
			{"LeaseObtainedTime", "DHCP Lease Obtained", "dhcp-lease-obtained"},
			{"LeaseTerminatesTime", "DHCP Lease Expires", "dhcp-lease-expires"},
		} {
			v := m[strings.ToLower(t.name)]
			if v == nil {
				continue
			}
			sec, ok := v.Uint()
			if !ok || sec == 0 || sec >= 0xffffffff {
				continue
			}
			if err := w.emitFinding(finding{when: fromUnix(int64(sec)), desc: t.desc, msg: fmt.Sprintf("%s %s: %s", t.desc, s.Name, msg),
				key: key, off: v.Offset, dataset: "windows.registry.system", action: t.action, cat: []string{"network", "host"}, data: data}); err != nil {
				return err
			}
		}
	}
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" && x != "0.0.0.0" {
			return x
		}
	}
	return ""
}

// mountedDevices reports MountedDevices: each drive letter and volume GUID
// with what it was mapped to (an MBR disk signature and offset, a GPT
// partition GUID, or a device path such as a USB stick's).
func (w *walker) mountedDevices(root *Key) error {
	k := w.hive.Lookup(root, "MountedDevices")
	if k == nil {
		return nil
	}
	vals, _ := w.hive.Values(k)
	for _, v := range vals {
		target := mountTarget(v.Data)
		if err := w.emitFinding(finding{when: k.Written, desc: TimestampDesc, msg: fmt.Sprintf("Mounted device %s → %s", v.Name, target),
			key: `\MountedDevices`, off: v.Offset, dataset: "windows.registry.system", action: "mounted-device",
			cat: []string{"host"}, data: map[string]string{"registry.value": v.Name, "registry.mount_target": target}}); err != nil {
			return err
		}
	}
	return nil
}

func mountTarget(d []byte) string {
	switch {
	case len(d) == 12:
		return fmt.Sprintf("MBR disk signature %08x, partition offset %d", binary.LittleEndian.Uint32(d), binary.LittleEndian.Uint64(d[4:]))
	case len(d) == 24 && string(d[:8]) == "DMIO:ID:":
		return "GPT partition " + guid(d[8:])
	case len(d) >= 4 && len(d)%2 == 0 && d[1] == 0:
		return utf16String(d)
	}
	return fmt.Sprintf("%x", d)
}

// guid formats a little-endian GUID.
func guid(b []byte) string {
	if len(b) < 16 {
		return ""
	}
	le := binary.LittleEndian
	return fmt.Sprintf("{%08X-%04X-%04X-%X-%X}", le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8:10], b[10:16])
}

// Device property keys (DEVPKEY_Device_*) under Properties\{83da6326-…}.
const devPropGUID = `{83da6326-97a6-4088-9453-a1923f573b29}`

// usbDevices reports the USB storage (USBSTOR), USB and SWD (portable
// device) history: one event per time the device's properties keep.
func (w *walker) usbDevices(cs *Key, csPath string) error {
	for _, bus := range []string{"USBSTOR", "USB", "SWD"} {
		bk := w.hive.Lookup(cs, `Enum\`+bus)
		if bk == nil {
			continue
		}
		for _, dev := range w.subkeys(bk) {
			// SWD has a level of enumerators (WPDBUSENUM, …) above devices
			// whose instance names are the device ids; USB and USBSTOR
			// have device ids then instances.
			for _, inst := range w.subkeys(dev) {
				id := bus + `\` + dev.Name + `\` + inst.Name
				if err := w.usbInstance(inst, id, bus, dev.Name, inst.Name, csPath+`\Enum\`+id); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (w *walker) usbInstance(k *Key, id, bus, dev, inst, keyPath string) error {
	m := w.hive.ValueMap(k)
	name := valStr(m, "FriendlyName")
	if name == "" {
		name = valStr(m, "DeviceDesc")
		if i := strings.LastIndexByte(name, ';'); i >= 0 && strings.HasPrefix(name, "@") {
			name = name[i+1:]
		}
	}
	vendor, product, serial := deviceIDs(bus, dev, inst)
	props := w.hive.Lookup(k, `Properties\`+devPropGUID)
	if props == nil {
		return nil
	}
	for _, t := range []struct{ prop, desc, action, typ, verb string }{
		{"0064", "First Connected", "usb-device-first-connected", "info", "first connected (installed)"},
		{"0066", "Last Connected", "usb-device-last-connected", "start", "last connected"},
		{"0067", "Last Removed", "usb-device-last-removed", "end", "last removed"},
	} {
		pk := w.hive.Lookup(props, t.prop)
		if pk == nil {
			continue
		}
		v := devProp(w.hive, pk)
		if v == nil || len(v.Data) != 8 {
			continue
		}
		ft := filetimeAt(v.Data, 0)
		if !set(ft) {
			continue
		}
		label := name
		if label == "" {
			label = strings.TrimSpace(vendor + " " + product)
		}
		msg := fmt.Sprintf("USB device %s %s: %s, serial %s", label, t.verb, id, serial)
		if err := w.emitFinding(finding{when: ft, desc: t.desc, msg: msg, key: keyPath + `\Properties\` + devPropGUID + `\` + t.prop,
			off: v.Offset, dataset: "windows.registry.usb", action: t.action, cat: []string{"host"}, typ: []string{t.typ},
			data: map[string]string{"device.id": id, "device.serial": serial, "device.name": name,
				"device.vendor": vendor, "device.product": product, "registry.bus": bus}}); err != nil {
			return err
		}
	}
	return nil
}

// devProp reads a device property: the key's default value (Windows 8
// and later), or the Data value of its 00000000 subkey (Vista and 7).
func devProp(h *Hive, pk *Key) *Value {
	vals, _ := h.Values(pk)
	for _, x := range vals {
		if x.Name == "" {
			return x
		}
	}
	if sub := h.Lookup(pk, "00000000"); sub != nil {
		return h.ValueMap(sub)["data"]
	}
	return nil
}

// deviceIDs splits a device id: "Disk&Ven_SanDisk&Prod_Cruzer&Rev_1.00"
// (USBSTOR), "VID_0781&PID_5567" (USB), an SWD id. The serial is the
// instance name, less the "&0" Windows appends to a real serial number;
// a name whose second character is "&" is made up by Windows (the device
// gave none) and is kept whole.
func deviceIDs(bus, dev, inst string) (vendor, product, serial string) {
	for _, part := range strings.Split(dev, "&") {
		k, v, ok := strings.Cut(part, "_")
		if !ok {
			continue
		}
		switch strings.ToLower(k) {
		case "ven", "vid":
			vendor = v
		case "prod", "pid":
			product = v
		}
	}
	serial = inst
	if len(inst) > 2 && inst[1] != '&' {
		if i := strings.LastIndexByte(inst, '&'); i > 0 && isDigits(inst[i+1:]) {
			serial = inst[:i]
		}
	}
	if bus == "SWD" {
		// SWD\WPDBUSENUM\_??_USBSTOR#Disk&Ven_…#SERIAL#{…}: the USB
		// storage device behind the portable-device entry.
		if parts := strings.Split(inst, "#"); len(parts) >= 3 && strings.Contains(strings.ToUpper(parts[0]), "USBSTOR") {
			v, p, _ := deviceIDs("USBSTOR", parts[1], "")
			vendor, product = v, p
			serial = parts[2]
			if i := strings.LastIndexByte(serial, '&'); i > 0 && len(serial) > 2 && serial[1] != '&' && isDigits(serial[i+1:]) {
				serial = serial[:i]
			}
		}
	}
	return vendor, product, serial
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

// ipValid keeps a value that parses as an address.
func ipValid(s string) bool { _, err := netip.ParseAddr(s); return err == nil }
