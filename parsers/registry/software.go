package registry

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/timeline"
)

// software decodes a SOFTWARE hive: Windows version and install date,
// installed programs, network profiles, Run and RunOnce.
func (w *walker) software(root *Key) error {
	for _, f := range []func(*Key) error{w.winVersion, w.uninstall, w.networkList} {
		if err := f(root); err != nil {
			return err
		}
	}
	for _, p := range []string{
		`Microsoft\Windows\CurrentVersion\Run`, `Microsoft\Windows\CurrentVersion\RunOnce`,
		`Wow6432Node\Microsoft\Windows\CurrentVersion\Run`, `Wow6432Node\Microsoft\Windows\CurrentVersion\RunOnce`,
		`Microsoft\Windows\CurrentVersion\Policies\Explorer\Run`,
	} {
		if err := w.runKey(root, p); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) winVersion(root *Key) error {
	const p = `Microsoft\Windows NT\CurrentVersion`
	k := w.hive.Lookup(root, p)
	if k == nil {
		return nil
	}
	m := w.hive.ValueMap(k)
	product := valStr(m, "ProductName")
	build := valStr(m, "CurrentBuild")
	if b := valStr(m, "CurrentBuildNumber"); build == "" {
		build = b
	}
	release := firstNonEmpty(valStr(m, "DisplayVersion"), valStr(m, "ReleaseId"), valStr(m, "CSDVersion"))
	desc := strings.TrimSpace(fmt.Sprintf("%s %s build %s", product, release, build))
	data := map[string]string{"registry.product": product, "registry.build": build, "registry.version": release,
		"registry.owner": valStr(m, "RegisteredOwner")}
	f := finding{when: k.Written, desc: TimestampDesc, msg: "Windows version: " + desc, key: `\` + p, off: k.Offset,
		dataset: "windows.registry.software", action: "windows-version", cat: []string{"host"}, data: data}
	if err := w.emitFinding(f); err != nil {
		return err
	}
	// InstallTime (FILETIME, Windows 10) is finer than InstallDate (Unix
	// seconds); both are the last install or feature upgrade.
	var ft ntfs.Filetime
	off := k.Offset
	if v := m["installtime"]; v != nil {
		if n, ok := v.Uint(); ok && len(v.Data) == 8 {
			ft, off = ntfs.Filetime(n), v.Offset
		}
	}
	if !set(ft) {
		if v := m["installdate"]; v != nil {
			if n, ok := v.Uint(); ok && n > 0 {
				ft, off = fromUnix(int64(n)), v.Offset
			}
		}
	}
	if !set(ft) {
		return nil
	}
	return w.emitFinding(finding{when: ft, desc: "Install Date", msg: "Windows installed: " + desc, key: `\` + p, off: off,
		dataset: "windows.registry.software", action: "windows-installed", cat: []string{"host"}, typ: []string{"installation"}, data: data})
}

// uninstall reports each installed program (Uninstall keys, 64- and
// 32-bit views): one event at the key's last write, and one at its
// InstallDate, a day without a time or zone, read in the case zone.
func (w *walker) uninstall(root *Key) error {
	for _, p := range []string{`Microsoft\Windows\CurrentVersion\Uninstall`, `Wow6432Node\Microsoft\Windows\CurrentVersion\Uninstall`} {
		uk := w.hive.Lookup(root, p)
		if uk == nil {
			continue
		}
		for _, s := range w.subkeys(uk) {
			m := w.hive.ValueMap(s)
			name := valStr(m, "DisplayName")
			if name == "" {
				name = s.Name
			}
			data := map[string]string{"registry.display_name": name, "registry.version": valStr(m, "DisplayVersion"),
				"registry.publisher": valStr(m, "Publisher"), "registry.install_date": valStr(m, "InstallDate"),
				"registry.install_location": valStr(m, "InstallLocation")}
			msg := "Installed program: " + name
			if v := data["registry.version"]; v != "" {
				msg += " " + v
			}
			if p := data["registry.publisher"]; p != "" {
				msg += " (" + p + ")"
			}
			key := `\` + p + `\` + s.Name
			if err := w.emitFinding(finding{when: s.Written, desc: TimestampDesc, msg: msg, key: key, off: s.Offset,
				dataset: "windows.registry.software", action: "installed-program", cat: []string{"package"}, typ: []string{"info"}, data: data}); err != nil {
				return err
			}
			d, err := time.ParseInLocation("20060102", data["registry.install_date"], w.zone())
			if err != nil {
				continue
			}
			f := finding{when: fromTime(d), desc: "Install Date", msg: msg + " (install date, no time of day)", key: key,
				off: m["installdate"].Offset, dataset: "windows.registry.software", action: "program-installed",
				cat: []string{"package"}, typ: []string{"installation"}, data: data}
			if err := w.emitZoned(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// zone is the case zone, UTC when unset.
func (w *walker) zone() *time.Location {
	if w.src.Zone != nil {
		return w.src.Zone
	}
	return time.UTC
}

// emitZoned emits a finding whose time was written without a zone and
// read in the case zone, recording the assumption.
func (w *walker) emitZoned(f finding) error {
	z := w.zone().String()
	return w.emitNote(f, func(ev *timeline.Event) {
		ev.Event.Timezone = z
		if ev.Jejak.Time == nil {
			ev.Jejak.Time = &timeline.TimeNote{}
		}
		ev.Jejak.Time.ZoneAssumed = z
	})
}

// systemTime reads a SYSTEMTIME (16 bytes: year, month, weekday, day,
// hour, minute, second, milliseconds) in loc.
func systemTime(b []byte, loc *time.Location) (time.Time, bool) {
	if len(b) < 16 {
		return time.Time{}, false
	}
	u := func(i int) int { return int(binary.LittleEndian.Uint16(b[i*2:])) }
	y, mo, d := u(0), u(1), u(3)
	if y < 1601 || mo < 1 || mo > 12 || d < 1 || d > 31 || u(4) > 23 || u(5) > 59 || u(6) > 59 {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, u(4), u(5), u(6), u(7)*int(time.Millisecond), loc), true
}

// networkList reports the network profiles: first and last connected
// (SYSTEMTIMEs in local time, read in the case zone), with the gateway
// MAC and DNS suffix of their signatures.
func (w *walker) networkList(root *Key) error {
	const base = `Microsoft\Windows NT\CurrentVersion\NetworkList`
	pk := w.hive.Lookup(root, base+`\Profiles`)
	if pk == nil {
		return nil
	}
	sigs := map[string]map[string]*Value{} // profile GUID (lower) → signature values
	for _, kind := range []string{"Managed", "Unmanaged"} {
		if sk := w.hive.Lookup(root, base+`\Signatures\`+kind); sk != nil {
			for _, s := range w.subkeys(sk) {
				m := w.hive.ValueMap(s)
				sigs[strings.ToLower(valStr(m, "ProfileGuid"))] = m
			}
		}
	}
	for _, s := range w.subkeys(pk) {
		m := w.hive.ValueMap(s)
		name := valStr(m, "ProfileName")
		data := map[string]string{"registry.profile_name": name, "registry.description": valStr(m, "Description")}
		if sig := sigs[strings.ToLower(s.Name)]; sig != nil {
			if v := sig["defaultgatewaymac"]; v != nil && len(v.Data) == 6 {
				data["registry.gateway_mac"] = fmt.Sprintf("%02X-%02X-%02X-%02X-%02X-%02X", v.Data[0], v.Data[1], v.Data[2], v.Data[3], v.Data[4], v.Data[5])
			}
			data["registry.dns_suffix"] = valStr(sig, "DnsSuffix")
		}
		for _, t := range []struct{ value, desc, action string }{
			{"DateCreated", "First Connected", "network-first-connected"},
			{"DateLastConnected", "Last Connected", "network-last-connected"},
		} {
			v := m[strings.ToLower(t.value)]
			if v == nil {
				continue
			}
			tm, ok := systemTime(v.Data, w.zone())
			if !ok {
				w.warn(v.Offset, fmt.Errorf("%w: %s\\%s: %s is not a SYSTEMTIME", ErrBadCell, base, s.Name, t.value))
				continue
			}
			msg := fmt.Sprintf("Network %s %s", name, strings.ToLower(t.desc))
			if g := data["registry.gateway_mac"]; g != "" {
				msg += ", gateway MAC " + g
			}
			if err := w.emitZoned(finding{when: fromTime(tm), desc: t.desc, msg: msg, key: `\` + base + `\Profiles\` + s.Name,
				off: v.Offset, dataset: "windows.registry.software", action: t.action, cat: []string{"network"}, data: data}); err != nil {
				return err
			}
		}
	}
	return nil
}

// runKey reports each autostart entry of a Run or RunOnce key at the
// key's last write.
func (w *walker) runKey(root *Key, p string) error {
	k := w.hive.Lookup(root, p)
	if k == nil {
		return nil
	}
	vals, _ := w.hive.Values(k)
	for _, v := range vals {
		cmd := v.String()
		if err := w.emitFinding(finding{when: k.Written, desc: TimestampDesc, msg: fmt.Sprintf("Autostart %s\\%s: %s", baseName(p), v.Name, cmd),
			key: `\` + p, off: v.Offset, dataset: "windows.registry.autorun", action: "autorun", cat: []string{"configuration"},
			process: &timeline.Process{CommandLine: cmd, Executable: executableOf(cmd)},
			data:    map[string]string{"registry.value": v.Name}}); err != nil {
			return err
		}
	}
	return nil
}

// executableOf takes the program of a command line: the quoted first
// word, or everything up to the first ".exe".
func executableOf(cmd string) string {
	cmd = strings.TrimSpace(cmd)
	if strings.HasPrefix(cmd, `"`) {
		if i := strings.IndexByte(cmd[1:], '"'); i >= 0 {
			return cmd[1 : i+1]
		}
	}
	if i := strings.Index(strings.ToLower(cmd), ".exe"); i >= 0 {
		return cmd[:i+4]
	}
	if i := strings.IndexByte(cmd, ' '); i >= 0 {
		return cmd[:i]
	}
	return cmd
}
