package registry

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/timeline"
)

const explorer = `Software\Microsoft\Windows\CurrentVersion\Explorer`

// ntuser decodes a user's NTUSER.DAT: UserAssist, RecentDocs, RunMRU,
// TypedPaths, the RDP client's servers, MountPoints2, Run keys, and the
// shellbags XP kept there.
func (w *walker) ntuser(root *Key) error {
	steps := []func(*Key) error{w.userAssist, w.recentDocs, w.runMRU, w.typedPaths, w.rdpServers, w.mountPoints2}
	for _, f := range steps {
		if err := f(root); err != nil {
			return err
		}
	}
	for _, p := range []string{`Software\Microsoft\Windows\CurrentVersion\Run`, `Software\Microsoft\Windows\CurrentVersion\RunOnce`} {
		if err := w.runKey(root, p); err != nil {
			return err
		}
	}
	for _, p := range []string{`Software\Microsoft\Windows\Shell\BagMRU`, `Software\Microsoft\Windows\ShellNoRoam\BagMRU`} {
		if k := w.hive.Lookup(root, p); k != nil {
			if err := w.bagMRU(k, `\`+p, "", 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// rot13 undoes UserAssist's name scrambling.
func rot13(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		}
		return r
	}, s)
}

// UserAssistEntry is one decoded UserAssist value.
type UserAssistEntry struct {
	Name    string
	Count   uint32
	Focus   uint32 // focus count (Windows 7 and later)
	LastRun ntfs.Filetime
}

// DecodeUserAssist decodes a UserAssist value: 16 bytes before Windows 7
// (session, run count + 5, last run), 72 bytes since (run count at 4,
// focus count at 8, last run at 60). Names are ROT13: all of them since
// Windows 7, those starting "HRZR" before.
func DecodeUserAssist(name string, d []byte) (UserAssistEntry, bool) {
	le := binary.LittleEndian
	switch len(d) {
	case 16:
		if strings.HasPrefix(name, "HRZR") {
			name = rot13(name)
		}
		c := le.Uint32(d[4:])
		if c > 5 {
			c -= 5
		}
		return UserAssistEntry{Name: name, Count: c, LastRun: ntfs.Filetime(le.Uint64(d[8:]))}, true
	case 72:
		return UserAssistEntry{Name: rot13(name), Count: le.Uint32(d[4:]), Focus: le.Uint32(d[8:]), LastRun: ntfs.Filetime(le.Uint64(d[60:]))}, true
	}
	return UserAssistEntry{}, false
}

// userAssist emits each program run from the shell with its last run
// time and count; an entry without a time is in the key's own event.
func (w *walker) userAssist(root *Key) error {
	const p = explorer + `\UserAssist`
	uk := w.hive.Lookup(root, p)
	if uk == nil {
		return nil
	}
	for _, g := range w.subkeys(uk) {
		ck := w.hive.Lookup(g, "Count")
		if ck == nil {
			continue
		}
		vals, _ := w.hive.Values(ck)
		for _, v := range vals {
			e, ok := DecodeUserAssist(v.Name, v.Data)
			if !ok || !set(e.LastRun) || (len(v.Data) == 16 && e.LastRun>>32 == 0) {
				continue
			}
			msg := fmt.Sprintf("UserAssist: %s run %d times, last", e.Name, e.Count)
			if err := w.emitFinding(finding{when: e.LastRun, desc: "Last Run", msg: msg, key: `\` + p + `\` + g.Name + `\Count`,
				off: v.Offset, dataset: "windows.registry.userassist", action: "userassist", cat: []string{"process"}, typ: []string{"start"},
				process: &timeline.Process{Executable: e.Name, Name: baseName(e.Name)},
				data:    map[string]string{"registry.run_count": strconv.Itoa(int(e.Count)), "registry.focus_count": strconv.Itoa(int(e.Focus)), "registry.value": v.Name}}); err != nil {
				return err
			}
		}
	}
	return nil
}

// mruOrder returns a key's values in MRU order (MRUListEx: uint32
// indexes ending in 0xffffffff; MRUList: letters), most recent first.
func (w *walker) mruOrder(k *Key) []*Value {
	vals, _ := w.hive.Values(k)
	byName := map[string]*Value{}
	for _, v := range vals {
		byName[strings.ToLower(v.Name)] = v
	}
	var out []*Value
	if l := byName["mrulistex"]; l != nil {
		for i := 0; i+4 <= len(l.Data); i += 4 {
			n := binary.LittleEndian.Uint32(l.Data[i:])
			if n == 0xffffffff {
				break
			}
			if v := byName[strconv.Itoa(int(n))]; v != nil {
				out = append(out, v)
			}
		}
		return out
	}
	if l := byName["mrulist"]; l != nil {
		for _, c := range strings.ToLower(l.String()) {
			if v := byName[string(c)]; v != nil {
				out = append(out, v)
			}
		}
	}
	return out
}

// mruEvent emits one event for an MRU key: its entries in order, the
// first being what the key's last write time is about.
func (w *walker) mruEvent(k *Key, key, what, action string, entries []string, off int64) error {
	if len(entries) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%s, most recent first: %s", what, strings.Join(entries, " | "))
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + "…"
	}
	return w.emitFinding(finding{when: k.Written, desc: TimestampDesc, msg: msg, key: key, off: off,
		dataset: "windows.registry.mru", action: action, cat: []string{"file"},
		data: map[string]string{"registry.mru_first": entries[0], "registry.mru_count": strconv.Itoa(len(entries))}})
}

// recentDocs reports RecentDocs and its per-extension subkeys: each value
// is a UTF-16 file name followed by a shell item.
func (w *walker) recentDocs(root *Key) error {
	const p = explorer + `\RecentDocs`
	rk := w.hive.Lookup(root, p)
	if rk == nil {
		return nil
	}
	keys := append([]*Key{rk}, w.subkeys(rk)...)
	for i, k := range keys {
		key := `\` + p
		if i > 0 {
			key += `\` + k.Name
		}
		var names []string
		for _, v := range w.mruOrder(k) {
			names = append(names, utf16String(v.Data))
		}
		if err := w.mruEvent(k, key, "RecentDocs "+k.Name, "recent-docs", names, k.Offset); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) runMRU(root *Key) error {
	const p = explorer + `\RunMRU`
	k := w.hive.Lookup(root, p)
	if k == nil {
		return nil
	}
	var cmds []string
	for _, v := range w.mruOrder(k) {
		cmds = append(cmds, strings.TrimSuffix(v.String(), `\1`))
	}
	return w.mruEvent(k, `\`+p, "RunMRU (Run dialog)", "run-mru", cmds, k.Offset)
}

func (w *walker) typedPaths(root *Key) error {
	const p = explorer + `\TypedPaths`
	k := w.hive.Lookup(root, p)
	if k == nil {
		return nil
	}
	m := w.hive.ValueMap(k)
	var paths []string
	for i := 1; ; i++ {
		v := m["url"+strconv.Itoa(i)]
		if v == nil {
			break
		}
		paths = append(paths, v.String())
	}
	return w.mruEvent(k, `\`+p, "TypedPaths (Explorer address bar)", "typed-paths", paths, k.Offset)
}

// rdpServers reports the RDP client's servers (Terminal Server Client
// \Servers, one key per server with the user name hint) and its Default
// MRU list.
func (w *walker) rdpServers(root *Key) error {
	const p = `Software\Microsoft\Terminal Server Client`
	if sk := w.hive.Lookup(root, p+`\Servers`); sk != nil {
		for _, s := range w.subkeys(sk) {
			hint := valStr(w.hive.ValueMap(s), "UsernameHint")
			msg := "RDP client connected to " + s.Name
			var user *timeline.User
			if hint != "" {
				msg += " as " + hint
				user = &timeline.User{Name: hint}
				if d, u, ok := strings.Cut(hint, `\`); ok {
					user = &timeline.User{Name: u, Domain: d}
				}
			}
			f := finding{when: s.Written, desc: TimestampDesc, msg: msg, key: `\` + p + `\Servers\` + s.Name, off: s.Offset,
				dataset: "windows.registry.rdp", action: "rdp-client-server", cat: []string{"network", "session"}, typ: []string{"connection"},
				user: user, data: map[string]string{"registry.server": s.Name, "registry.username_hint": hint}}
			if err := w.emitNote(f, func(ev *timeline.Event) { ev.Destination = &timeline.Endpoint{Address: s.Name} }); err != nil {
				return err
			}
		}
	}
	if dk := w.hive.Lookup(root, p+`\Default`); dk != nil {
		m := w.hive.ValueMap(dk)
		var servers []string
		for i := 0; i < 10; i++ {
			if v := m["mru"+strconv.Itoa(i)]; v != nil {
				servers = append(servers, v.String())
			}
		}
		return w.mruEvent(dk, `\`+p+`\Default`, "RDP client MRU", "rdp-client-mru", servers, dk.Offset)
	}
	return nil
}

// mountPoints2 reports each volume and network share the user's Explorer
// mounted (MountPoints2 subkeys: volume GUIDs, "##server#share").
func (w *walker) mountPoints2(root *Key) error {
	const p = explorer + `\MountPoints2`
	k := w.hive.Lookup(root, p)
	if k == nil {
		return nil
	}
	for _, s := range w.subkeys(k) {
		kind := "volume"
		target := s.Name
		switch {
		case strings.HasPrefix(s.Name, "##"):
			kind, target = "network share", strings.ReplaceAll(s.Name, "#", `\`)
		case len(s.Name) <= 2:
			kind = "drive"
		}
		if err := w.emitFinding(finding{when: s.Written, desc: TimestampDesc, msg: fmt.Sprintf("MountPoints2 %s %s", kind, target),
			key: `\` + p + `\` + s.Name, off: s.Offset, dataset: "windows.registry.mountpoints2", action: "mountpoint",
			cat: []string{"host"}, data: map[string]string{"registry.mount_target": target, "registry.mount_kind": kind}}); err != nil {
			return err
		}
	}
	return nil
}
